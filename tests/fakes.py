"""Deterministic fakes for unit tests: a hash-based embedder that needs no model, and documents stored with it."""
from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from index.records import Chunk, Document, Page
from index.store import Library, Source
from ingest.chunking import chunk_id

_WORD = re.compile(r"\S+")


class HashEmbedder:
    """Bag-of-words vectors from hashed lower-case words: texts sharing words are similar."""

    def __init__(self, dim: int = 64, name: str = "test/hash-embedder", max_tokens: int = 256):
        self.dim, self.name, self.max_tokens = dim, name, max_tokens

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Whitespace-separated words as tokens."""
        return [m.span() for m in _WORD.finditer(text)]

    def embed(self, texts: Sequence[str], kind: str = "document") -> np.ndarray:
        """One L2-normalised vector per text; the same text always gives the same vector."""
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else _unit(self.dim)
        return out


class WordVerifier:
    """Supported when every content word of the sentence occurs in the passages."""

    def verify(self, sentence, passages):
        """(supported, share of the sentence's content words the passages hold)."""
        from qa.text import content_words
        have = {w for p in passages for w in content_words(p.chunk.text)}
        want = set(content_words(sentence))
        score = len(want & have) / max(len(want), 1)
        return score == 1.0, score


def _unit(dim: int) -> np.ndarray:
    v = np.zeros(dim, np.float32)
    v[0] = 1.0
    return v


def make_doc(doc_id: str, texts: list[str], title: str = "Doc") -> tuple[Document, list[Chunk]]:
    """A document of one page per text, each page one chunk, with the chunk ids ingest would give them."""
    pages = tuple(Page(doc_id, i + 1, t) for i, t in enumerate(texts))
    chunks = [Chunk(chunk_id(doc_id, i), doc_id, i + 1, 0, len(t), t) for i, t in enumerate(texts)]
    return Document(doc_id, title, pages), chunks


def put(lib: Library, path: str, doc_id: str, texts: list[str], title: str = "Doc", tags=()) -> str:
    """Store a made document in a library open for writing, embedded by HashEmbedder; 'added' or 'updated'."""
    doc, chunks = make_doc(doc_id, texts, title)
    source = Source(path, doc_id, 10, 1)
    emb = HashEmbedder()
    return lib.write_document(doc, doc_id * 4, chunks, emb.embed([c.text for c in chunks]), source, emb.name, tags)
