"""`groundwork ingest --report FILE`: the job report counts every file, names failures, and gives throughput."""
import json

from app.cli import main


def test_report_counts_failures_with_reasons_and_exit_1(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a pdf")
    (docs / "ok.txt").write_text("A perfectly fine note about priming the pump.")
    report = tmp_path / "report.json"
    args = ["ingest", str(docs), "--library", str(tmp_path / "lib"), "--report", str(report)]
    assert main(args) == 1
    first = json.loads(report.read_text())
    assert (first["engine"], first["files"], first["added"], first["failed"]) == ("local", 2, 1, 1)
    assert first["failures"][0]["path"].endswith("broken.pdf") and first["failures"][0]["error"]
    assert first["pages"] == 1 and first["chunks"] == 1 and first["wall_s"] > 0
    assert abs(first["chunks_per_s"] - first["chunks"] / first["wall_s"]) < 0.01
    assert main(args) == 1  # the broken file fails again; the rest is unchanged and adds nothing
    second = json.loads(report.read_text())
    assert (second["unchanged"], second["added"], second["chunks"]) == (1, 0, 0)
    capsys.readouterr()
