"""Eval question sets: validate one against the documents it was written from.

    python -m eval.dataset [FILE]                  # default: eval/data/r-manuals.jsonl, against samples/
    python -m eval.dataset FILE --docs PATH ...    # against other documents: folders or files, named by file name
    python -m eval.dataset FILE --library DIR      # against the pages stored in a library (eval generate's drafts)

Checks the shape of every row, that ids are unique, that a set split into dev and test
keeps each document's dev and test pages apart (by document or page range), and that
every answer string appears, after `normalise`, in the text of at least one of the row's
stated pages of its stated document: the text ingest reads from the documents in samples/
(or the folders and files given with --docs), or the page text a library stored.
Prints a summary; exits 1 with one line per problem when any check fails.
"""
from __future__ import annotations

import argparse
import codecs
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from index.records import DocumentInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_DATASET = HERE / "data" / "r-manuals.jsonl"
DEFAULT_DOCS = ROOT / "samples"
FIELDS = ("id", "question", "answers", "doc", "pages", "answerable")
SPLITS = ("dev", "test")  # the optional "split" field: tune on dev, report on test
_SPACE = re.compile(r"\s+")

# (doc file name, 1-based page) -> page text, or None when the doc or page does not exist.
PageText = Callable[[str, int], "str | None"]


def normalise(text: str) -> str:
    """Casefold and collapse every run of whitespace to one space: how answers are matched."""
    return _SPACE.sub(" ", text.casefold()).strip()


def answer_in(answer: str, text: str) -> bool:
    """Whether answer occurs in text, both normalised (a plain substring test)."""
    return normalise(answer) in normalise(text)


def read_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The JSON objects of a JSONL file, and a problem line for each line that is not one."""
    rows, problems = [], []
    data = path.read_bytes()
    # Windows tools save UTF-8 with a BOM (Notepad, Excel) or UTF-16 (PowerShell's `>`).
    wide = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        text = data.decode("utf-16" if wide else "utf-8-sig")
    except UnicodeDecodeError as exc:  # where in the file: a UTF-8 BOM is taken off before the codec reads the rest
        at, kind = exc.start + len(data) - len(exc.object), "UTF-16" if wide else "UTF-8"
        return [], [f"not {kind} text (byte {data[at]:#04x} at offset {at}); save the file as UTF-8"]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            problems.append(f"line {number}: not a JSON object")
            continue
        rows.append(row)
    return rows, problems


def shape_problems(row: dict[str, Any]) -> list[str]:
    """What is wrong with one row's fields and types, ignoring the PDFs."""
    rid = row.get("id", "?")
    missing = [f for f in FIELDS if f not in row]
    extra = sorted(set(row) - set(FIELDS) - {"split"})
    if missing or extra:
        return [f"{rid}: fields must be exactly {list(FIELDS)}, and optionally split"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {extra}" if extra else "")]
    problems = []
    if "split" in row and row["split"] not in SPLITS:
        problems.append(f"{rid}: split must be one of {list(SPLITS)}")
    if not isinstance(row["id"], str) or not row["id"]:
        problems.append(f"{rid}: id must be a non-empty string")
    if not isinstance(row["question"], str) or not row["question"].strip():
        problems.append(f"{rid}: question must be a non-empty string")
    answers, pages = row["answers"], row["pages"]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        problems.append(f"{rid}: answers must be a list of non-empty strings")
    if not isinstance(pages, list) or not all(_is_page(p) for p in pages):
        problems.append(f"{rid}: pages must be a list of integers >= 1")
    if row["answerable"] is True:
        if not (isinstance(row["doc"], str) and row["doc"]) or not answers or not pages:
            problems.append(f"{rid}: an answerable row needs a doc, answers and pages")
    elif row["answerable"] is False:
        if row["doc"] is not None or answers or pages:
            problems.append(f"{rid}: an unanswerable row has doc null, answers [] and pages []")
    else:
        problems.append(f"{rid}: answerable must be true or false")
    return problems


def _is_page(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def evidence_problems(row: dict[str, Any], page_text: PageText) -> list[str]:
    """Stated pages that do not exist, and answers found on none of the stated pages."""
    texts, problems = [], []
    for page in row["pages"]:
        text = page_text(row["doc"], page)
        if text is None:
            problems.append(f"{row['id']}: no page {page} in {row['doc']} "
                            f"(no such document, or it is shorter)")
        else:
            texts.append(text)
    for answer in row["answers"]:
        if texts and not any(answer_in(answer, text) for text in texts):
            problems.append(f"{row['id']}: answer {answer!r} is not on "
                            f"{row['doc']} page(s) {row['pages']}")
    return problems


def split_problems(rows: list[dict[str, Any]]) -> list[str]:
    """Rows without a split in a set that has one, and documents whose dev and test pages interleave."""
    split = [r for r in rows if "split" in r]
    if not split:
        return []
    problems = [f"{r.get('id', '?')}: no split, while other rows have one" for r in rows if "split" not in r]
    pages: dict[str, dict[str, list[int]]] = {}
    for r in split:
        if r.get("answerable") is True and not shape_problems(r):
            pages.setdefault(r["doc"], {}).setdefault(r["split"], []).extend(r["pages"])
    for doc, by_split in sorted(pages.items()):
        dev, test = by_split.get("dev"), by_split.get("test")
        if dev and test and not (max(dev) < min(test) or max(test) < min(dev)):
            problems.append(f"{doc}: dev pages {min(dev)}-{max(dev)} and test pages {min(test)}-{max(test)} "
                            f"overlap; split by document or by page range")
    return problems


def check_rows(rows: Iterable[dict[str, Any]], page_text: PageText) -> list[str]:
    """Every problem with a question set: shape, duplicate ids, split, answers missing from pages."""
    rows = list(rows)
    problems: list[str] = []
    seen: Counter[str] = Counter()
    for row in rows:
        row_problems = shape_problems(row)
        problems += row_problems
        if isinstance(row.get("id"), str):
            seen[row["id"]] += 1
        if not row_problems and row["answerable"]:
            problems += evidence_problems(row, page_text)
    problems += [f"{rid}: id used {n} times" for rid, n in seen.items() if n > 1]
    return problems + split_problems(rows)


def file_pages(sources: Iterable[Path]) -> PageText:
    """A PageText over the documents in `sources` (folders or files), read the way ingest reads them, each once.

    A row names a document by its file name; a folder contributes the files directly in it whose type
    ingest reads (PDF, HTML, text, Markdown), so the check works for any documents, not only samples/.
    """
    # Imported here so that the pure checks above need neither ingest nor pypdf.
    from ingest.readers import SUPPORTED_SUFFIXES, ReadError, read_document

    files: dict[str, Path] = {}
    for source in sources:
        found = sorted(source.iterdir()) if source.is_dir() else [source]
        for f in (f for f in found if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES):
            if f.name in files and files[f.name].resolve() != f.resolve():  # a row could mean either
                raise ReadError(f"two documents named {f.name}: {files[f.name]} and {f}; a row names one by file name")
            files[f.name] = f
    cache: dict[str, tuple[str, ...] | None] = {}

    def page_text(doc: str, page: int) -> str | None:
        if doc not in cache:
            path = files.get(doc)
            try:
                cache[doc] = tuple(p.text for p in read_document(path, path.stem).pages) if path else None
            except ReadError as exc:
                raise ReadError(f"cannot read {path}: {exc}") from exc
        pages = cache[doc]
        return pages[page - 1] if pages is not None and page <= len(pages) else None

    return page_text


def doc_names(documents: Iterable[DocumentInfo]) -> dict[str, frozenset[str]]:
    """Every name a dataset may give each document: its title, and its files' names with and without extension."""
    return {d.doc_id: frozenset({d.title, *(Path(p).name for p in d.paths), *(Path(p).stem for p in d.paths)})
            for d in documents}


def library_pages(library) -> PageText:
    """A PageText over the pages a library stored; a doc is named as `eval run` names it (title, file name or stem)."""
    ids: dict[str, set[str]] = {}
    for doc_id, names in doc_names(library.documents()).items():
        for name in names:
            ids.setdefault(name, set()).add(doc_id)

    def page_text(doc: str, page: int) -> str | None:
        found = ids.get(doc, set())
        return library.page_text(next(iter(found)), page) if len(found) == 1 else None

    return page_text


def check_file(path: Path = DEFAULT_DATASET, page_text: PageText | None = None
               ) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of a dataset file and every problem found in it (pages from samples/ unless page_text is given)."""
    rows, problems = read_rows(path)
    empty = [] if rows or problems else [f"{path} holds no questions"]  # `eval run` refuses it: so does the check
    return rows, problems + empty + check_rows(rows, page_text or file_pages([DEFAULT_DOCS]))


def summary(rows: list[dict[str, Any]]) -> str:
    """Counts per document, per kind (the middle part of an id like 'intro-howto-01') and overall."""
    answerable = [r for r in rows if r.get("answerable") is True]
    per_doc = Counter(str(r.get("doc")) for r in answerable)
    per_kind = Counter(_kind(r) for r in answerable)
    lines = [f"{len(rows)} questions: {len(answerable)} answerable, "
             f"{len(rows) - len(answerable)} unanswerable"]
    lines += [f"  {doc:<12} {n}" for doc, n in sorted(per_doc.items())]
    lines.append("  kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(per_kind.items())))
    for split in SPLITS:
        part = [r for r in rows if r.get("split") == split]
        if part:
            none = sum(r.get("answerable") is False for r in part)
            lines.append(f"  {split}: {len(part)} questions, {none} unanswerable ({none / len(part):.0%}); "
                         f"documents {', '.join(sorted({str(r['doc']) for r in part if r.get('doc')}))}")
    return "\n".join(lines)


def _kind(row: dict[str, Any]) -> str:
    parts = str(row.get("id", "")).split("-")
    return parts[1] if len(parts) == 3 else "other"


def main(argv: list[str]) -> int:
    """Check the file named in argv (or the default set), print a summary, return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m eval.dataset", description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT_DATASET), help="question-set JSONL")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--docs", nargs="+", metavar="PATH",
                       help="check pages against these documents (folders or files) instead of samples/")
    where.add_argument("--library", help="check pages against this library instead of the documents in samples/")
    args = parser.parse_args(argv)
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}; run: python -m eval.dataset FILE.jsonl")
        return 2
    missing = [d for d in args.docs or () if not Path(d).exists()]
    if missing:
        print(f"error: no such file or folder: {missing[0]}; --docs takes the folders or files the set was written from")
        return 2
    if args.docs:
        from ingest.readers import ReadError
        try:
            rows, problems = check_file(path, file_pages(map(Path, args.docs)))
        except ReadError as exc:
            print(f"error: {exc}")
            return 2
    elif args.library is None:
        rows, problems = check_file(path)
    else:
        from index.store import Library, LibraryError
        try:
            library = Library.open(args.library)
        except LibraryError as exc:
            print(f"error: {exc}")
            return 2
        with library:
            rows, problems = check_file(path, library_pages(library))
    for problem in problems:
        print(f"problem: {problem}")
    print(summary(rows))
    print(f"{'FAILED' if problems else 'OK'}: {len(problems)} problem(s) in {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    # Run as a script from a checkout: make `ingest` importable without an install.
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
