"""A library this process may only read: a shared one owned by someone else, or one on a read-only disk."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import HashEmbedder, put

from index import schema, store
from index.search import search
from index.store import Library, LibraryError

EMB = HashEmbedder()
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A library of one document whose folder and files no one may write (chmod a-w), closed."""
    root = tmp_path / "lib"
    with Library.writing(root, create=True) as lib:
        put(lib, "/pump.txt", "aaaa", ["The pump runs at 300 rpm."], "Pump")
    for path in (*root.iterdir(), root):
        path.chmod(path.stat().st_mode & ~0o222)
    if os.access(root, os.W_OK):  # root: chmod stops none of its writes, so it is told the folder is read-only
        monkeypatch.setattr(schema, "writable", lambda db: False)
        monkeypatch.setattr(store, "writable", lambda db: False)
    yield root
    root.chmod(0o700)


def test_a_library_one_may_not_write_is_read_and_every_change_is_one_line(shared):
    with Library.open(shared) as lib:
        assert lib.read_only
        assert [(d.title, d.paths) for d in lib.documents()] == [("Pump", ("/pump.txt",))]
        assert search(lib, EMB, "pump rpm", k=1, mode="hybrid")[0].doc_title == "Pump"
        with pytest.raises(LibraryError, match=f"library {shared} is read-only here"):
            lib.accounts.add("ann", "a long enough password")
        with pytest.raises(LibraryError, match="is read-only here"):
            lib.audit._conn.execute("INSERT INTO meta VALUES ('x', 'y')")
    with pytest.raises(LibraryError, match=f"library {shared} is read-only here"):
        with Library.writing(shared, create=True):
            pass


def test_no_library_is_made_in_a_folder_one_may_not_write(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir(mode=0o555)
    if os.access(tmp_path / "empty", os.W_OK):  # root: as in the fixture above
        monkeypatch.setattr(store, "writable", lambda db: False)
    with pytest.raises(LibraryError, match="cannot make a library in .*empty: the folder is read-only"):
        Library.open(tmp_path / "empty", create=True)


@pytest.mark.skipif(not shutil.which("unshare") or os.geteuid() != 0, reason="a read-only mount needs root")
def test_a_library_on_a_read_only_mount_is_read_and_ingest_says_read_only(tmp_path):
    """The user's case: the folder bind-mounted read-only, where even root cannot make the -shm file."""
    root = tmp_path / "lib"
    with Library.writing(root, create=True) as lib:
        put(lib, "/pump.txt", "aaaa", ["The pump runs at 300 rpm."], "Pump")
    cli = f"{sys.executable} -m app.cli"
    script = (f"mount --bind {root} {root} && mount -o remount,ro,bind {root} {root} || exit 99; "
              f"{cli} docs --json --library {root}; echo rc=$?; {cli} ingest {tmp_path} --library {root}")
    run = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=REPO, capture_output=True, text=True)
    if run.returncode == 99:
        pytest.skip(f"no mount namespace here: {run.stderr.strip()}")
    docs = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [d["title"] for d in docs] == ["Pump"] and "rc=0" in run.stdout
    assert run.returncode == 2 and run.stderr == (f"error: library {root} is read-only here (its folder or database "
                                                  f"may not be written); ask its owner, or use a library of your "
                                                  f"own with --library DIR\n")
