"""Answer and passage text as HTML: supporting words marked, citations linked, rejected sentences flagged.

Pure functions over strings; every piece of document or model text is escaped before
it reaches the page, so a passage can never inject markup.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to show why a passage supports a sentence.
_STOP = frozenset("""a an and are as at be by can do does for from has have how if in into is it its of on or
that the their then there these this to was were what when where which who will with you your not use""".split())


def support_spans(passage: str, sentences: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans of `passage` that support the sentences: a verbatim quote whole, else shared words."""
    spans: list[tuple[int, int]] = []
    for sentence in sentences:
        quote = _find_quote(passage, sentence)
        if quote:
            spans.append(quote)
            continue
        words = {w.lower() for w in _WORD.findall(sentence) if len(w) > 2 and w.lower() not in _STOP}
        spans += [m.span() for m in _WORD.finditer(passage) if m.group().lower() in words]
    return _merge(spans)


def _find_quote(passage: str, sentence: str) -> tuple[int, int] | None:
    """Where the sentence stands in the passage, whatever the line breaks and spacing."""
    words = _WORD.findall(sentence)
    if len(words) < 3:
        return None
    pattern = r"\W+".join(re.escape(w) for w in words)
    found = re.search(pattern, passage, flags=re.IGNORECASE)
    return found.span() if found else None


def _merge(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def marked_html(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The text escaped, with each span wrapped in <mark>."""
    out, at = [], 0
    for start, end in spans:
        out += [html.escape(text[at:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        at = end
    out.append(html.escape(text[at:]))
    return "".join(out).replace("\n", "<br>")


def citation_links(numbers: Iterable[int], anchor: str) -> str:
    """[1][2] as links to the source cards `{anchor}-1`, `{anchor}-2`."""
    return "".join(f'<a class="gw-cite" href="#{anchor}-{n}">[{n}]</a>' for n in numbers)


def sentence_html(text: str, numbers: Sequence[int], supported: bool, score: float, anchor: str) -> str:
    """One answer sentence; an unsupported one is struck through, with the reason on hover."""
    body = html.escape(text)
    links = citation_links(numbers, anchor)
    if supported:
        return f"{body} {links}"
    reason = html.escape(rejection_reason(numbers, score), quote=True)
    return (f'<span class="gw-unsupported" title="{reason}">✗ {body}</span> '
            f'<span class="gw-why">(not supported)</span>')


def rejection_reason(numbers: Sequence[int], score: float) -> str:
    """Why verification left a sentence out, in words."""
    if not numbers:
        return "No passage supports this sentence, so it was left out of the answer."
    cited = ", ".join(f"[{n}]" for n in numbers)
    return (f"The passage{'s' if len(numbers) > 1 else ''} it cites ({cited}) do not support it "
            f"(support score {score:.2f}), so it was left out of the answer.")
