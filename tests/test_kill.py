"""kill -9, Ctrl-C or SIGTERM in the middle of an ingest: the library stays consistent and the next run completes it."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pdfs import FILES, write_reports

from index.store import Library

ROOT = Path(__file__).resolve().parents[1]


def start_ingest(docs: Path, lib: Path, session: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "ingest", str(docs), "--library", str(lib), "--json"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=session)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_to_the_group_mid_ingest_says_one_line_and_keeps_what_was_written(tmp_path, stop):
    docs = write_reports(tmp_path / "docs")
    lib = tmp_path / "lib"
    proc = start_ingest(docs, lib, session=True)  # a group of its own, the parser worker in it, as in a terminal
    committed = [json.loads(proc.stdout.readline()) for _ in range(2)]
    os.killpg(proc.pid, stop)  # what a terminal's Ctrl-C does: the whole group gets it
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("interrupted; what was committed stays in the library")
    with Library.open(lib) as library:
        kept = {p for d in library.documents() for p in d.paths}
        assert {r["path"] for r in committed} <= kept
        assert library.vectors.ntotal == library.count("chunks")


def test_kill_9_mid_ingest_then_resume(tmp_path):
    docs = write_reports(tmp_path / "docs")
    lib = tmp_path / "lib"
    proc = start_ingest(docs, lib)
    committed = []
    deadline = time.monotonic() + 180
    while len(committed) < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        committed.append(json.loads(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(committed) == 3, proc.stderr.read()
    assert all(r["status"] == "added" for r in committed)

    db = sqlite3.connect(lib / "library.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Library.open(lib) as library:
        docs_now = library.documents()
        assert 3 <= len(docs_now) < FILES
        assert {str(docs / Path(r["path"]).name) for r in committed} <= {p for d in docs_now for p in d.paths}
        assert sum(d.chunks for d in docs_now) == library.count("chunks")  # no half-written document
        assert library.vectors.ntotal == library.count("chunks")

    found = subprocess.run([sys.executable, "-m", "app.cli", "search", "topic1 measurement", "--library", str(lib),
                            "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert found.returncode == 0 and json.loads(found.stdout.splitlines()[0])["page"] >= 1

    rerun = start_ingest(docs, lib)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    statuses = [json.loads(x)["status"] for x in out.splitlines()]
    assert len(statuses) == FILES
    assert statuses.count("unchanged") == len(docs_now) and statuses.count("added") == FILES - len(docs_now)
    with Library.open(lib) as library:
        assert len(library.documents()) == FILES
        assert library.vectors.ntotal == library.count("chunks")
