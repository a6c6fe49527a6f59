"""The trained groundedness verifier: a cross-encoder that reads (claim, evidence) and gives P(supported).

`python -m eval.train_verifier` fine-tunes it from the packaged all-MiniLM-L6-v2 and writes a
folder (int8 ONNX graph, tokenizer.json, settings.json, MODEL_CARD.md); the project ships one
in qa/models/groundedness. Answer time needs only onnxruntime and tokenizers, never torch.
Training and answering encode a pair the same way, through `Encoder`.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.records import Passage
from qa.text import content_words
from qa.verify import VerifierError, split_sentences

SHIPPED = Path(__file__).with_name("models") / "groundedness"
GRAPH, TOKENIZER, SETTINGS = "model.onnx", "tokenizer.json", "settings.json"
WINDOWS = 4  # evidence views a claim part is read against at most: the focus and windows round the best sentences
MIN_PART_WORDS = 4  # a shorter claim sentence ("Yes.", "It is.") is read with the one after it
# Word pieces per word in English prose for this vocabulary (R manuals and HaluEval: ~1.3);
# a little over, so that the evidence chosen rarely needs cutting by the tokenizer.
_PIECES_PER_WORD = 1.4


def focus(claim: str, passages: Sequence[str], budget_words: int, size: Callable[[str], int] | None = None) -> str:
    """The passages' sentences that share most content words with the claim, in reading order, within the budget.

    A chunk (256 tokens) does not fit beside a claim in the model's window; keeping whole
    sentences that overlap the claim keeps the evidence that can support it, where cutting
    the text at the window's end would drop it half the time. `size` counts a sentence's words
    (default: split on spaces).
    """
    sentences = [s for text in passages for s in split_sentences(text)]
    sizes = [(size or _word_count)(s) for s in sentences]
    if sum(sizes) <= budget_words:
        return " ".join(sentences)
    wanted = set(content_words(claim))
    overlap = [len(wanted & set(content_words(s))) for s in sentences]
    chosen, used = set(), 0
    for i in sorted(range(len(sentences)), key=lambda i: (-overlap[i], i)):
        if used + sizes[i] <= budget_words or not chosen:
            chosen.add(i)
            used += sizes[i]
    return " ".join(sentences[i] for i in sorted(chosen))


def _word_count(text: str) -> int:
    return len(text.split())


def windows(claim: str, passages: Sequence[str], budget_words: int, count: int = WINDOWS,
            size: Callable[[str], int] | None = None) -> list[str]:
    """Evidence views of the passages for one claim: focus()'s, then runs of neighbouring sentences round the best ones.

    focus() gathers the sentences richest in the claim's words, which can miss a fact stated
    beside them (a long document, a claim in other words); each run keeps one high-overlap
    sentence with its context. The model reads each view and the best one counts.
    """
    sentences = [s for text in passages for s in split_sentences(text)]
    sizes = [(size or _word_count)(s) for s in sentences]
    if sum(sizes) <= budget_words:
        return [" ".join(sentences)]
    wanted = set(content_words(claim))
    overlap = [len(wanted & set(content_words(s))) for s in sentences]
    out = [focus(claim, passages, budget_words, size)]
    for i in sorted(range(len(sentences)), key=lambda i: (-overlap[i], i)):
        if len(out) >= count:
            break
        lo, hi, used, grew = i, i + 1, sizes[i], True
        while grew:  # grow the run both ways, the following sentence first, while it fits
            grew = False
            for j in (hi, lo - 1):
                if 0 <= j < len(sentences) and used + sizes[j] <= budget_words:
                    used, lo, hi, grew = used + sizes[j], min(lo, j), max(hi, j + 1), True
        view = " ".join(sentences[lo:hi])
        if view not in out:
            out.append(view)
    return out


def claim_parts(claim: str) -> list[str]:
    """The sentences of a claim, each read on its own (a question or a short fragment joined to what follows)."""
    parts: list[str] = []
    pending = ""
    for sentence in split_sentences(claim):
        pending = f"{pending} {sentence}".strip()
        if not pending.endswith("?") and len(pending.split()) >= MIN_PART_WORDS:
            parts.append(pending)
            pending = ""
    if pending:
        parts = parts[:-1] + [f"{parts[-1]} {pending}"] if parts else [pending]
    return parts or [claim]


class Encoder:
    """A (claim, evidence) pair as the model reads it: [CLS] claim [SEP] evidence [SEP], at most max_tokens."""

    def __init__(self, tokenizer_json: str | Path, max_tokens: int):
        import tokenizers

        self.max_tokens = max_tokens
        self._tok = tokenizers.Tokenizer.from_file(str(tokenizer_json))
        # focus() sizes the evidence to fit beside the claim; where word pieces run over (code,
        # long names), the longer of the two is cut, so neither a long claim nor long evidence fails.
        self._tok.enable_truncation(max_length=max_tokens, strategy="longest_first")
        self._tok.no_padding()

    def encode(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[list[int], list[int]]]:
        """Token ids and type ids, unpadded, for each (claim, passage texts): the claim beside focus()'s evidence."""
        pairs = []
        for claim, passages in items:
            claim, budget = self._fit(claim)
            pairs.append((claim, focus(claim, passages, budget, self.words)))
        return [(e.ids, e.type_ids) for e in self._tok.encode_batch(pairs)]

    def encode_views(self, items: Sequence[tuple[str, Sequence[str]]],
                     count: int = WINDOWS) -> tuple[list[tuple[list[int], list[int]]], list[tuple[int, int]]]:
        """Every (claim part, evidence view) of each item, encoded; and (item, part) of each encoding."""
        pairs, owners = [], []
        for i, (claim, passages) in enumerate(items):
            for k, part in enumerate(claim_parts(claim)):
                part, budget = self._fit(part)
                for view in windows(part, passages, budget, count, self.words):
                    pairs.append((part, view))
                    owners.append((i, k))
        return [(e.ids, e.type_ids) for e in self._tok.encode_batch(pairs)], owners

    def words(self, text: str) -> int:
        """A text's size in words of ordinary prose: more than its words where a URL or code splits into many pieces.

        Sized by words alone, a sentence with a URL overran the window, and the tokenizer cut the
        evidence sentence that quoted it: 10 of 89 verbatim quotes in extractive answers were rejected.
        """
        pieces = len(self._tok.encode(text, add_special_tokens=False).ids)
        return max(len(text.split()), math.ceil(pieces / _PIECES_PER_WORD))

    def _fit(self, claim: str) -> tuple[str, int]:
        """The claim cut to a third of the window (a run-on claim leaves room for evidence) and the words left."""
        claim = " ".join(claim.split()[: self.max_tokens // 3])
        return claim, max(int((self.max_tokens - 3) / _PIECES_PER_WORD) - self.words(claim), 8)


def onnx_session(graph: Path, threads: int | None = None):
    """An onnxruntime CPU session on `graph`: `threads` (default up to 4), idle threads sleeping, not spinning."""
    import onnxruntime as ort  # imported when a model is used: answering without one never loads it
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(graph), sess_options=options, providers=["CPUExecutionProvider"])


def pad(encoded: Sequence[tuple[list[int], list[int]]]) -> dict[str, np.ndarray]:
    """The graph's inputs for a batch, padded with 0 (BERT's [PAD]) to its longest pair."""
    width = max(len(ids) for ids, _ in encoded)
    out = {name: np.zeros((len(encoded), width), np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
    for row, (ids, types) in enumerate(encoded):
        out["input_ids"][row, :len(ids)] = ids
        out["attention_mask"][row, :len(ids)] = 1
        out["token_type_ids"][row, :len(types)] = types
    return out


def probabilities_of(session, encoded: Sequence[tuple[list[int], list[int]]]) -> np.ndarray:
    """The graph's sigmoid output for each encoded pair, one pair per run.

    The int8 graph quantizes its activations with one scale per run, so a pair scored in a batch
    moved with its batch-mates (by up to 0.13): a verdict must not depend on what else is checked.
    """
    logits = [session.run(None, pad([pair]))[0].reshape(-1)[0] for pair in encoded]
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, dtype=float), -50, 50)))


class CrossEncoderVerifier:
    """The trained cross-encoder as a Verifier: one input per sentence, its cited passages focused into it."""

    def __init__(self, folder: str | Path = SHIPPED, threads: int | None = None, windows: int | None = None):
        self.folder, self.threads, self._windows = Path(folder), threads, windows
        self._session = self._encoder = None
        self.threshold, self.windows = 0.5, windows or 1

    def verify(self, sentence: str, passages: Sequence[Passage]) -> tuple[bool, float]:
        """(supported, P(supported)) of one sentence against the passages it cites."""
        return self.verify_many([(sentence, passages)])[0]

    def verify_many(self, items: Sequence[tuple[str, Sequence[Passage]]]) -> list[tuple[bool, float]]:
        """verify() for many sentences."""
        probs = self.probabilities([(s, [p.chunk.text for p in ps]) for s, ps in items])
        return [(bool(p >= self.threshold), float(p)) if ps else (False, 0.0) for p, (_, ps) in zip(probs, items)]

    def probabilities(self, items: Sequence[tuple[str, Sequence[str]]]) -> np.ndarray:
        """P(supported) of each (claim, passage texts); 0 where there are no passages.

        Each sentence of the claim is read against up to `windows` evidence views (settings.json);
        a sentence counts as its best-supported view, a claim as its least-supported sentence.
        """
        self._load()
        out = np.zeros(len(items))
        todo = [i for i, (_, passages) in enumerate(items) if passages]
        encoded, owners = self._encoder.encode_views([items[i] for i in todo], self.windows)
        scores = probabilities_of(self._session, encoded)
        best: dict[tuple[int, int], float] = {}
        for (i, k), score in zip(owners, scores):
            best[(i, k)] = max(best.get((i, k), -1.0), score)
        worst: dict[int, float] = {}
        for (i, _), score in best.items():
            worst[i] = min(worst.get(i, 2.0), score)
        for i, score in worst.items():
            out[todo[i]] = score
        return out

    def load(self) -> None:
        """Load the model now (VerifierError when it cannot be)."""
        self._load()

    def _load(self) -> None:
        if self._session is not None:
            return
        try:
            settings = json.loads((self.folder / SETTINGS).read_text(encoding="utf-8"))
            self.threshold = float(settings["threshold"])
            # A folder written before views were measured reads one view (focus()'s), as it was measured.
            self.windows = self._windows or int(settings.get("windows", 1))
            self._encoder = Encoder(self.folder / TOKENIZER, int(settings["max_tokens"]))
            self._session = onnx_session(self.folder / GRAPH, self.threads)
        except Exception as exc:  # noqa: BLE001 - tokenizers and onnxruntime raise their own types for a bad file
            raise VerifierError(f"cannot load the groundedness model in {self.folder} "
                                f"({str(exc).splitlines()[0]}); train one with `python -m eval.train_verifier "
                                f"--out {self.folder}`") from None
