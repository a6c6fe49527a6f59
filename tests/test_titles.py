"""A question that names a document by its usual abbreviation ('GPLv3', 'GNU FDL') meets the document's title."""
from fakes import HashEmbedder, put

from index.search import search
from index.store import Library
from index.titles import document_keys, title_words
from qa.evidence import coverage, rerank, title_named


def test_abbreviations_meet_titles_and_file_names():
    gpl = document_keys("GPL-3", ["/usr/share/common-licenses/GPL-3.txt"])
    assert title_words("What does GPLv3 say?", gpl) == {"gpl", "3"}
    assert title_words("Under GPL version 3, may I?", gpl) >= {"gpl", "3"}
    assert title_words("Is the LGPL stricter?", gpl) == frozenset()  # another licence
    assert title_words("How long may a Front-Cover Text be under the GNU FDL?", document_keys("GFDL-1.3")) \
        == {"gnu", "fdl"}
    assert title_words("Who is steward of the Mozilla Public License?", document_keys("MPL-2.0")) \
        == {"mozilla", "public", "license"}
    assert title_words("Why is the Lesser GPL numbered 2.1?", document_keys("LGPL-2.1")) >= {"lesser", "gpl"}
    assert title_words("Is an Apache 2.0 licensee bound?", document_keys("x", ["/l/Apache-2.0.txt"])) \
        == {"apache", "2.0"}


def test_a_plain_word_of_a_title_is_no_name_of_it():
    assert title_words("My data file has column names", document_keys("R-data", ["/m/R-data.pdf"])) == frozenset()
    assert title_words("Is this in the R FAQ?", document_keys("R-FAQ")) >= {"faq"}  # capitals: an abbreviation


def test_two_initials_are_no_name():
    assert title_words("Do Make Sense?", document_keys("DMS")) == {"do", "make", "sense"}
    assert title_words("Do Make things", document_keys("DM")) == frozenset()


def test_the_title_counts_as_text_of_its_passages(tmp_path):
    # Both licences state a 30-day period; the question names one by an abbreviation only its title holds.
    emb = HashEmbedder()
    with Library.writing(tmp_path / "lib", create=True) as lib:
        put(lib, "/l/GPL-3.txt", "gp00", ["The copyright holder may end your license within 60 days of the notice "
                                          "of a violation, for the program."], "GPL-3")
        put(lib, "/l/GFDL-1.3.txt", "gf00", ["The copyright holder may end your license within 60 days of the "
                                             "notice of a violation."], "GFDL-1.3")
        question = "Within how many days may the copyright holder of a GPLv3 work end my license after a violation?"
        assert title_named(lib, question) == {"gp00": frozenset({"gplv3"})}
        evidence = rerank(lib, emb, question, search(lib, emb, question, k=4))
        assert evidence.passages[0].chunk.doc_id == "gp00"
        assert evidence.candidates[0].passage.chunk.doc_id == "gp00"
    assert coverage("your license", {"gplv3": 1.0, "licens": 1.0}, frozenset({"gplv3"})) == 1.0


def test_a_long_title_of_capitalised_words_makes_few_keys():
    # An HTML <title> of 6,900 characters cost every question 33 s: every stretch of a run was an acronym.
    nato = "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliett Kilo Lima Mike November Oscar Papa " \
           "Quebec Romeo Sierra Tango Uniform Victor Whiskey Xray Yankee Zulu".split()
    keys = document_keys(" ".join(nato[i % 26] for i in range(300)))
    assert len(keys) < 1000
    assert "gfdl" in document_keys("GNU Free Documentation License")


def test_the_documents_names_are_read_once_per_library_state_and_an_ingest_elsewhere_is_seen(tmp_path):
    emb = HashEmbedder()
    gpl = ["The copyright holder may end your license within 60 days of the notice of a violation."]
    with Library.writing(tmp_path / "lib", create=True) as lib:
        put(lib, "/l/GPL-3.txt", "gp00", gpl, "GPL-3")
    question = "Within how many days may the holder of a GPLv3 work end my license?"
    with Library.open(tmp_path / "lib") as lib:
        hits = search(lib, emb, question, k=4)
        listed = []
        lib._conn.set_trace_callback(lambda sql: listed.append(sql) if "FROM documents d" in sql else None)
        for _ in range(3):  # three questions: the documents and their name keys are read for the first only
            assert rerank(lib, emb, question, hits).named == {"gp00": frozenset({"gplv3"})}
        assert len(listed) == 1
        with Library.writing(tmp_path / "lib") as other:  # as another process's ingest between two questions
            put(other, "/l/GFDL-1.3.txt", "gf00", gpl, "GFDL-1.3")
        assert title_named(lib, "May the GNU FDL end my license?") == {"gf00": frozenset({"gnu", "fdl"})}
        assert len(listed) == 2
