"""The trained groundedness verifier: a cross-encoder that reads (claim, evidence) and gives P(supported).

`python -m eval.train_verifier` fine-tunes it from the packaged all-MiniLM-L6-v2 and writes a
folder (int8 ONNX graph, tokenizer.json, settings.json, MODEL_CARD.md); the project ships one
in qa/models/groundedness. Answer time needs only onnxruntime and tokenizers, never torch.
Training and answering encode a pair the same way, through `Encoder`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.records import Passage
from qa.text import content_words
from qa.verify import VerifierError, split_sentences

SHIPPED = Path(__file__).with_name("models") / "groundedness"
GRAPH, TOKENIZER, SETTINGS = "model.onnx", "tokenizer.json", "settings.json"
BATCH = 32
# Word pieces per word in English prose for this vocabulary (R manuals and HaluEval: ~1.3);
# a little over, so that the evidence chosen rarely needs cutting by the tokenizer.
_PIECES_PER_WORD = 1.4


def focus(claim: str, passages: Sequence[str], budget_words: int) -> str:
    """The passages' sentences that share most content words with the claim, in reading order, within the budget.

    A chunk (256 tokens) does not fit beside a claim in the model's window; keeping whole
    sentences that overlap the claim keeps the evidence that can support it, where cutting
    the text at the window's end would drop it half the time.
    """
    sentences = [s for text in passages for s in split_sentences(text)]
    sizes = [len(s.split()) for s in sentences]
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
        """Token ids and type ids, unpadded, for each (claim, passage texts)."""
        pairs = []
        for claim, passages in items:
            claim = " ".join(claim.split()[: self.max_tokens // 3])  # a run-on claim leaves room for evidence
            budget = int((self.max_tokens - 3) / _PIECES_PER_WORD) - len(claim.split())
            pairs.append((claim, focus(claim, passages, max(budget, 8))))
        return [(e.ids, e.type_ids) for e in self._tok.encode_batch(pairs)]


def pad(encoded: Sequence[tuple[list[int], list[int]]]) -> dict[str, np.ndarray]:
    """The graph's inputs for a batch, padded with 0 (BERT's [PAD]) to its longest pair."""
    width = max(len(ids) for ids, _ in encoded)
    out = {name: np.zeros((len(encoded), width), np.int64) for name in ("input_ids", "attention_mask", "token_type_ids")}
    for row, (ids, types) in enumerate(encoded):
        out["input_ids"][row, :len(ids)] = ids
        out["attention_mask"][row, :len(ids)] = 1
        out["token_type_ids"][row, :len(types)] = types
    return out


class CrossEncoderVerifier:
    """The trained cross-encoder as a Verifier: one input per sentence, its cited passages focused into it."""

    def __init__(self, folder: str | Path = SHIPPED, threads: int | None = None):
        self.folder, self.threads = Path(folder), threads
        self._session = self._encoder = None
        self.threshold = 0.5

    def verify(self, sentence: str, passages: Sequence[Passage]) -> tuple[bool, float]:
        """(supported, P(supported)) of one sentence against the passages it cites."""
        return self.verify_many([(sentence, passages)])[0]

    def verify_many(self, items: Sequence[tuple[str, Sequence[Passage]]]) -> list[tuple[bool, float]]:
        """verify() for many sentences, run in batches of similar length."""
        probs = self.probabilities([(s, [p.chunk.text for p in ps]) for s, ps in items])
        return [(bool(p >= self.threshold), float(p)) if ps else (False, 0.0) for p, (_, ps) in zip(probs, items)]

    def probabilities(self, items: Sequence[tuple[str, Sequence[str]]]) -> np.ndarray:
        """P(supported) of each (claim, passage texts); 0 where there are no passages."""
        self._load()
        out = np.zeros(len(items))
        todo = [i for i, (_, passages) in enumerate(items) if passages]
        encoded = self._encoder.encode([items[i] for i in todo])
        order = sorted(range(len(todo)), key=lambda k: len(encoded[k][0]))  # little padding per batch
        for start in range(0, len(order), BATCH):
            part = order[start:start + BATCH]
            logits = self._session.run(None, pad([encoded[k] for k in part]))[0].reshape(-1)
            out[[todo[k] for k in part]] = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        return out

    def _load(self) -> None:
        if self._session is not None:
            return
        import onnxruntime as ort

        try:
            settings = json.loads((self.folder / SETTINGS).read_text(encoding="utf-8"))
            self.threshold = float(settings["threshold"])
            self._encoder = Encoder(self.folder / TOKENIZER, int(settings["max_tokens"]))
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads or min(os.cpu_count() or 1, 4)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(str(self.folder / GRAPH), sess_options=options,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - tokenizers and onnxruntime raise their own types for a bad file
            raise VerifierError(f"cannot load the groundedness model in {self.folder} "
                                f"({str(exc).splitlines()[0]}); train one with `python -m eval.train_verifier "
                                f"--out {self.folder}`") from None
