"""bench/unseen2_docs.sh: a failed fetch says why in one line and leaves the folder as it was."""
import gzip
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "bench" / "unseen2_docs.sh"


def _tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _stand_ins(bin_dir: Path, apt: str, pip: str) -> None:
    """apt-get, dpkg-deb and python3 (pip) as the script calls them: each fetches look-alike files, or fails."""
    bin_dir.mkdir()
    doc = "usr/share/doc/"
    _tar(bin_dir / "flex-doc_2.6.4-8.2_all.deb", {doc + "flex-doc/flex.pdf.gz": gzip.compress(b"%PDF-1.5 other")})
    _tar(bin_dir / "glpk-doc_5.0-1_all.deb", {doc + "glpk-doc/gmpl.pdf": b"%PDF-1.5 g", doc + "glpk-doc/cnfsat.pdf": b"c"})
    _tar(bin_dir / "python_dotenv-1.2.4.tar.gz", {"python_dotenv-1.2.4/README.md": b"# other",
                                                   "python_dotenv-1.2.4/CHANGELOG.md": b"# other"})
    fetch = {"apt": f'cp "{bin_dir}"/*.deb .', "pip": f'cp "{bin_dir}"/python_dotenv-1.2.4.tar.gz .'}
    _script(bin_dir / "apt-get", apt if apt != "works" else fetch["apt"])
    _script(bin_dir / "python3", pip if pip != "works" else fetch["pip"])
    _script(bin_dir / "dpkg-deb", 'mkdir -p "$3" && tar xzf "$2" -C "$3"')


@pytest.mark.parametrize("apt, pip, says", [
    ("echo \"E: Version '2.6.4-8.2' for 'flex-doc' was not found\" >&2; exit 100", "works",
     "error: apt-get download flex-doc=2.6.4-8.2 glpk-doc=5.0-1 failed (E: Version '2.6.4-8.2' for 'flex-doc'"),
    ("works", "echo 'ERROR: No matching distribution found for python-dotenv==1.2.4' >&2; exit 1",
     "error: pip download python-dotenv==1.2.4 failed (ERROR: No matching distribution found"),
    ("works", "works", "error: cnfsat.pdf: FAILED: not the version the set was written from; nothing was put in"),
])
def test_a_failed_fetch_says_why_in_one_line_and_leaves_the_folder_as_it_was(tmp_path, apt, pip, says):
    _stand_ins(tmp_path / "bin", apt, pip)
    folder = tmp_path / "my docs"  # a space in its name, and a file of the user's already in it
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(SCRIPT), str(folder)], capture_output=True, text=True, env=env, timeout=60)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # no unchecked document, no staging folder
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(says), done.stderr
