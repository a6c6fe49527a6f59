"""Citation markers in generated text: [n], [n, m] and [n][m] after a sentence."""
from __future__ import annotations

import re

from qa.text import flatten, sentence_spans

_MARKS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING = re.compile(r"^(?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+")


def cited_sentences(text: str, n_passages: int) -> list[tuple[str, tuple[int, ...]]]:
    """Each sentence of `text` without its markers, with the passage numbers it cites that exist."""
    out: list[tuple[str, tuple[int, ...]]] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        lead = _LEADING.match(piece)
        if lead and out:  # "Claim. [1] Next claim." : the marker closes the previous sentence
            prev_text, prev_cites = out[-1]
            out[-1] = (prev_text, _merge(prev_cites, _numbers(lead.group(0), n_passages)))
            piece = piece[lead.end():]
        sentence = flatten(_MARKS.sub("", piece))
        if sentence:
            out.append((sentence, _numbers(piece, n_passages)))
    return out


def _numbers(text: str, n_passages: int) -> tuple[int, ...]:
    found = (int(n) for group in _MARKS.findall(text) for n in re.split(r"\s*[,;]\s*", group))
    return tuple(dict.fromkeys(n for n in found if 1 <= n <= n_passages))  # markers that point nowhere go


def _merge(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(a + b))
