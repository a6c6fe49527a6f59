"""Training and test pairs for the groundedness cross-encoder: HaluEval QA (its training part) and real documents.

HaluEval QA rows are split by passage exactly as eval.fit_verifier and `eval detector` split them
(the held-out part is never trained on); the training part is split again into train and dev
(the dev part chooses the threshold). Dialogue and summarization are never used here.
Synthetic pairs come from the sentences of real documents, split by (document, page) into
train, dev and test, so the test figure is on pages the model never read.
"""
from __future__ import annotations

import hashlib
from collections import Counter
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eval import claim_edits, halueval
from eval.claim_edits import Pool
from eval.fit_verifier import HELDOUT_SHARE, split_by_passage
from eval.halueval import Pair
from qa.text import content_words, prose_ratio, split_sentences

SPLITS = ("train", "dev", "test")
DEV_SHARE = 0.1  # of HaluEval QA's training passages, and of document pages
TEST_SHARE = 0.2  # of document pages
PASSAGE_WORDS = 180  # about a 256-token chunk, the unit the engine cites
MIN_WORDS, MAX_WORDS, MIN_PROSE = 6, 40, 0.6
FUSED_SHARE = 0.25  # of synthetic negatives joined to a true sentence of the same passage
TWO_EDITS_SHARE = 0.2  # of synthetic negatives given a second edit of another kind
# How often each HaluEval claim form is drawn where it applies (question + answer, the form measured, most).
HALUEVAL_WEIGHTS = {"qa-right": 5, "answer-right": 2, "evidence-sentence": 2, "evidence-headline": 1,
                    "qa-hallucinated": 5, "answer-hallucinated": 2, "qa-other-answer": 2, "fused-hallucinated": 1}


@dataclass(frozen=True)
class Example(Pair):
    """A labelled pair and how it was made (e.g. 'qa-hallucinated', 'number', 'sentence')."""

    kind: str = ""


@dataclass(frozen=True)
class Unit:
    """A passage of a document page, the smallest thing the synthetic split keeps on one side."""

    doc: str
    page: int
    text: str


def halueval_split(seed: int = 0) -> dict[str, list[dict]]:
    """HaluEval QA rows as train / dev / test; test is exactly the held-out part `eval detector` measures on."""
    rows = list(halueval.rows("qa"))
    # The same call eval.detector makes, so that the held-out passages are the same ones.
    held = {p.passage for p in split_by_passage(halueval.pairs("qa"), HELDOUT_SHARE, 0)[1]}
    rng = random.Random(seed)
    dev = {k: rng.random() < DEV_SHARE for k in dict.fromkeys(r["knowledge"] for r in rows if r["knowledge"] not in held)}
    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for row in rows:
        out["test" if row["knowledge"] in held else "dev" if dev[row["knowledge"]] else "train"].append(row)
    return out


def halueval_examples(rows: Sequence[dict], seed: int) -> list[Example]:
    """One supported and one unsupported claim per row, each in a form drawn at random.

    Right answers are short spans and hallucinated ones whole sentences, so length alone ranks
    HaluEval's own pairs; two extra forms break that: a short wrong answer (another row's right
    answer after the question) and a long right one (the evidence sentence holding the answer).
    """
    rng = random.Random(seed)
    answers = [r["right_answer"].strip() for r in rows]
    out = []
    for row in rows:
        k, q = row["knowledge"], row["question"].strip()
        right, wrong = row["right_answer"].strip(), row["hallucinated_answer"].strip()
        sentences = knowledge_sentences(k)
        holding = [s for s in sentences if right.lower() in s.lower() and s.strip() != right]
        other = rng.choice(answers)
        shown = rng.choice(holding) if holding else None
        short = claim_edits.headline(shown) if shown else None
        positives = [("qa-right", f"{q} {right}"), ("answer-right", right)] + \
            ([("evidence-sentence", shown)] if shown else []) + ([("evidence-headline", short)] if short else [])
        negatives = [("qa-hallucinated", f"{q} {wrong}"), ("answer-hallucinated", wrong)] + \
            ([("qa-other-answer", f"{q} {other}")] if other.lower() not in k.lower() else []) + \
            ([("fused-hallucinated", claim_edits.fuse(rng.choice(sentences), wrong))] if sentences else [])
        for label, options in ((True, positives), (False, negatives)):
            kind, claim = rng.choices(options, [HALUEVAL_WEIGHTS[k] for k, _ in options])[0]
            out.append(Example(k, claim, label, kind))
    return out


def halueval_eval_pairs(rows: Sequence[dict], form: str = "question+answer") -> list[Example]:
    """The pairs `eval detector` measures: each row's right and hallucinated answer, in one claim form."""
    out = []
    for row in rows:
        q = row["question"].strip() + " " if form == "question+answer" else ""
        out.append(Example(row["knowledge"], q + row["right_answer"].strip(), True, "qa-right"))
        out.append(Example(row["knowledge"], q + row["hallucinated_answer"].strip(), False, "qa-hallucinated"))
    return out


def knowledge_sentences(text: str) -> list[str]:
    """Sentences of a passage, glued ones ('...century.First') split apart as the verifier splits them."""
    from qa.verify import split_sentences as split_glued

    return [s for part in split_sentences(text) for s in split_glued(part)]


def sample_units(folder: Path) -> list[Unit]:
    """Passages of every readable document in a folder (the sample manuals by default), read as ingest reads them."""
    from ingest.readers import SUPPORTED_SUFFIXES, ReadError, read_document

    units = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES):
        try:
            doc = read_document(path, path.stem, pdf_text="pdfium")
        except ReadError:
            continue  # a file ingest would refuse too
        units += [u for page in doc.pages for u in page_units(path.stem, page.number, page.text)]
    return units


def library_units(root: Path) -> list[Unit]:
    """The chunks of a library as passages: exactly what the engine cites."""
    from index.store import Library

    with Library.open(root) as library:
        ids = library.chunk_ids_for([d.doc_id for d in library.documents()]).tolist()
        chunks = [c for start in range(0, len(ids), 512) for c, _ in library.chunks(ids[start:start + 512]).values()]
    return [Unit(c.doc_id, c.page, c.text) for c in sorted(chunks, key=lambda c: (c.doc_id, c.page, c.start))]


def page_units(doc: str, page: int, text: str) -> list[Unit]:
    """A page cut into passages of whole sentences, about PASSAGE_WORDS words each."""
    out, current = [], []
    for sentence in split_sentences(text):
        if current and sum(len(s.split()) for s in current) + len(sentence.split()) > PASSAGE_WORDS:
            out.append(Unit(doc, page, " ".join(current)))
            current = []
        current.append(sentence)
    return out + ([Unit(doc, page, " ".join(current))] if current else [])


def split_of(unit: Unit) -> str:
    """train, dev or test for a unit's (document, page): stable across runs and machines."""
    digest = hashlib.blake2b(f"{unit.doc}:{unit.page}".encode(), digest_size=8).digest()
    share = int.from_bytes(digest, "big") / 2**64
    return "test" if share < TEST_SHARE else "dev" if share < TEST_SHARE + DEV_SHARE else "train"


def synthetic_examples(units: Sequence[Unit], seed: int) -> list[Example]:
    """Per usable sentence: a supported claim (the sentence or a faithful reduction) and an edited, unsupported one."""
    rng = random.Random(seed)
    pools = {doc: Pool.of([u.text for u in units if u.doc == doc]) for doc in dict.fromkeys(u.doc for u in units)}
    out = []
    for i, unit in enumerate(units):
        sentences = split_sentences(unit.text)
        usable = [s for s in sentences if MIN_WORDS <= len(s.split()) <= MAX_WORDS and prose_ratio(s) >= MIN_PROSE]
        neighbours = _neighbour_sentences(units, i, unit.text)
        for sentence in usable:
            others = [s for s in usable if s != sentence]
            out.append(_positive(sentence, unit.text, others, rng))
            negative = _negative(sentence, sentences, unit.text, pools[unit.doc], neighbours, rng)
            if negative and others and rng.random() < FUSED_SHARE:
                # One wrong fact beside a right one: the claim as a whole is unsupported.
                pair = (rng.choice(others), negative.claim)
                negative = Example(unit.text, claim_edits.fuse(*(pair if rng.random() < 0.5 else pair[::-1])),
                                   False, "fused-edit")
            if negative:
                out.append(negative)
    return out


def _positive(sentence: str, passage: str, others: Sequence[str], rng: random.Random) -> Example:
    """A supported claim from the sentence: as written, reduced, in a headline's words, one clause, or fused with another."""
    made = {"reduction": claim_edits.reduction(sentence, rng), "headline": claim_edits.headline(sentence),
            "clause": claim_edits.clause(sentence, rng)}
    if others:
        other = rng.choice(others)
        made["fused"] = claim_edits.fuse(*((sentence, other) if passage.find(sentence) < passage.find(other)
                                          else (other, sentence)))
    options = [("sentence", sentence)] * 2 + [(k, c) for k, c in made.items() if c and c != sentence]
    kind, claim = rng.choice(options)
    return Example(passage, claim, True, kind)


def _negative(sentence: str, sentences: Sequence[str], passage: str, pool: Pool, neighbours: Sequence[str],
              rng: random.Random) -> Example | None:
    """One unsupported claim from the sentence, by an edit drawn among those that apply."""
    made = {kind: edit(sentence, passage, pool, rng) for kind, edit in claim_edits.NEGATIVE_EDITS.items()}
    made["recombined"] = claim_edits.recombine(sentence, sentences, rng)
    made["neighbour"] = rng.choice(neighbours) if neighbours else None
    usable = [(k, c) for k, c in made.items() if c and c != sentence and c not in passage]
    if not usable:
        return None
    kind, claim = rng.choice(usable)
    if rng.random() < TWO_EDITS_SHARE:  # a second fact changed: errors in real answers come more than one at a time
        again = [(k, e) for k, edit in claim_edits.NEGATIVE_EDITS.items() if k != kind
                 and (e := edit(claim, passage, pool, rng)) and e != claim]
        if again:
            kind, claim = "two-edits", rng.choice(again)[1]
    return Example(passage, claim, False, kind)


def _neighbour_sentences(units: Sequence[Unit], i: int, passage: str) -> list[str]:
    """Sentences of the passages around units[i] (same document and split) on its topic and absent from it."""
    unit, topic = units[i], set(content_words(passage))
    near = [units[j] for j in range(max(0, i - 2), min(len(units), i + 3))
            if j != i and units[j].doc == unit.doc and split_of(units[j]) == split_of(unit)]
    return [s for u in near for s in split_sentences(u.text)
            if MIN_WORDS <= len(s.split()) <= MAX_WORDS and s not in passage
            and len(topic & set(content_words(s))) >= 3]


def build(units: Sequence[Unit], pairs: int, seed: int) -> dict[str, list[Example]]:
    """train (about `pairs` examples, half HaluEval QA, half synthetic), dev and test sets of each source."""
    qa = halueval_split(seed)
    rng = random.Random(seed)
    synthetic = {s: [] for s in SPLITS}
    for unit_split, group in _by_split(units).items():
        synthetic[unit_split] = synthetic_examples(group, seed)
    own = _sample(synthetic["train"], pairs // 2, rng)  # fewer where the documents are few: HaluEval fills up
    rows = rng.sample(qa["train"], min(len(qa["train"]), (pairs - len(own)) // 2 + 1))
    train = halueval_examples(rows, seed)[: pairs - len(own)] + own
    rng.shuffle(train)
    return {"train": train, "dev_qa": halueval_eval_pairs(qa["dev"]), "dev_synthetic": synthetic["dev"],
            "test_qa": halueval_eval_pairs(qa["test"]), "test_synthetic": synthetic["test"]}


def _by_split(units: Iterable[Unit]) -> dict[str, list[Unit]]:
    out: dict[str, list[Unit]] = {s: [] for s in SPLITS}
    for unit in units:
        out[split_of(unit)].append(unit)
    return out


def _sample(items: Sequence[Example], k: int, rng: random.Random) -> list[Example]:
    return list(items) if k >= len(items) else rng.sample(list(items), k)


def kind_counts(examples: Iterable[Example]) -> dict[str, int]:
    """How many examples of each kind, most first."""
    return dict(Counter(e.kind for e in examples).most_common())
