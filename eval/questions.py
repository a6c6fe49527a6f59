"""Questions to evaluate, from a question-set JSONL, a UI feedback export, or HaluEval QA.

A `Question` holds its gold evidence as (doc, page) pairs, so that one question may rest on
pages of several documents (feedback citations do). Feedback rows map to questions so:

- rating +1, answered: answerable; gold = the (doc, page) of every citation; the liked answer is
  the reference answer (scored by token F1, contains and similarity like any gold answer).
- rating +1, abstained: unanswerable (the user agreed the documents do not say).
- rating -1, abstained: answerable, with no gold pages or answers: it counts for false refusals only.
- rating -1, answered: answerable unknown (`None`): only grounding and cost are measured on it.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval import halueval
from eval.dataset import SPLITS, read_rows, shape_problems
from eval.halueval import DatasetError

HALUEVAL_QA = "halueval-qa"
ABSTAIN_PREFIX = "The documents do not say"  # qa.prompt.ABSTAIN, as a feedback export records it


@dataclass(frozen=True)
class Question:
    """A question, what would answer it, and where; `answerable` None when nobody knows."""

    id: str
    question: str
    answers: tuple[str, ...] = ()
    gold: tuple[tuple[str, int], ...] = ()  # (doc name as the dataset gives it, 1-based page)
    answerable: bool | None = True

    def to_json(self) -> dict:
        """The question as a report records it."""
        return {"id": self.id, "question": self.question, "answers": list(self.answers),
                "gold": [list(g) for g in self.gold], "answerable": self.answerable}


def load(path_or_name: str, sample: int | None = None, seed: int = 0, split: str | None = None) -> list[Question]:
    """Questions from a JSONL file (question set or feedback export), or `halueval-qa`; `split` keeps dev or test rows."""
    if path_or_name == HALUEVAL_QA:
        if split is not None:
            raise DatasetError(f"{HALUEVAL_QA} has no dev/test split; drop --split")
        return halueval_questions(sample or 100, seed)[0]
    path = Path(path_or_name)
    if not path.is_file():
        raise DatasetError(f"no dataset file {path}; give a question-set JSONL (see eval/data/README.md) "
                           f"or --dataset {HALUEVAL_QA}")
    rows, problems = read_rows(path)
    if problems:
        raise DatasetError(f"{path}: {problems[0]}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
    if split is not None:
        rows = _split_rows(rows, split, path)
    questions = from_feedback(rows) if rows and "rating" in rows[0] else from_question_set(rows, path)
    if not questions:
        raise DatasetError(f"{path} holds no questions")
    if sample is not None and sample < len(questions):
        questions = [questions[i] for i in sorted(random.Random(seed).sample(range(len(questions)), sample))]
    return questions


def _split_rows(rows: list[dict[str, Any]], split: str, path: Path) -> list[dict[str, Any]]:
    """The rows of one split; DatasetError when the file records no split or the name is not one."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if not any("split" in r for r in rows):
        raise DatasetError(f"{path} has no dev/test split (no \"split\" field); run it without --split")
    kept = [r for r in rows if r.get("split") == split]
    if rows and not kept:
        named = sorted({str(r["split"]) for r in rows if "split" in r})
        raise DatasetError(f"{path} holds no {split} questions (its splits: {', '.join(named)}); "
                           f"pick another --split")
    return kept


def from_question_set(rows: list[dict[str, Any]], origin: Path | str = "dataset") -> list[Question]:
    """Questions from rows shaped as DESIGN.md's eval datasets; DatasetError on the first bad row."""
    out, seen = [], set()
    for row in rows:
        problems = shape_problems(row)
        if problems:
            raise DatasetError(f"{origin}: {problems[0]}; check it with: python -m eval.dataset {origin}")
        if row["id"] in seen:
            raise DatasetError(f"{origin}: id {row['id']!r} is used twice")
        seen.add(row["id"])
        gold = tuple((row["doc"], p) for p in row["pages"])
        out.append(Question(row["id"], row["question"], tuple(row["answers"]), gold, row["answerable"]))
    return out


def from_feedback(rows: list[dict[str, Any]]) -> list[Question]:
    """Questions from a UI feedback export (question, answer, citations, rating, comment, model)."""
    out = []
    for n, row in enumerate(rows, start=1):
        question, answer, rating = row.get("question"), row.get("answer") or "", row.get("rating")
        citations = row.get("citations") or []
        if not isinstance(question, str) or not question.strip() or rating not in (1, -1):
            raise DatasetError(f"feedback row {n}: needs a question and a rating of +1 or -1")
        if not isinstance(answer, str) or not isinstance(citations, list) or not all(
                isinstance(c, dict) and type(c.get("page", 1)) is int for c in citations):
            raise DatasetError(f"feedback row {n}: the answer must be text and the citations a list of "
                               f"{{\"doc\", \"page\"}} objects with whole page numbers, as the UI exports them")
        abstained = answer.strip().startswith(ABSTAIN_PREFIX)
        # Exports number rows by their database id; the prefix keeps them apart from question-set ids.
        qid = f"feedback-{row['id']}" if row.get("id") is not None else f"feedback-row-{n:04d}"
        if rating == 1 and abstained:
            out.append(Question(qid, question, answerable=False))
        elif rating == 1:
            gold = tuple(dict.fromkeys((str(c["doc"]), c["page"]) for c in citations if "doc" in c and "page" in c))
            out.append(Question(qid, question, (answer,), gold, True))
        else:
            out.append(Question(qid, question, answerable=True if abstained else None))
    return out


def halueval_questions(n: int, seed: int = 0, wheel: Path | None = None) -> tuple[list[Question], dict[str, str]]:
    """n seeded HaluEval QA rows as questions, and {file name: knowledge passage}: the library to ingest."""
    table = list(halueval.rows("qa", wheel))
    picked = sorted(random.Random(seed).sample(range(len(table)), min(n, len(table))))
    questions, docs = [], {}
    for i in picked:
        row, name = table[i], f"halueval-qa-{i:05d}.txt"
        docs[name] = row["knowledge"].strip()
        questions.append(Question(f"halueval-qa-{i:05d}", row["question"].strip(),
                                  (row["right_answer"].strip(),), ((name, 1),), True))
    return questions, docs


def write_docs(docs: dict[str, str], folder: Path) -> list[Path]:
    """Each document as a text file in folder (made if missing), ready for ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in docs.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
        paths.append(folder / name)
    return paths


def write_jsonl(rows: list[dict], path: Path) -> None:
    """Rows as JSON lines."""
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
