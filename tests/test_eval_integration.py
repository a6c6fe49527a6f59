"""A real eval run: two sample manuals' questions answered generatively by SmolLM2 on a real vLLM, several at once."""
from __future__ import annotations

import json

import pytest
from vllm_server import vllm_server

from app.cli import main
from eval.dataset import DEFAULT_DATASET

pytestmark = pytest.mark.integration
vllm = vllm_server()


@pytest.fixture(scope="module")
def library(sample_library):
    return sample_library("R-data.pdf")


def test_generative_eval_over_real_vllm(library, vllm, tmp_path, monkeypatch):
    rows = [json.loads(x) for x in DEFAULT_DATASET.read_text().splitlines() if x.strip()]
    picked = [r for r in rows if r["doc"] == "R-data.pdf"][:3] + [r for r in rows if not r["answerable"]][:1]
    dataset = tmp_path / "qa.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in picked))
    monkeypatch.setenv("GROUNDWORK_LLM_URL", vllm.url)
    out = tmp_path / "run"
    code = main(["eval", "run", "--dataset", str(dataset), "--library", str(library), "--out", str(out),
                       "--mode", "generative", "--workers", "2"])
    report = json.loads((out / "report.json").read_text())
    assert code == 0 and report["summary"]["counts"]["errors"] == 0
    assert report["meta"]["model"] and report["meta"]["workers"] == 2
    assert [r["id"] for r in report["records"]] == [r["id"] for r in picked]
    for r in report["records"]:
        assert r["retrieved"] and r["timings"]["total"] > 0
        if "generate" in r["timings"]:  # the model was asked: its tokens were counted by vLLM's tokenizer
            assert r["tokens"]["in"] > 100 and r["tokens"]["out"] >= 0
    # Retrieval of the R-data questions does not depend on the model: the gold page is found.
    assert report["summary"]["metrics"]["hit@5"]["value"] >= 2 / 3
    assert (out / "report.html").stat().st_size > 10_000 and (out / "report.md").is_file()
