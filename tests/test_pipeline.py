"""Batch ingestion end to end with a deterministic embedder: statuses, idempotence, bad files."""
import os
from dataclasses import replace
from pathlib import Path

import pytest
from fakes import HashEmbedder
from pdfs import write_encrypted, write_pdf

from index.search import search
from index.store import Library, LibraryError
from index.vector_file import load_latest
from ingest.pipeline import IngestOptions, discover, ingest
from ingest.readers import PDF_TEXT_ENGINES

EMB = HashEmbedder(dim=64, max_tokens=40)
OPTS = IngestOptions(max_tokens=40, overlap=8, batch_chunks=8)


def corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_pdf(root / "manual.pdf", ["Installing the pump\nOpen the valve before priming.",
                                    "", "Troubleshooting\nIf the pump hums, check the capacitor."], title="Pump manual")
    (root / "notes.txt").write_text("Field notes. The capacitor was replaced in March.\n")
    (root / "guide.md").write_text("# Wiring guide\n\nConnect the brown wire to L and the blue wire to N.\n")
    (root / "page.html").write_text("<html><head><title>FAQ</title><script>var x='hidden';</script></head>"
                                    "<body><h1>FAQ</h1><p>The warranty lasts two years.</p></body></html>")
    (root / "ignored.docx").write_bytes(b"not supported, skipped when found in a folder")
    (root / ".hidden.txt").write_text("hidden files are skipped")
    return root


def run(paths, lib_root: Path, options=OPTS):
    with Library.writing(lib_root, create=True) as lib:
        return {Path(r.path).name: r for r in ingest(paths, lib, EMB, options)}


def test_ingest_a_folder_of_every_kind(tmp_path):
    results = run([corpus(tmp_path / "docs")], tmp_path / "lib")
    assert sorted(results) == ["guide.md", "manual.pdf", "notes.txt", "page.html"]
    assert {r.status for r in results.values()} == {"added"}
    assert results["manual.pdf"].pages == 3
    with Library.open(tmp_path / "lib") as lib:
        titles = {d.title for d in lib.documents()}
        assert titles == {"Pump manual", "notes", "Wiring guide", "FAQ"}
        hits = search(lib, EMB, "pump hums capacitor", k=1, mode="lexical")
        assert hits[0].doc_title == "Pump manual" and hits[0].chunk.page == 3  # the blank page keeps numbering
        assert not search(lib, EMB, "hidden", k=5, mode="lexical")  # scripts and hidden files are not text


def test_second_run_changes_nothing(tmp_path):
    docs = corpus(tmp_path / "docs")
    run([docs], tmp_path / "lib")
    with Library.open(tmp_path / "lib") as lib:
        before = (lib.count("chunks"), lib.epoch())
    results = run([docs], tmp_path / "lib")
    assert {r.status for r in results.values()} == {"unchanged"}
    assert results["manual.pdf"].pages == 3 and results["manual.pdf"].chunks > 0
    with Library.open(tmp_path / "lib") as lib:
        assert (lib.count("chunks"), lib.epoch()) == before


def test_touched_but_identical_file_stays_unchanged(tmp_path):
    docs = corpus(tmp_path / "docs")
    run([docs], tmp_path / "lib")
    os.utime(docs / "notes.txt", ns=(1, 1))
    assert run([docs / "notes.txt"], tmp_path / "lib")["notes.txt"].status == "unchanged"


def test_changed_file_replaces_its_chunks(tmp_path):
    docs = corpus(tmp_path / "docs")
    run([docs], tmp_path / "lib")
    (docs / "notes.txt").write_text("Completely new notes about the impeller.\n")
    assert run([docs], tmp_path / "lib")["notes.txt"].status == "updated"
    with Library.open(tmp_path / "lib") as lib:
        assert not search(lib, EMB, "replaced March", k=5, mode="lexical")
        assert search(lib, EMB, "impeller", k=1, mode="lexical")[0].doc_title == "notes"
        assert len(lib.documents()) == 4


def test_a_file_changed_between_its_hash_and_its_parse_is_not_stored_under_the_old_hash(tmp_path, monkeypatch):
    from ingest import pipeline
    docs = tmp_path / "docs"
    docs.mkdir()
    notes = docs / "notes.txt"
    notes.write_text("Version one says the valve opens clockwise.\n")
    parsed = pipeline._parsed_in_order

    def edited_meanwhile(todo, options):  # the user saves the file after it was hashed, before it is read
        notes.write_text("Version two says the valve opens anticlockwise, always.\n")
        os.utime(notes, ns=(1, 1))
        yield from parsed(todo, options)
    monkeypatch.setattr(pipeline, "_parsed_in_order", edited_meanwhile)
    result = run([docs], tmp_path / "lib")["notes.txt"]
    assert result.status == "failed" and "changed while" in result.error
    monkeypatch.undo()
    assert run([docs], tmp_path / "lib")["notes.txt"].status == "added"  # the next run takes the new text
    (docs / "backup.txt").write_text("Version one says the valve opens clockwise.\n")
    assert run([docs / "backup.txt"], tmp_path / "lib")["backup.txt"].status == "added"  # not a 'copy' of version two


class InterruptedByTheLongDocument(HashEmbedder):
    """Ctrl-C while the long document's chunks are being embedded (they take minutes with a real model)."""

    def embed(self, texts, kind="document"):
        if any("filler" in t for t in texts):
            raise KeyboardInterrupt
        return super().embed(texts, kind)


def small_files_and_a_long_one(docs: Path, long_name: str) -> set[str]:
    docs.mkdir()
    small = {"b_small1.txt", "n_small2.txt", "y_small3.txt"}
    for name in small:
        (docs / name).write_text(f"{name} says the pump runs at 300 rpm.\n")
    (docs / long_name).write_text(" ".join(f"word{i} filler sentence number {i}." for i in range(2000)))
    return small


def assert_consistent(lib_root: Path) -> None:
    """The saved vector index is stamped with the last commit and holds exactly the stored chunks."""
    with Library.open(lib_root) as lib:
        stored = {cid for d in lib.documents() for cid in lib.chunk_ids_for([d.doc_id]).tolist()}
        epoch, index = load_latest(lib_root, lib.manifest["dim"])
        assert epoch == lib.epoch() and set(index.ids().tolist()) == stored


@pytest.mark.parametrize("long_name", ["a_long.txt", "m_long.txt", "z_long.txt"])
def test_an_interrupt_while_a_long_document_embeds_keeps_every_other_document(tmp_path, long_name):
    small = small_files_and_a_long_one(tmp_path / "docs", long_name)
    landed = []
    with pytest.raises(KeyboardInterrupt), Library.writing(tmp_path / "lib", create=True) as lib:
        for result in ingest([tmp_path / "docs"], lib, InterruptedByTheLongDocument(dim=64, max_tokens=40), OPTS):
            landed.append((Path(result.path).name, result.status))
    assert sorted(landed) == sorted((name, "added") for name in small)  # said as each landed, not held back
    with Library.open(tmp_path / "lib") as lib:
        assert {d.title for d in lib.documents()} == {Path(n).stem for n in small}
    assert_consistent(tmp_path / "lib")
    results = run([tmp_path / "docs"], tmp_path / "lib")  # the next run resumes
    assert results[long_name].status == "added" and {results[n].status for n in small} == {"unchanged"}
    assert_consistent(tmp_path / "lib")


def test_documents_are_written_while_the_next_file_is_still_being_parsed(tmp_path, monkeypatch):
    from ingest import pipeline
    small = small_files_and_a_long_one(tmp_path / "docs", "slow.txt")
    parsed = pipeline._parsed_in_order

    def slow_then_interrupted(todo, options):  # the last file's parse takes long, and the user gives up on it
        for item, doc in parsed(todo, options):
            if Path(item.source.path).name == "slow.txt":
                yield item, None  # what _parsed_in_order says when a parse has taken flush_seconds so far
                raise KeyboardInterrupt
            yield item, doc
    monkeypatch.setattr(pipeline, "_parsed_in_order", slow_then_interrupted)
    landed = []
    with pytest.raises(KeyboardInterrupt), Library.writing(tmp_path / "lib", create=True) as lib:
        for result in ingest([tmp_path / "docs"], lib, EMB, OPTS):
            landed.append(Path(result.path).name)
    assert sorted(landed) == sorted(small)
    assert_consistent(tmp_path / "lib")


def test_same_content_is_stored_once(tmp_path):
    docs = corpus(tmp_path / "docs")
    (docs / "copy.txt").write_bytes((docs / "notes.txt").read_bytes())
    results = run([docs], tmp_path / "lib")
    statuses = sorted(r.status for n, r in results.items() if n in ("copy.txt", "notes.txt"))
    assert statuses == ["added", "unchanged"]
    twin = results["notes.txt"] if results["notes.txt"].status == "unchanged" else results["copy.txt"]
    assert twin.duplicate_of == "copy" or twin.duplicate_of == "notes"
    with Library.open(tmp_path / "lib") as lib:
        assert len(lib.documents()) == 4
        assert len(lib.document(twin.doc_id).paths) == 2


@pytest.mark.parametrize("pdf_text", PDF_TEXT_ENGINES)
def test_bad_files_fail_alone_with_one_line_reasons(tmp_path, pdf_text):
    docs = corpus(tmp_path / "docs")
    (docs / "empty.pdf").write_bytes(b"")
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n garbage that is not a pdf \x00\x01")
    write_encrypted(docs / "locked.pdf", docs / "manual.pdf")
    write_pdf(docs / "scan.pdf", ["", ""])
    (docs / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e recipe".encode("latin-1"))
    results = run([docs, tmp_path / "missing.pdf"], tmp_path / "lib", replace(OPTS, pdf_text=pdf_text))
    errors = {n: r.error for n, r in results.items() if r.status == "failed"}
    assert set(errors) == {"empty.pdf", "corrupt.pdf", "locked.pdf", "scan.pdf", "missing.pdf"}
    assert "empty" in errors["empty.pdf"] and "password" in errors["locked.pdf"]
    assert errors["scan.pdf"] == "no text; scanned PDF?" and "no such file" in errors["missing.pdf"]
    assert all("\n" not in e for e in errors.values())
    assert results["latin1.txt"].status == "added"
    with Library.open(tmp_path / "lib") as lib:
        assert len(lib.documents()) == 5
        assert {p for p, _, _ in lib.failures()} == {str(docs / n) for n in errors if n != "missing.pdf"} | {
            str(tmp_path / "missing.pdf")}
        assert search(lib, EMB, "crème brûlée", k=1, mode="lexical")[0].doc_title == "latin1"
        hit = search(lib, EMB, "pump hums capacitor", k=1, mode="lexical")[0]
        assert (hit.doc_title, hit.chunk.page) == ("Pump manual", 3)


def test_file_over_the_size_limit_fails_alone(tmp_path):
    docs = corpus(tmp_path / "docs")
    (docs / "huge.txt").write_text("word " * 300_000)
    results = run([docs], tmp_path / "lib", IngestOptions(max_tokens=40, overlap=8, max_file_mb=1))
    assert results["huge.txt"].status == "failed" and "too large" in results["huge.txt"].error
    assert results["notes.txt"].status == "added"


def test_unsupported_file_named_explicitly_is_reported(tmp_path):
    (tmp_path / "a.docx").write_bytes(b"x")
    files, failed = discover([tmp_path / "a.docx"])
    assert files == [] and "unsupported file type .docx" in failed[0].error


@pytest.mark.parametrize("workers", [1, 2])
def test_chunks_respect_the_token_budget(tmp_path, workers):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.txt").write_text(" ".join(f"word{i}" for i in range(1000)))
    run([docs], tmp_path / "lib", IngestOptions(max_tokens=40, overlap=8, parse_workers=workers))
    with Library.open(tmp_path / "lib") as lib:
        [doc] = lib.documents()
        ids = lib.chunk_ids_for([doc.doc_id])
        chunks = [c for c, _ in lib.chunks(ids.tolist()).values()]
    assert all(len(EMB.token_spans(c.text)) <= 40 for c in chunks)
    assert len(chunks) >= 1000 // 40


def test_a_broken_link_in_a_folder_is_a_failure_that_names_its_target(tmp_path):
    (tmp_path / "a.txt").write_text("A real document.")
    (tmp_path / "gone.pdf").symlink_to(tmp_path / "moved-away.pdf")
    (tmp_path / "notes.bak").symlink_to(tmp_path / "nowhere")  # not named like a document: not ours to report
    found, failed = discover([tmp_path])
    assert [p.name for p in found] == ["a.txt"]
    assert [(Path(f.path).name, f.error) for f in failed] == [
        ("gone.pdf", f"broken symbolic link to {tmp_path / 'moved-away.pdf'}")]


def test_a_file_named_twice_is_taken_once_as_first_named(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("A real document.")
    (docs / "b.txt").symlink_to(docs / "a.txt")  # a link and its target: one file
    (docs / "dangling.txt").symlink_to("/nowhere")
    named = [docs, docs, docs / "a.txt", tmp_path / "docs" / ".." / "docs", docs / "dangling.txt"]
    found, failed = discover(named)
    assert found == [docs / "a.txt"]
    assert [(f.path, f.error) for f in failed] == [(str(docs / "dangling.txt"), "broken symbolic link to /nowhere")]
    with Library.writing(tmp_path / "lib", create=True) as lib:
        results = list(ingest([docs, docs], lib, EMB, OPTS))
    assert sorted((Path(r.path).name, r.status) for r in results) == [("a.txt", "added"), ("dangling.txt", "failed")]


def test_an_empty_tag_is_refused_before_any_file_is_read():
    with pytest.raises(LibraryError, match="a tag needs a name"):
        IngestOptions(tags=("manuals", " "))


def test_a_file_that_turns_corrupt_fails_saying_its_last_good_version_stays(tmp_path):
    docs = corpus(tmp_path / "docs")
    run([docs], tmp_path / "lib")
    (docs / "manual.pdf").write_bytes(b"%PDF-1.7 truncated by a bad copy")
    results = run([docs], tmp_path / "lib")
    assert results["manual.pdf"].status == "failed"
    assert results["manual.pdf"].error.endswith("its version ingested before stays in the library "
                                                "(groundwork delete removes it)")
    with Library.open(tmp_path / "lib") as lib:  # nothing lost: the last good text still answers
        assert search(lib, EMB, "pump hums capacitor", k=1, mode="lexical")[0].doc_title == "Pump manual"
