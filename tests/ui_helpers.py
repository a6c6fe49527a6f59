"""Shared by the UI tests: a small real library, model replies that cite the right passage, app runners."""
from __future__ import annotations

import re
from pathlib import Path

from pdfs import write_pdf
from streamlit.testing.v1 import AppTest

from app.cli import main
from index.store import Library

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "app" / "ui" / "main.py"
TIMEOUT = 120  # the first question loads the embedding model


def build_library(base: Path) -> tuple[Path, Path]:
    """Two PDFs and a Markdown file ingested with the real default embedder: (docs folder, library)."""
    docs = base / "docs"
    docs.mkdir(parents=True)
    write_pdf(docs / "stats.pdf", ["Fitting models\nUse lm(y ~ x) to fit a linear regression model.",
                                   "Plotting\nUse plot(x, y) to draw a scatter plot."], title="Stats guide")
    write_pdf(docs / "care.pdf", ["Watering\nWater the tomato plants every morning in summer."], title="Garden")
    (docs / "faq.md").write_text("# FAQ\n\nThe warranty of the pump lasts two years.\n")
    lib = base / "lib"
    assert main(["ingest", str(docs), "--library", str(lib), "--tag", "manuals"]) == 0
    return docs, lib


def citing(word: str, *sentences: str):
    """A model reply (a function of the request) whose sentences cite the passage holding `word` as [n]."""
    def reply(body: dict) -> str:
        blocks = body["messages"][-1]["content"].split("<passage n=")[1:]
        n = next(i for i, b in enumerate(blocks, start=1) if word in b)
        return " ".join(s.replace("[n]", f"[{n}]") for s in sentences)
    return reply


def ask_app() -> AppTest:
    """The whole app as `groundwork ui` runs it; it opens on the Ask page."""
    return AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)


def page_app(module: str) -> AppTest:
    """One page alone (AppTest cannot switch to pages defined by functions)."""
    return AppTest.from_string(f"from app.ui.{module} import page\npage()\n", default_timeout=TIMEOUT)


def html_text(at: AppTest) -> str:
    """All raw HTML the app rendered, joined: where answers, marks and anchors live."""
    return "\n".join(h.value for h in at.html)


def visible_text(markup: str) -> str:
    """Markup without its tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", markup).split())


def shown(markdown: str) -> str:
    """What a Markdown slot shows for text escaped by app.ui.plain: the escapes and word joiners gone."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


SECRET = "The bonus pool for 2027 is forty-two thousand kroner."
PASSWORDS = {"alice": "alice's long password", "bob": "bob's long password", "root": "root's long password"}


def build_team_library(base: Path) -> Path:
    """build_library's documents plus an HR memo only group `hr` may read; alice is in hr, bob is not, root is admin."""
    docs, lib = build_library(base)
    memo = base / "hr"
    memo.mkdir()
    write_pdf(memo / "memo.pdf", [f"Compensation\n{SECRET}"], title="HR memo")
    assert main(["ingest", str(memo), "--library", str(lib)]) == 0
    with Library.open(lib) as library:
        library.change_groups(library.resolve("HR memo"), allow=["hr"])
        library.accounts.add("alice", PASSWORDS["alice"], groups=["hr"])
        library.accounts.add("bob", PASSWORDS["bob"], groups=["sales"])
        library.accounts.add("root", PASSWORDS["root"], admin=True)
    return lib
