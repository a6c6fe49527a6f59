"""Who may read what, attacked from every read path in index/: search modes, FTS5 syntax, references, listings."""
import pytest
from argon2 import PasswordHasher
from fakes import HashEmbedder, make_doc

from index import access
from index.access import AccessError, Reader
from index.search import Filters, dense_hits, lexical_hits, search
from index.store import Library, LibraryError, Source

EMB = HashEmbedder()
MODES = ("dense", "lexical", "hybrid")
SECRET = "zanzibar quokka payroll"  # words only the HR document holds
# Public: 12 chunks. HR (group hr): 10 chunks, every one about the secret and the payroll schedule.
# Legal (group legal): 30 chunks, so a reader without legal has more chunks hidden than shown.
PUBLIC = [f"public note {i}: the payroll schedule for team {i} is posted on the board" for i in range(12)]
HR = [f"{SECRET} salary of employee {i} on the payroll schedule" for i in range(10)]
LEGAL = [f"contract clause {i} on liability" for i in range(30)]


def put(lib, path, doc_id, texts, title, allow=()):
    doc, chunks = make_doc(doc_id, texts, title)
    return lib.write_document(doc, doc_id * 4, chunks, EMB.embed([c.text for c in chunks]),
                              Source(path, doc_id, 10, 1), EMB.name, (), allow)


@pytest.fixture
def lib(tmp_path):
    with pytest.MonkeyPatch.context() as mp:  # a cheap Argon2 setting: these tests are not about its cost
        mp.setattr(access, "PasswordHasher", lambda: PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        with Library.writing(tmp_path / "lib", create=True) as library:
            put(library, "/pub.pdf", "pa01", PUBLIC, "Notice board")
            put(library, "/hr.pdf", "pz01", HR, "HR salaries", allow=["hr"])
            put(library, "/legal.pdf", "pl01", LEGAL, "Legal contracts", allow=["legal"])
            library.accounts.add("alice", "alice-password", groups=["hr"])
            library.accounts.add("bob", "bob-password")
            library.accounts.add("lena", "lena-password", groups=["legal"])
            library.accounts.add("carol", "carol-password", admin=True)
            yield library


def docs_found(lib, query, reader, k=10, **kw):
    return {p.chunk.doc_id for mode in MODES for p in search(lib, EMB, query, k, mode, reader=reader, **kw)}


def test_a_forbidden_phrase_reaches_no_reader_without_the_group_in_any_mode(lib):
    bob, lena = Reader("bob"), Reader("lena")
    for mode in MODES:
        for reader in (bob, lena):
            assert "pz01" not in {p.chunk.doc_id for p in search(lib, EMB, SECRET, 5, mode, reader=reader)}
        assert search(lib, EMB, SECRET, 5, mode, reader=Reader("alice"))[0].chunk.doc_id == "pz01"
        assert search(lib, EMB, SECRET, 5, mode, reader=Reader("carol"))[0].chunk.doc_id == "pz01"
        assert search(lib, EMB, SECRET, 5, mode)[0].chunk.doc_id == "pz01"  # the machine's CLI user


def test_a_filtered_search_still_returns_k_passages(lib):
    # Unfiltered, the top 5 for this query are all HR chunks: dropping them afterwards would leave none.
    assert {lib.chunks([c])[c][0].doc_id for c, _ in lexical_hits(lib, SECRET + " schedule", 5)} == {"pz01"}
    bob = Reader("bob")
    for hits in (lexical_hits(lib, SECRET + " schedule", 5, reader=bob),
                 dense_hits(lib, EMB, SECRET + " schedule", 5, reader=bob)):
        ids = [c for c, _ in hits]
        assert len(ids) == 5 and {chunk.doc_id for chunk, _ in lib.chunks(ids).values()} == {"pa01"}
    for mode in MODES:
        hits = search(lib, EMB, SECRET + " schedule", 5, mode, reader=bob)
        assert len(hits) == 5 and {p.chunk.doc_id for p in hits} == {"pa01"}


@pytest.mark.parametrize("query", [
    f'"{SECRET}" OR doc_id:pz01', "NEAR(zanzibar quokka)", "text:zanzibar", "{text}: zanzibar", "zanz*",
    "pz01", "HR salaries", "zanzibar AND NOT public", "rowid:1 OR zanzibar", '"zanzibar" ^ "quokka"'])
def test_fts5_syntax_in_a_query_cannot_reach_a_forbidden_document(lib, query):
    assert "pz01" not in docs_found(lib, query, Reader("bob"))


@pytest.mark.parametrize("match", ['"zanzibar"', "NEAR(zanzibar quokka)", "text: zanzibar", "zanz*",
                                   "zanzibar OR public", "{text}: quokka AND salary"])
def test_even_a_raw_fts5_expression_is_filtered_inside_the_query(lib, match):
    found = {lib.chunks([c])[c][0].doc_id for c, _ in lib.lexical(match, 50, reader=Reader("bob"))}
    assert "pz01" not in found
    assert "pz01" in {lib.chunks([c])[c][0].doc_id for c, _ in lib.lexical(match, 50, reader=Reader("alice"))}


def test_document_references_and_filters_cannot_name_a_forbidden_document(lib):
    bob = Reader("bob")
    for ref in ("pz01", "HR salaries", "/hr.pdf", "pz"):
        with pytest.raises(LibraryError, match="no document") as err:
            lib.resolve(ref, bob)
        assert "HR" not in str(err.value).replace(ref, "")
        assert lib.resolve(ref, Reader("alice")) == "pz01"
    with pytest.raises(LibraryError, match="names 2 documents") as err:  # ambiguous among readable ones only
        lib.resolve("p", Reader("lena"))
    assert "pz01" not in str(err.value) and "HR" not in str(err.value)
    assert lib.select_docs(["pz01"], reader=bob) == [] and lib.select_docs(["pz01"], reader=None) == ["pz01"]
    assert docs_found(lib, SECRET, bob, filters=Filters(doc_ids=("pz01",))) == set()


def test_listings_pages_chunks_and_counts_leave_forbidden_documents_out(lib):
    bob = Reader("bob")
    hr_ids = [c.chunk_id for c in make_doc("pz01", HR)[1]]
    assert [d.doc_id for d in lib.documents(reader=bob)] == ["pa01"]
    assert lib.document("pz01", bob) is None and lib.document("pz01").groups == ("hr",)
    assert lib.page_text("pz01", 1, bob) is None and SECRET in lib.page_text("pz01", 1, Reader("alice"))
    assert lib.chunks(hr_ids, bob) == {} and lib.chunk_vectors(hr_ids, bob) == {}
    assert len(lib.chunks(hr_ids, Reader("carol"))) == 10
    assert (lib.count("documents", bob), lib.count("chunks", bob), lib.count("pages", bob)) == (1, 12, 12)
    assert lib.count("documents", Reader("carol")) == 3
    lib.record_failure("/hr/dismissal-of-x.pdf", "encrypted")
    assert lib.failures(bob) == [] and len(lib.failures()) == 1
    with pytest.raises(LibraryError, match="only an admin"):
        lib.count("feedback", bob)


def test_an_unknown_or_removed_user_reads_nothing(lib):
    assert docs_found(lib, "payroll schedule", Reader("mallory")) == set()
    assert lib.documents(reader=Reader("mallory")) == []
    assert docs_found(lib, "payroll schedule", Reader("bob")) == {"pa01"}
    lib.accounts.remove("bob")
    assert docs_found(lib, "payroll schedule", Reader("bob")) == set()
    assert lib.count("chunks", Reader("bob")) == 0


def test_taking_a_group_away_applies_to_the_next_search(lib):
    alice = Reader("alice", groups=("hr",))  # what she had at sign-in
    assert "pz01" in docs_found(lib, SECRET, alice)
    lib.accounts.set_groups("alice", [])
    assert "pz01" not in docs_found(lib, SECRET, alice)
    assert lib.document("pz01", alice) is None
    lib.accounts.set_groups("alice", ["hr"])
    assert "pz01" in docs_found(lib, SECRET, alice)
    lib.accounts.add("admin2", "admin2-password", admin=True)
    assert "pz01" in docs_found(lib, SECRET, Reader("admin2"))


def test_changing_a_documents_groups_applies_to_the_next_search_without_reingesting(lib):
    alice, lena = Reader("alice"), Reader("lena")
    assert "pz01" in docs_found(lib, SECRET, alice) and "pz01" not in docs_found(lib, SECRET, lena)
    assert lib.change_groups("pz01", allow=["legal"], deny=["hr"]) == ("legal",)
    assert "pz01" not in docs_found(lib, SECRET, alice) and "pz01" in docs_found(lib, SECRET, lena)
    with pytest.raises(AccessError, match="every user"):
        lib.change_groups("pz01", deny=["legal"])
    assert lib.document("pz01").groups == ("legal",)
    assert lib.change_groups("pz01", deny=["legal"], make_public=True) == ()
    assert "pz01" in docs_found(lib, SECRET, Reader("bob"))
    with pytest.raises(AccessError, match="no document"):
        lib.change_groups("nope", allow=["hr"])


def test_groups_are_written_with_the_document_in_one_transaction(lib):
    with pytest.raises(AccessError, match="not allowed"):
        put(lib, "/x.pdf", "xx01", ["a new secret about walruses"], "Walrus", allow=["bad group"])
    assert lib.document("xx01") is None and lib.source("/x.pdf") is None
    lib.link_source(Source("/hr-copy.pdf", "pa01", 10, 1), allow=["hr"])  # a twin of the notice board
    assert lib.document("pa01").groups == ("hr",)


def test_a_changed_file_keeps_the_groups_of_the_document_it_replaces(lib):
    put(lib, "/hr.pdf", "pz02", ["zanzibar quokka payroll, revised"], "HR salaries v2")
    assert lib.document("pz02").groups == ("hr",) and lib.document("pz01") is None
    assert "pz02" not in docs_found(lib, SECRET, Reader("bob"))


def test_the_dense_filter_is_rebuilt_when_documents_change(lib):
    bob = Reader("bob")
    assert lib.chunk_filter(bob).exclude is False  # 40 of 52 chunks hidden: the readable ids are listed
    assert lib.chunk_filter(Reader("lena")).exclude is True  # 10 hidden: the hidden ids are listed
    assert lib.chunk_filter(Reader("carol")) is None and lib.chunk_filter(None) is None
    put(lib, "/hr2.pdf", "pz03", ["quokka zanzibar payroll appendix"], "HR appendix", allow=["hr"])
    assert "pz03" not in docs_found(lib, SECRET, bob) and "pz03" not in docs_found(lib, SECRET, Reader("lena"))
    assert "pz03" in docs_found(lib, SECRET, Reader("alice"))
