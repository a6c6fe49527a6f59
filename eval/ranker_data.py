"""Training and held-out pairs for the answer ranker: (question, answer unit, its context) -> does the unit answer it.

The shipped ranker (qa/models/answer_ranker) learns from labelled questions:
- `question_examples`: each dev question of a question set asked of its library, and the rerank's best
  CANDIDATES units for it, a unit answering when it holds an expected answer. An unanswerable question's
  units all count as not answering: they are the near-topic misses it has to tell apart.
  `python -m eval.ranker_data --corpus DATASET=LIBRARY ... --out F.jsonl.gz` writes them.

Two sources without labelled questions, neither written by an LLM (the first ranker trained on them lost):
- HaluEval QA, training part only (split by passage exactly as `eval detector` splits it): the
  knowledge sentence holding the right answer against the passage's other sentences.
- Questions made from the documents' own text, pages split into train / dev / test by
  verifier_data.split_of: a section heading -> the first unit under it; a definition
  ("X is a ...") -> "What is X?"; a cloze question (a name or number of a unit asked for with
  "what"). Negatives are the page's other units and the units of the same document that share
  most words with the question: the near misses a ranker has to tell apart.
Only documents of the question set's dev split are read (never a test document).
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eval.verifier_data import Unit, halueval_split, knowledge_sentences, split_of
from qa.evidence import answer_like
from qa.text import STOPWORDS, content_words
from qa.units import lead, unit_spans, unit_text

if TYPE_CHECKING:
    from eval.questions import Question
    from qa.engine import AnswerEngine

QUESTIONS = Path(__file__).with_name("data") / "r-manuals.jsonl"
PAIRS = Path(__file__).with_name("data") / "ranker-pairs.jsonl.gz"  # what the shipped ranker was trained on
OOF = Path(__file__).with_name("data") / "ranker-oof.json"  # those pairs' out-of-fold scores (eval/ranker_oof.py)
NEGATIVES = 2  # per question: one from its page, one near miss from elsewhere in the document
_HEADING = re.compile(r"^(?:\d+(?:\.\d+)*|[A-Z](?:\.\d+)+)\s+([A-Z][A-Za-z][^\n.]{2,60})$", re.M)
_DEFINED = re.compile(r"^(The |An? )?([A-Za-z][\w.]*(?: [\w.]+){0,3}) (is|are) (?:a|an|the|used|called|defined)\b")
# What a cloze question asks for: a call, a dotted or underscored name, an option, a number with a unit.
_ASKED = re.compile(r"(?<![\w.-])(?:\w+\(\)|\w+[._]\w[\w._]*|--?[a-z][\w-]+|\d[\d.,]*(?: ?[A-Za-z]+)?)(?![\w])")
_RUNNING_HEAD = re.compile(r"^(?:Chapter|Appendix) [^:]{1,3}: |^\d")
MAX_TITLE_WORDS, MIN_CLOZE_WORDS, CLOZE_WORDS = 7, 6, 12
_HEADING_FORMS = ("{t}?", "What does the manual say about {t}?", "How does {t} work?", "Tell me about {t}.")


@dataclass(frozen=True)
class RankExample:
    """A question, a candidate unit with the sentence before it, whether the unit answers it, and how it was made."""

    question: str
    unit: str
    context: str
    answers: bool
    kind: str
    corpus: str = ""  # labelled questions: the question set's file stem (out-of-fold scores hold one out at a time)


def dev_documents(questions: Path = QUESTIONS) -> set[str]:
    """The documents the question set's dev split asks about (file stems): the only ones trained on."""
    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    dev = {Path(r["doc"]).stem for r in rows if r.get("doc") and r.get("split") == "dev"}
    test = {Path(r["doc"]).stem for r in rows if r.get("doc") and r.get("split") == "test"}
    return dev - test


def halueval_examples(rows: Sequence[dict], seed: int) -> list[RankExample]:
    """Per row with one sentence holding the right answer: that sentence, and up to NEGATIVES others of the passage."""
    rng = random.Random(seed)
    out = []
    for row in rows:
        sentences = knowledge_sentences(row["knowledge"])
        right = row["right_answer"].strip().lower()
        holding = [i for i, s in enumerate(sentences) if right and right in s.lower()]
        if len(holding) != 1 or len(sentences) < 2:
            continue  # no clear answer unit, or nothing to tell it from
        q, at = row["question"].strip(), holding[0]
        others = [i for i in range(len(sentences)) if i != at]
        for i, label in [(at, True)] + [(j, False) for j in rng.sample(others, min(NEGATIVES, len(others)))]:
            out.append(RankExample(q, sentences[i], sentences[i - 1] if i else "", label, "halueval"))
    return out


def page_units(doc: str, page: int, text: str) -> list[tuple[Unit, str, int]]:
    """The answer units of a page as the engine makes them, each with the sentence before it and where it ends."""
    out, previous = [], ""
    for start, end in unit_spans(text):
        unit = unit_text(text[start:end])
        if answer_like(lead(unit)):
            out.append((Unit(doc, page, unit), previous, end))
        previous = " ".join(lead(unit).split()[-30:])
    return out


def document_questions(pages: Sequence[tuple[str, int, str]], seed: int) -> dict[str, list[RankExample]]:
    """Heading, definition and cloze questions with their positive and negative units, by page split."""
    rng = random.Random(seed)
    units = {(doc, n): page_units(doc, n, text) for doc, n, text in pages}
    by_doc: dict[str, list[tuple[Unit, str, int]]] = {}
    for (doc, _), found in units.items():
        by_doc.setdefault(doc, []).extend(found)
    out: dict[str, list[RankExample]] = {"train": [], "dev": [], "test": []}
    for doc, n, text in pages:
        found = units[(doc, n)]
        for question, at, kind in _questions(text, found, rng):
            split = split_of(found[at][0])
            pool = [u for u in by_doc[doc] if split_of(u[0]) == split]  # negatives from the same side of the split
            out[split] += _with_negatives(question, found, at, pool, kind, rng)
    return out


def _questions(text: str, found: Sequence[tuple[Unit, str, int]], rng: random.Random) -> list[tuple[str, int, str]]:
    """(question, index of the unit that answers it, kind) for one page."""
    out = []
    for m in _HEADING.finditer(text):
        title = m.group(1).strip()
        # The unit holding the heading's end: sentence splitting joins a heading to the sentence under it.
        after = next((i for i, (_, _, end) in enumerate(found) if end > m.end()), None)
        if after is not None and 2 <= len(title.split()) <= MAX_TITLE_WORDS:
            out.append((rng.choice(_HEADING_FORMS).format(t=title[0].lower() + title[1:]), after, "heading"))
    for i, (unit, _, _) in enumerate(found):
        sentence = lead(unit.text)
        if _RUNNING_HEAD.match(sentence):
            continue  # a page's running head glued to its first sentence
        defined = _DEFINED.match(sentence)
        if defined and defined.group(2).split()[0].lower() not in STOPWORDS:
            article, term, verb = defined.groups()
            out.append((f"What {verb} {(article or '').lower()}{term}?", i, "definition"))
        asked = [m for m in _ASKED.finditer(sentence) if len(sentence[:m.start()].split()) >= MIN_CLOZE_WORDS]
        if asked and rng.random() < 0.5:
            m = rng.choice(asked)
            # Only the words just before the blank: a question holding the whole sentence teaches copy-matching.
            before = sentence[:m.start()].rstrip(" (\"'‘“").split()[-CLOZE_WORDS:]
            out.append((" ".join(before) + " what?", i, "cloze"))
    return out


def _with_negatives(question: str, found: Sequence[tuple[Unit, str, int]], at: int,
                    pool: Sequence[tuple[Unit, str, int]], kind: str, rng: random.Random) -> list[RankExample]:
    """The answering unit, one other unit of its page and one near miss from another page."""
    unit, context, _ = found[at]
    wanted = set(content_words(question))

    def distinct(other: Unit) -> bool:  # pages repeat sentences (running heads, overlapping listings)
        return unit.text not in other.text and other.text not in unit.text

    # Units right after a heading's first one also speak of its section: not clearly wrong answers.
    close = range(at, at + 3) if kind == "heading" else range(at, at + 1)
    page = [f for i, f in enumerate(found) if i not in close and distinct(f[0])]
    near = sorted((f for f in pool if f[0].page != unit.page and distinct(f[0])),
                  key=lambda f: -len(wanted & set(content_words(f[0].text))))[:5]
    negatives = ([rng.choice(page)] if page else []) + ([rng.choice(near)] if near else [])
    return [RankExample(question, unit.text, context, True, kind)] + \
        [RankExample(question, u.text, c, False, kind) for u, c, _ in negatives]


def read_pages(docs: Path, stems: set[str]) -> list[tuple[str, int, str]]:
    """(document stem, page number, text) of the named documents in a folder, read as ingest reads them."""
    from ingest.readers import read_document

    out = []
    for path in sorted(p for p in docs.iterdir() if p.stem in stems):
        out += [(path.stem, p.number, p.text) for p in read_document(path, path.stem, pdf_text="pdfium").pages]
    return out


def build(pages: Sequence[tuple[str, int, str]], pairs: int, seed: int) -> dict[str, list[RankExample]]:
    """train (about `pairs` examples, half HaluEval, half the documents' questions) and held-out sets of each."""
    rng = random.Random(seed)
    qa = halueval_split(seed)
    own = document_questions(pages, seed)
    mine = own["train"] if len(own["train"]) <= pairs // 2 else rng.sample(own["train"], pairs // 2)
    rows = rng.sample(qa["train"], min(len(qa["train"]), (pairs - len(mine)) // 2))
    train = halueval_examples(rows, seed)[: pairs - len(mine)] + mine
    rng.shuffle(train)
    return {"train": train, "dev_qa": halueval_examples(qa["dev"][:600], seed),
            "test_qa": halueval_examples(qa["test"][:1000], seed), "dev_docs": own["dev"], "test_docs": own["test"]}



def question_examples(engine: AnswerEngine, questions: Iterable[Question], corpus: str = "") -> list[RankExample]:
    """Each question's CANDIDATES best units as the engine's rerank gives them, labelled by the expected answers."""
    from eval.answer_metrics import contains_answer
    from qa.ranker import CANDIDATES, context_of

    out = []
    for q in questions:
        for c in engine.evidence(q.question).candidates[:CANDIDATES]:
            answers = bool(q.answerable and q.answers) and bool(contains_answer(c.text, q.answers))
            context = context_of(c.text, c.passage.chunk.text)
            out.append(RankExample(q.question, c.text, context, answers, "question", corpus))
    return out


def write_examples(examples: Sequence[RankExample], path: Path) -> None:
    """Examples as gzipped JSON lines, in order (training reads them back in the same order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for e in examples:
            f.write(json.dumps(asdict(e), ensure_ascii=False) + "\n")


def read_examples(path: Path) -> list[RankExample]:
    """What write_examples wrote; OSError or ValueError when the file is not such a file."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [RankExample(**json.loads(line)) for line in f if line.strip()]


def _corpus(text: str) -> tuple[str, str, str | None]:
    """DATASET=LIBRARY[@SPLIT] -> (dataset, library, split)."""
    dataset, sep, rest = text.partition("=")
    if not sep or not dataset or not rest:
        raise argparse.ArgumentTypeError(f"{text!r}: give DATASET=LIBRARY or DATASET=LIBRARY@SPLIT")
    library, _, split = rest.partition("@")
    return dataset, library, split or None


def main(argv: Sequence[str] | None = None) -> int:
    """Write the labelled pairs of each corpus's questions, corpus after corpus, to --out."""
    ap = argparse.ArgumentParser(prog="python -m eval.ranker_data", description=main.__doc__)
    ap.add_argument("--corpus", type=_corpus, action="append", required=True, metavar="DATASET=LIBRARY[@SPLIT]",
                    help="a question set and the library of its documents; @dev keeps its dev rows (repeatable)")
    ap.add_argument("--out", type=Path, default=PAIRS, help=f"the gzipped JSONL to write (default: {PAIRS})")
    args = ap.parse_args(argv)
    from eval.questions import load
    from index.embedder import SentenceTransformerEmbedder, default_model
    from index.errors import GroundworkError
    from index.store import Library
    from qa.engine import AnswerEngine, Settings
    from qa.verifiers import make_verifier

    embedder = SentenceTransformerEmbedder(default_model())
    examples: list[RankExample] = []
    try:
        for dataset, library_dir, split in args.corpus:
            questions = load(dataset, split=split)
            library = Library.open(library_dir)  # only the rerank's candidates are read: no verifier call is made
            verifier = make_verifier("features", embedder)
            engine = AnswerEngine(library, embedder, verifier, None, Settings(mode="extractive"))
            examples += question_examples(engine, questions, Path(dataset).stem)
            print(f"{dataset}: {len(questions)} questions, {len(examples)} pairs so far", file=sys.stderr)
    except GroundworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    write_examples(examples, args.out)
    print(f"wrote {len(examples)} pairs ({sum(e.answers for e in examples)} answering) to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
