"""The Ray engine ingests exactly what the local engine does, resumes after a kill, and reports its job."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import fakes  # noqa: E402
from fakes import HashEmbedder  # noqa: E402
from pdfs import FILES, write_pdf, write_reports, write_small_corpus  # noqa: E402

from index.store import Library  # noqa: E402
from ingest.pipeline import IngestOptions, ingest  # noqa: E402
from ingest.ray_engine import ingest_ray  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

OPTS = IngestOptions(max_tokens=40, overlap=8, batch_chunks=8)
MAKE = partial(HashEmbedder, dim=64, max_tokens=40)


@pytest.fixture(scope="module")
def cluster():
    from ray import cloudpickle
    cloudpickle.register_pickle_by_value(fakes)  # Ray workers cannot import the tests folder
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=2**28, log_to_driver=False)
    yield
    ray.shutdown()


def corpus(docs: Path) -> Path:
    write_small_corpus(docs)
    write_pdf(docs / "long.pdf", [f"Section {p}. " + f"the valve pressure reading {p} stays stable. " * 30
                                  for p in range(1, 5)], title="Long")
    (docs / "copy.md").write_text((docs / "faq.md").read_text())  # a twin: stored once
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    return docs


def rows(lib_root: Path):
    db = sqlite3.connect(lib_root / "library.sqlite")
    docs = db.execute("SELECT doc_id, sha256, title, pages, chunks FROM documents ORDER BY doc_id").fetchall()
    chunks = db.execute("SELECT chunk_id, doc_id, page, start, end, text, vector FROM chunks ORDER BY chunk_id").fetchall()
    db.close()
    return docs, chunks


def test_ray_engine_matches_the_local_engine(tmp_path, cluster):
    docs = corpus(tmp_path / "docs")
    with Library.writing(tmp_path / "local", create=True) as lib:
        local = {Path(r.path).name: r for r in ingest([docs], lib, MAKE(), OPTS)}
    with Library.writing(tmp_path / "ray", create=True) as lib:
        remote = {Path(r.path).name: r for r in ingest_ray([docs], lib, MAKE, MAKE().name, OPTS)}
        assert lib.vectors.ntotal == lib.count("chunks")
    assert {k: (r.status, r.pages, r.chunks, r.error) for k, r in remote.items()} == \
           {k: (r.status, r.pages, r.chunks, r.error) for k, r in local.items()}
    assert remote["broken.pdf"].status == "failed" and remote["broken.pdf"].error
    assert bool(remote["copy.md"].duplicate_of) != bool(remote["faq.md"].duplicate_of)  # twins stored once
    (docs_a, chunks_a), (docs_b, chunks_b) = rows(tmp_path / "local"), rows(tmp_path / "ray")
    assert docs_a == docs_b and len(chunks_a) > 5
    assert [c[:6] for c in chunks_a] == [c[:6] for c in chunks_b]
    vec = lambda cs: np.stack([np.frombuffer(c[6], np.float32) for c in cs])  # noqa: E731
    np.testing.assert_allclose(vec(chunks_a), vec(chunks_b), atol=1e-6)


def test_rerun_is_unchanged_and_a_changed_file_is_updated(tmp_path, cluster):
    docs = corpus(tmp_path / "docs")
    with Library.writing(tmp_path / "lib", create=True) as lib:
        list(ingest_ray([docs], lib, MAKE, MAKE().name, OPTS))
        again = {Path(r.path).name: r.status for r in ingest_ray([docs], lib, MAKE, MAKE().name, OPTS)}
        assert set(again.values()) == {"unchanged", "failed"} and again["broken.pdf"] == "failed"
        (docs / "faq.md").write_text("# FAQ\n\nThe warranty of the pump lasts five years now.\n")
        third = {Path(r.path).name: r.status for r in ingest_ray([docs], lib, MAKE, MAKE().name, OPTS)}
        assert third["faq.md"] == "updated" and third["stats.pdf"] == "unchanged"
        assert lib.vectors.ntotal == lib.count("chunks")


def start_ray_ingest(docs: Path, lib: Path, report: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "app.cli", "ingest", str(docs), "--library", str(lib), "--json",
                             "--engine", "ray", "--report", str(report)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


@pytest.mark.integration
def test_kill_9_mid_ray_ingest_then_resume(tmp_path):
    docs = write_reports(tmp_path / "docs")
    lib, report = tmp_path / "lib", tmp_path / "report.json"
    proc = start_ray_ingest(docs, lib, report)
    committed = [json.loads(proc.stdout.readline()) for _ in range(3)]
    os.kill(proc.pid, signal.SIGKILL)  # the driver, i.e. the library's one writer
    proc.wait(timeout=30)
    assert all(r["status"] == "added" for r in committed), proc.stderr.read()
    with Library.open(lib) as library:
        done = len(library.documents())
        assert 3 <= done < FILES
        assert sum(d.chunks for d in library.documents()) == library.count("chunks")
        assert library.vectors.ntotal == library.count("chunks")

    rerun = start_ray_ingest(docs, lib, report)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    statuses = [json.loads(x)["status"] for x in out.splitlines()]
    assert statuses.count("unchanged") == done and statuses.count("added") == FILES - done
    summary = json.loads(report.read_text())
    assert (summary["engine"], summary["added"], summary["unchanged"], summary["failed"]) == ("ray", FILES - done, done, 0)
    assert summary["chunks"] > 0 and summary["chunks_per_s"] > 0


@pytest.mark.integration
def test_ray_cli_reports_a_failed_file_and_exits_1(tmp_path):
    docs = corpus(tmp_path / "docs")
    report = tmp_path / "report.json"
    proc = start_ray_ingest(docs, tmp_path / "lib", report)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    assert "Traceback" not in err and not [x for x in err.splitlines() if "WARNING" in x or "INFO" in x]
    summary = json.loads(report.read_text())
    assert (summary["engine"], summary["failed"], summary["added"]) == ("ray", 1, 4)
    assert summary["failures"][0]["path"].endswith("broken.pdf")


@pytest.mark.integration
def test_an_unreachable_ray_address_is_one_line_and_ingests_nothing(tmp_path):
    docs = tmp_path / "docs"
    write_small_corpus(docs)
    proc = subprocess.run([sys.executable, "-m", "app.cli", "ingest", str(docs), "--library", str(tmp_path / "lib"),
                           "--engine", "ray", "--ray-address", "ray://127.0.0.1:1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: cannot reach the Ray cluster at ray://127.0.0.1:1")
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    if (tmp_path / "lib" / "library.sqlite").exists():
        with Library.open(tmp_path / "lib") as library:
            assert library.documents() == []


@pytest.mark.integration
def test_a_ray_worker_killed_mid_job_loses_nothing_and_the_rerun_finishes(tmp_path):
    import psutil
    docs = write_reports(tmp_path / "docs")
    lib, report = tmp_path / "lib", tmp_path / "report.json"
    proc = start_ray_ingest(docs, lib, report)
    assert json.loads(proc.stdout.readline())["status"] == "added"  # the job is under way
    workers = [p for p in psutil.process_iter(["cmdline"]) if any("_ChunkEmbed" in c for c in (p.info["cmdline"] or []))]
    assert workers, "no embedding actor found to kill"
    workers[0].kill()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and err.startswith("error: a Ray worker died mid-job") and err.count("\n") == 1, err
    with Library.open(lib) as library:
        kept = len(library.documents())
        assert kept >= 1 and sum(d.chunks for d in library.documents()) == library.count("chunks")

    rerun = start_ray_ingest(docs, lib, report)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    with Library.open(lib) as library:
        assert len(library.documents()) == FILES and library.vectors.ntotal == library.count("chunks")
