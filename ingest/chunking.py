"""Split pages into overlapping token windows that never cross a page."""
from __future__ import annotations

import hashlib
from typing import Protocol, Sequence

from index.records import Chunk, Page

# How far back from a full window we look for a sentence or paragraph end.
_BOUNDARY_ZONE = 0.3
# How many tokens a window start may move back to reach the start of a word: a path or a dotted
# name runs to a dozen word pieces or more (/usr/lib/jvm/java-17-openjdk-amd64/lib/server).
_MAX_START_SLIDE = 24
_INT63 = (1 << 63) - 1
_SENTENCE_ENDS = ".!?\u2026"
_CJK_SENTENCE_ENDS = "\u3002\uff01\uff1f"  # these need no space after them
_CLOSERS = "\"')]}\u201d\u2019\u00bb"
# Boundary strength before a token, weakest first.
_MID_WORD, _WORD, _SENTENCE, _PARAGRAPH = range(4)


class Tokenizer(Protocol):
    """Splits text into tokens, reported as character spans."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans (start, end) of each token of text, without special tokens."""
        ...


def chunk_id(doc_id: str, ordinal: int) -> int:
    """A positive 63-bit id for a document's ordinal-th chunk, the same on every machine."""
    digest = hashlib.blake2b(f"{doc_id}:{ordinal}".encode("utf-8"), digest_size=8).digest()
    return (int.from_bytes(digest, "big") & _INT63) or 1  # FAISS ids are signed 64-bit


def chunk_pages(
    pages: Sequence[Page], tokenizer: Tokenizer, max_tokens: int, overlap: int
) -> list[Chunk]:
    """Cover each page's text with windows of at most max_tokens tokens sharing overlap tokens."""
    if max_tokens < 1 or not 0 <= overlap < max_tokens:
        raise ValueError(f"need max_tokens >= 1 and 0 <= overlap < max_tokens, "
                         f"got {max_tokens=} {overlap=}")
    chunks: list[Chunk] = []
    ordinals: dict[str, int] = {}  # per document, so ids do not depend on batching
    for page in pages:
        for start, end in _page_windows(page.text, tokenizer, max_tokens, overlap):
            ordinal = ordinals.get(page.doc_id, 0)
            ordinals[page.doc_id] = ordinal + 1
            chunks.append(Chunk(chunk_id(page.doc_id, ordinal), page.doc_id, page.number,
                                start, end, page.text[start:end]))
    return chunks


def _page_windows(
    text: str, tokenizer: Tokenizer, max_tokens: int, overlap: int
) -> list[tuple[int, int]]:
    """Character spans of one page's chunks; together they cover every character."""
    if not text.strip():
        return []
    spans = tokenizer.token_spans(text)
    if not spans:  # text the tokenizer ignores entirely is still covered
        return [(0, len(text))]
    return _Walk(text, spans, tokenizer, max_tokens, overlap).windows()


class _Walk:
    """One pass over a page's tokens, emitting windows as token index ranges [i, j)."""

    def __init__(self, text: str, spans: list[tuple[int, int]], tokenizer: Tokenizer,
                 max_tokens: int, overlap: int) -> None:
        self.text, self.tokenizer = text, tokenizer
        self.max_tokens, self.overlap = max_tokens, overlap
        self.starts = [start for start, _ in spans]
        self.rank = _boundary_ranks(text, spans)
        self.slide = max(0, min(_MAX_START_SLIDE, max_tokens - overlap - 1))
        self.min_tokens = max(max_tokens - int(max_tokens * _BOUNDARY_ZONE), overlap + 1)

    def windows(self) -> list[tuple[int, int]]:
        """Character spans of the windows, first to last."""
        n, result = len(self.starts), []
        i = previous_end = 0
        while True:
            # The floor keeps each window ending past the last one, so the walk is O(n).
            floor = max(i + self.min_tokens, previous_end + 1)
            hard = min(i + self.max_tokens, n)
            j = n if hard == n else self._best_end(hard, floor)
            j = self._fit(i, j, floor)
            result.append(self._chars(i, j))
            if j >= n:
                return result
            previous_end, i = j, self._next_start(i, j)

    def _best_end(self, hard: int, floor: int) -> int:
        """The latest strongest boundary in [floor, hard]; hard when there is none."""
        best = hard
        for k in range(hard, floor - 1, -1):
            if self.rank[k] > self.rank[best]:
                best = k
                if self.rank[k] == _PARAGRAPH:
                    break
        return best

    def _fit(self, i: int, j: int, floor: int) -> int:
        """Shrink [i, j) until its text re-tokenizes to at most max_tokens tokens."""
        # Word pieces at a cut can re-tokenize differently, so check the real text.
        while j - i > 1:
            start, end = self._chars(i, j)
            excess = len(self.tokenizer.token_spans(self.text[start:end])) - self.max_tokens
            if excess <= 0:
                break
            j = self._best_end(max(i + 1, j - excess), floor)
        return j

    def _next_start(self, i: int, j: int) -> int:
        """Overlap tokens before j, moved back a little to the start of a word if need be."""
        # After _fit shrank a window below overlap + 1 tokens, fewer are shared: progress first.
        start = max(j - self.overlap, i + 1)
        for k in range(start, max(i + 1, start - self.slide) - 1, -1):
            if self.rank[k] >= _WORD:
                return k
        return start

    def _chars(self, i: int, j: int) -> tuple[int, int]:
        """Character span of tokens [i, j), stretched to the next token or the page ends."""
        start = 0 if i == 0 else self.starts[i]
        end = len(self.text) if j >= len(self.starts) else self.starts[j]
        return start, end


def _boundary_ranks(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """For each token, the strongest boundary just before it (_MID_WORD .. _PARAGRAPH)."""
    ranks = [_PARAGRAPH]
    for (_, previous_end), (start, _) in zip(spans, spans[1:]):
        gap = text[previous_end:start]
        if start < previous_end:
            ranks.append(_MID_WORD)  # part of one character
        elif gap.count("\n") >= 2:
            ranks.append(_PARAGRAPH)
        elif _ends_sentence(text, previous_end, gap):
            ranks.append(_SENTENCE)
        elif not any(ch.isspace() for ch in gap):
            # A word piece, or punctuation or a path's next part ('/usr/|lib', 'to|,', '2|.1'): a window
            # starting there offers a reader a fragment ('lib/R ...') where the sentence starts earlier.
            ranks.append(_MID_WORD)
        else:
            ranks.append(_WORD)
    return ranks


def _ends_sentence(text: str, end: int, gap: str) -> bool:
    """Whether the text before `end` closes a sentence (closing quotes allowed)."""
    tail = text[max(0, end - 3):end].rstrip(_CLOSERS)
    if not tail:
        return False
    return tail[-1] in _CJK_SENTENCE_ENDS or (tail[-1] in _SENTENCE_ENDS and gap[:1].isspace())
