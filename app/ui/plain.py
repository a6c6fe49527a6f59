"""Text from documents, file names, users or servers made to show as written where Streamlit reads Markdown.

Expander labels, captions, alerts, progress text and image captions render Markdown with
Streamlit's additions: a document title such as `![x](http://host/x.png)` would place an image
that calls another host, and `:red[..]`, `$..$` or `:material/icon:` would colour, typeset or
draw. Every ASCII punctuation mark is backslash-escaped (CommonMark shows each literally), and
a word joiner (U+2060, invisible) breaks the patterns that plugins find in the text after
parsing, where escapes no longer count: URLs and e-mail addresses made links, icon shortcodes.
Widgets that show plain text (select boxes, data frames) take the text unchanged.
"""
from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_JOINER = "\u2060"
_AUTOLINKED = re.compile(r"(?<=:)|(?=@)|(?<=www)(?=\.)", re.IGNORECASE)


def plain(text: object) -> str:
    """`text` on one line, escaped so that a Streamlit Markdown slot shows it literally."""
    line = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINKED.sub(_JOINER, line))
