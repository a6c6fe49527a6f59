"""How fast the text limits refuse a small PDF whose pages all share one huge content stream.

    python bench/pdf_bomb.py                     # 2,000 pages sharing one ~1.6M-character page
    python bench/pdf_bomb.py --pages 200 --lines 1000

Reads the file as ingest's parser worker does (default limits: `max_pages`, `max_chars`), with
each PDF text engine, and prints the time to refusal, the pages read and the peak memory.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the PDF helpers the tests use

from pdfs import write_shared_pages  # noqa: E402

from ingest.readers import PDF_TEXT_ENGINES, Limits, ReadError, read_document  # noqa: E402


def main() -> None:
    """Write the PDF, read it with each engine under the default limits, print what happened."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=13_333, help="120-character lines on the shared page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_shared_pages(Path(tmp) / "bomb.pdf", args.pages, args.lines)
        print(f"{path.stat().st_size / 1024:.0f} KB, {args.pages} pages of ~{args.lines * 120:,} characters; "
              f"limits {Limits()}")
        for engine in PDF_TEXT_ENGINES:
            start = time.monotonic()
            try:
                doc = read_document(path, "bomb", engine)
                outcome = f"read {len(doc.pages)} pages"
            except ReadError as exc:
                outcome = str(exc)
            print(f"{engine}: {time.monotonic() - start:.1f} s: {outcome}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
