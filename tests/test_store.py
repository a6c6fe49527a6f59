"""The library on disk: one transaction per document, FAISS reconciled with SQLite, model guard."""
import os
import signal

import numpy as np
import pytest
from fakes import HashEmbedder, make_doc, put

from index.records import Chunk, Document, Page
from index.search import search
from index.store import Library, LibraryError, Source
from ingest.chunking import chunk_id

EMB = HashEmbedder()


@pytest.fixture
def lib(tmp_path):
    with Library.writing(tmp_path / "lib", create=True) as library:
        yield library


def test_open_missing_library_says_what_to_run(tmp_path):
    with pytest.raises(LibraryError, match="run: groundwork ingest"):
        Library.open(tmp_path / "nowhere")


def test_a_library_path_that_is_a_file_or_another_database_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for create in (True, False):  # not the advice to ingest into it, which cannot make a library there either
        with pytest.raises(LibraryError, match="notes.txt is a file, not a library folder; name a folder"):
            Library.open(tmp_path / "notes.txt", create=create)
    with pytest.raises(LibraryError, match="cannot make library folder .*; pick another --library"):
        Library.open(tmp_path / "notes.txt" / "lib", create=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "library.sqlite").write_text("not a database")
    with pytest.raises(LibraryError, match="file is not a database; is --library .* a Groundwork library"):
        Library.open(tmp_path / "other")


@pytest.mark.parametrize("damage", [b"{bad", b"[]", b"\xff\xfe"])
def test_a_damaged_manifest_is_one_line_naming_it(lib, damage):
    (lib.root / "manifest.json").write_bytes(damage)
    with pytest.raises(LibraryError, match="manifest.json is damaged"):
        lib.check_model("any-model")


def test_write_then_read_back(lib):
    assert put(lib, "/a.pdf", "aaaa", ["alpha beta", "gamma delta"], "Alpha") == "added"
    [info] = lib.documents()
    assert (info.title, info.pages, info.chunks, info.paths) == ("Alpha", 2, 2, ("/a.pdf",))
    assert lib.page_text("aaaa", 2) == "gamma delta"
    assert lib.vectors.ntotal == 2
    assert lib.manifest["embedding_model"] == EMB.name and lib.manifest["dim"] == EMB.dim


def test_changed_file_replaces_its_old_document(lib):
    put(lib, "/a.pdf", "old0", ["the old text about kittens"])
    assert put(lib, "/a.pdf", "new0", ["the new text about puppies"]) == "updated"
    assert [d.doc_id for d in lib.documents()] == ["new0"]
    assert lib.vectors.ntotal == 1
    assert lib.lexical('"kittens"', 10) == []
    assert len(lib.lexical('"puppies"', 10)) == 1


def test_old_content_kept_while_another_file_still_has_it(lib):
    put(lib, "/a.pdf", "same", ["shared words"])
    lib.link_source(Source("/b.pdf", "same", 10, 1))
    put(lib, "/a.pdf", "diff", ["other words"])
    assert sorted(d.doc_id for d in lib.documents()) == ["diff", "same"]
    assert lib.document("same").paths == ("/b.pdf",)


def test_delete_removes_everywhere(lib):
    put(lib, "/a.pdf", "aaaa", ["zebra stripes"], tags=["zoo"])
    put(lib, "/b.pdf", "bbbb", ["lion mane"])
    lib.delete_document("aaaa")
    assert [d.doc_id for d in lib.documents()] == ["bbbb"]
    assert lib.lexical('"zebra"', 10) == []
    assert lib.vectors.ntotal == 1
    assert lib.count("pages") == 1 and lib.count("tags") == 0 and lib.count("sources") == 1


def test_stale_vector_file_is_reconciled_on_open(tmp_path):
    root = tmp_path / "lib"
    with Library.writing(root, create=True) as lib:
        put(lib, "/a.pdf", "aaaa", ["first document about owls"])
        lib.save_vectors()
        put(lib, "/b.pdf", "bbbb", ["second document about otters"])
        lib.delete_document("aaaa")
        # no save: the FAISS file on disk still holds 'aaaa' and lacks 'bbbb', as after a kill
    with Library.open(root) as lib:
        assert lib.vectors.ntotal == 1
        hits = search(lib, EMB, "otters", k=3, mode="dense")
        assert [p.chunk.doc_id for p in hits] == ["bbbb"]


def test_vectors_rebuilt_when_the_file_is_missing(tmp_path):
    root = tmp_path / "lib"
    with Library.writing(root, create=True) as lib:
        put(lib, "/a.pdf", "aaaa", ["one", "two", "three"])
        lib.save_vectors()
    for f in root.glob("vectors.*"):
        f.unlink()
    with Library.open(root) as lib:
        assert lib.vectors.ntotal == 3


@pytest.mark.parametrize("damage", ["faiss", "truncated", "json"])
def test_vectors_rebuilt_when_the_file_is_damaged(tmp_path, damage):
    root = tmp_path / "lib"
    with Library.writing(root, create=True) as lib:
        put(lib, "/a.pdf", "aaaa", ["owls at night", "otters by day", "bats at dusk"])
        lib.save_vectors()
    saved = next(root.glob("vectors.*.faiss"))
    if damage == "faiss":
        saved.write_text("garbage")
    elif damage == "truncated":
        saved.write_bytes(saved.read_bytes()[:100])
    else:
        saved.with_suffix(".json").write_text("{bad")
    with Library.open(root) as lib:  # a cache of what SQLite holds: rebuilt, not a crash on every search
        assert lib.vectors.ntotal == 3
        assert search(lib, EMB, "otters by day", mode="dense")[0].chunk.text == "otters by day"


def test_saved_index_is_stamped_with_the_commit(tmp_path):
    root = tmp_path / "lib"
    with Library.writing(root, create=True) as lib:
        put(lib, "/a.pdf", "aaaa", ["one"])
        lib.save_vectors()
        assert [p.name for p in root.glob("vectors.*.faiss")] == [f"vectors.{lib.epoch()}.faiss"]


def test_library_refuses_another_embedding_model(lib):
    put(lib, "/a.pdf", "aaaa", ["text"])
    other = HashEmbedder(name="other/model")
    with pytest.raises(LibraryError, match="built with embedding model 'test/hash-embedder'"):
        search(lib, other, "text", mode="dense")


def test_one_writer_at_a_time(lib):
    with pytest.raises(LibraryError, match="another process is writing"), Library.writing(lib.root):
        pass


def test_a_failed_write_leaves_nothing_behind(lib):
    doc, chunks = make_doc("bad0", ["x", "y"])
    with pytest.raises(Exception):
        # a duplicate chunk id violates the primary key halfway through the transaction
        lib.write_document(doc, "shabad", [chunks[0], chunks[0]], EMB.embed(["x", "x"]),
                           Source("/bad.pdf", "bad0", 1, 1), EMB.name)
    assert lib.documents() == [] and lib.count("chunks") == 0 and lib.vectors.ntotal == 0


def test_resolve_by_id_prefix_title_and_path(lib, tmp_path):
    put(lib, str(tmp_path / "x.pdf"), "abcd1234", ["text"], title="Manual")
    assert lib.resolve("abcd") == "abcd1234"
    assert lib.resolve("Manual") == "abcd1234"
    assert lib.resolve(str(tmp_path / "x.pdf")) == "abcd1234"
    with pytest.raises(LibraryError, match="no document"):
        lib.resolve("nothing")


@pytest.mark.parametrize("ref", ["", "  ", "%", "%1234", "abcd_234", "_", "a%", "\\", "Man%", "%anual"])
def test_resolve_takes_references_literally_never_as_patterns(lib, tmp_path, ref):
    put(lib, str(tmp_path / "x.pdf"), "abcd1234", ["text"], title="Manual")
    with pytest.raises(LibraryError, match="empty" if not ref.strip() else "no document"):
        lib.resolve(ref)


def test_resolve_lists_every_document_an_ambiguous_reference_names(lib, tmp_path):
    put(lib, str(tmp_path / "x.pdf"), "abcd1234", ["one"], title="Manual")
    put(lib, str(tmp_path / "y.pdf"), "abce5678", ["two"], title="Manual")
    put(lib, str(tmp_path / "z.pdf"), "ffff0000", ["three"], title="abce5678")
    for ref, ids in (("abc", ["abcd1234", "abce5678"]), ("Manual", ["abcd1234", "abce5678"]),
                     ("abce5678", ["abce5678", "ffff0000"])):  # an id that is also another's title
        with pytest.raises(LibraryError, match=f"names 2 documents: {ids[0]} .*{ids[1]} ") as err:
            lib.resolve(ref)
        assert "\n" not in str(err.value)
    assert lib.resolve("ffff") == "ffff0000"  # a prefix only for ids, and only when one matches
    for n in range(12):
        put(lib, str(tmp_path / f"{n}.pdf"), f"aaaa{n:04d}", [f"text {n}"], title=f"T{n}")
    with pytest.raises(LibraryError, match=r"names 12 documents: aaaa0000 \(T0\), .*aaaa0009 \(T9\) and 2 more;"):
        lib.resolve("aaaa")


def test_failures_recorded_and_cleared_by_success(lib):
    lib.record_failure("/a.pdf", "encrypted PDF (password required)")
    assert lib.failures()[0][:2] == ("/a.pdf", "encrypted PDF (password required)")
    put(lib, "/a.pdf", "aaaa", ["now readable"])
    assert lib.failures() == []
    assert np.all(lib.chunk_ids_for(["aaaa"]) > 0)


def test_ivf_index_is_saved_with_its_settings_and_reloaded(tmp_path):
    root = tmp_path / "lib"
    words = [f"w{i}" for i in range(400)]
    with Library.writing(root, create=True) as lib:
        rng = np.random.default_rng(1)
        for d in range(40):
            put(lib, f"/{d}.txt", f"doc{d:04d}", [" ".join(rng.choice(words, 12)) for _ in range(60)])
        built = lib.rebuild_vectors(ivf_threshold=1000)
        assert built.settings.kind == "ivf" and built.settings.measured_recall >= 0.95
    with Library.open(root) as lib:
        assert lib.vectors.settings == built.settings and lib.vectors.ntotal == 2400
        hits = search(lib, EMB, "w1 w2 w3", k=5, mode="dense")
        assert len(hits) == 5



def test_rebuild_into_ivfpq_searches_through_the_stored_vectors(tmp_path):
    from index.vectors import exact_top_k, recall_at_k
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(200, 64)).astype(np.float32)
    vecs = centres[rng.integers(0, 200, 12_000)] + rng.normal(scale=0.1, size=(12_000, 64)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.array([chunk_id(f"d{d}", i) for d in range(12) for i in range(1000)], np.int64)
    with Library.writing(tmp_path / "lib", create=True) as lib:
        for d in range(12):
            doc = Document(f"d{d}", f"Doc {d}", (Page(f"d{d}", 1, "x " * 1000),))
            chunks = [Chunk(int(ids[d * 1000 + i]), f"d{d}", 1, i, i + 1, "x") for i in range(1000)]
            lib.write_document(doc, f"{d:064x}", chunks, vecs[d * 1000:(d + 1) * 1000],
                               Source(f"/d{d}.txt", f"d{d}", 1, d), "m", ())
        assert lib.rebuild_vectors(ivf_threshold=1000, pq_threshold=5000).settings.kind == "ivfpq"
        _, found = lib.vectors.search(vecs[:50], 10)
    with Library.open(tmp_path / "lib") as lib:  # reloaded from disk: still re-ranks through SQLite
        assert lib.vectors.settings.kind == "ivfpq"
        _, again = lib.vectors.search(vecs[:50], 10)
    assert (again == found).all()
    assert recall_at_k(found, exact_top_k(vecs, vecs[:50], 10, ids)) >= 0.92


def test_the_write_context_takes_the_lock_and_saves_the_vectors_even_after_a_failure(tmp_path):
    root = tmp_path / "lib"
    with pytest.raises(ZeroDivisionError), Library.writing(root, create=True) as lib:
        put(lib, "/a.pdf", "aaaa", ["owls at night"])
        epoch = lib.epoch()
        1 / 0
    assert [p.name for p in root.glob("vectors.*.faiss")] == [f"vectors.{epoch}.faiss"]
    with Library.open(root) as lib, pytest.raises(RuntimeError, match="Library.writing"):
        put(lib, "/b.pdf", "bbbb", ["otters by day"])


def test_ctrl_c_between_a_commit_and_its_vectors_waits_for_both(tmp_path, monkeypatch):
    root = tmp_path / "lib"
    with pytest.raises(KeyboardInterrupt), Library.writing(root, create=True) as lib:
        put(lib, "/a.pdf", "aaaa", ["otters by day"])
        index = lib.vectors
        add = index.add

        def interrupted(ids, vectors):  # Ctrl-C lands after the rows are committed, before their vectors
            signal.raise_signal(signal.SIGINT)
            add(ids, vectors)
        monkeypatch.setattr(index, "add", interrupted)
        put(lib, "/b.pdf", "bbbb", ["owls at night"])
    with Library.open(root) as lib:  # the vector file saved on the way out holds the committed document
        assert lib.count("chunks") == 2 and lib.vectors.ntotal == 2
        assert search(lib, EMB, "owls at night", mode="dense")[0].chunk.doc_id == "bbbb"


def test_a_new_library_folder_is_its_owners_only_unless_asked(tmp_path):
    old = os.umask(0o022)
    try:
        Library.open(tmp_path / "private" / "lib", create=True).close()
        Library.open(tmp_path / "shared", create=True, mode=0o750).close()
        (tmp_path / "mine").mkdir(mode=0o755)
        Library.open(tmp_path / "mine", create=True).close()
    finally:
        os.umask(old)
    assert (tmp_path / "private" / "lib").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "mine").stat().st_mode & 0o777 == 0o755  # a folder the user made keeps its mode


def test_word_counts_follow_an_ingest_through_another_handle(tmp_path):
    """A long-lived handle (the UI's) weighs a question's words by the library as it stands, not as first seen."""
    root = tmp_path / "lib"
    with Library.writing(root, create=True) as first:
        put(first, "/a.pdf", "aaaa", ["priming the pump"])
    with Library.open(root) as ui:
        assert ui.doc_freq("pump") == 1
        with Library.writing(root) as other:  # another process's ingest: ui's handle commits nothing
            put(other, "/b.pdf", "bbbb", ["the pump again", "a pump once more"])
        assert ui.doc_freq("pump") == 3
