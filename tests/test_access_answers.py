"""Answers as a reader sees the library: nothing outside its documents is retrieved, cited, weighed or counted,
and every answer lands in the audit trail (app/wiring.reader_for and record_answer)."""
import pytest
from argon2 import PasswordHasher
from fakes import HashEmbedder, WordVerifier, make_doc

from app import wiring
from index import access
from index.access import AccessError, Reader
from index.store import Library, Source
from qa.answerability import Gate, signals, unknown_terms
from qa.engine import AnswerEngine, Settings
from qa.evidence import question_idf

EMB = HashEmbedder()
SECRET = "xylomorphix"  # a word no ordinary vocabulary holds, and only the HR document
QUESTION = f"What is the {SECRET} bonus paid with the monthly salary?"
PUBLIC = ["The monthly salary is paid on the last working day of each month.",
          "Holidays are booked through the staff portal before the end of the year.",
          "The canteen serves lunch from noon until two in the afternoon."]
HR = [f"The {SECRET} bonus paid with the monthly salary is four thousand euros for each director.",
      f"Every {SECRET} payment is approved by the board in the monthly salary run."]


def put(lib, path, doc_id, texts, title, allow=()):
    doc, chunks = make_doc(doc_id, texts, title)
    lib.write_document(doc, doc_id * 4, chunks, EMB.embed([c.text for c in chunks]), Source(path, doc_id, 10, 1),
                       EMB.name, (), allow)


@pytest.fixture
def libs(tmp_path):
    """The library with an HR document only group hr may read, and its twin that never held that document."""
    with pytest.MonkeyPatch.context() as mp:  # a cheap Argon2 setting: these tests are not about its cost
        mp.setattr(access, "PasswordHasher", lambda: PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
        with Library.writing(tmp_path / "lib", create=True) as lib, \
                Library.writing(tmp_path / "twin", create=True) as twin:
            for library in (lib, twin):
                put(library, "/pub.pdf", "pa01", PUBLIC, "Staff handbook")
            put(lib, "/hr.pdf", "pz01", HR, "Director pay", allow=["hr"])
            lib.accounts.add("alice", "alice-password", groups=["hr"])
            lib.accounts.add("bob", "bob-password")
            yield lib, twin


def engine(library):
    return AnswerEngine(library, EMB, WordVerifier(), None, Settings(min_strength=0.2))


def docs_of(answer):
    return ({p.chunk.doc_id for p in answer.evidence} | {c.passage.chunk.doc_id for c in answer.citations}
            | {p.chunk.doc_id for p in answer.shown()})


def test_a_reader_without_the_group_gets_nothing_of_the_forbidden_document_in_an_answer(libs):
    lib, _ = libs
    for reader in (Reader("bob"), Reader("mallory")):  # one without the group, one with no account
        answer = engine(lib).answer(QUESTION, reader=reader)
        assert "pz01" not in docs_of(answer)
        assert SECRET not in answer.text and "euros" not in answer.text
        assert all(SECRET not in s.text for s in answer.sentences)
    for reader in (Reader("alice"), None):  # the group's member, and the machine's CLI user
        answer = engine(lib).answer(QUESTION, reader=reader)
        assert not answer.abstained and "pz01" in {c.passage.chunk.doc_id for c in answer.citations}


def test_a_readers_evidence_and_gate_are_those_of_a_library_without_the_forbidden_document(libs):
    lib, twin = libs
    bob = Reader("bob")
    assert question_idf(lib, QUESTION, bob) == question_idf(twin, QUESTION)
    assert question_idf(lib, QUESTION) != question_idf(twin, QUESTION)  # the document does weigh for others
    assert SECRET in unknown_terms(lib, QUESTION, bob) and SECRET not in unknown_terms(lib, QUESTION)
    mine, theirs = engine(lib).evidence(QUESTION, reader=bob), engine(twin).evidence(QUESTION)
    assert [(p.chunk.chunk_id, p.score) for p in mine.passages] == [
        (p.chunk.chunk_id, p.score) for p in theirs.passages]
    assert signals(lib, QUESTION, mine, WordVerifier(), 6, bob) == signals(twin, QUESTION, theirs, WordVerifier(), 6)
    assert engine(lib).answer(QUESTION, reader=bob).answerability == engine(twin).answer(QUESTION).answerability


def test_taking_a_group_away_applies_to_the_next_answer(libs):
    lib, _ = libs
    alice = Reader("alice", groups=("hr",))  # as she was when she signed in
    answering = engine(lib)
    assert "pz01" in docs_of(answering.answer(QUESTION, reader=alice))
    assert lib.doc_freq(SECRET, alice) == 2
    lib.accounts.set_groups("alice", [])
    assert "pz01" not in docs_of(answering.answer(QUESTION, reader=alice))
    assert lib.doc_freq(SECRET, alice) == 0 and lib.doc_freq(SECRET) == 2


def test_reader_for_names_an_account_or_says_in_one_line_there_is_none(libs):
    lib, _ = libs
    assert wiring.reader_for(lib, None) is None
    assert wiring.reader_for(lib, "alice") == Reader("alice", ("hr",), False)
    with pytest.raises(AccessError, match="no user 'nobody'; list them with: groundwork users list"):
        wiring.reader_for(lib, "nobody")


def test_record_answer_writes_who_asked_what_was_shown_and_the_verdicts(libs):
    lib, _ = libs
    alice = wiring.reader_for(lib, "alice")
    answer = engine(lib).answer(QUESTION, reader=alice)
    wiring.record_answer(lib, alice, QUESTION, answer, "test-model")
    # A shut gate: the refusal is recorded whatever the shipped gate's threshold would make of this question.
    shut = AnswerEngine(lib, EMB, WordVerifier(), None, Settings(min_strength=0.2), gate=Gate.strength_only(2.0))
    refused = shut.answer("Which colour is the director's car?", reader=None)
    wiring.record_answer(lib, None, "Which colour is the director's car?", refused, "")
    first, second = lib.audit.entries(None)
    assert (first.user, first.question, first.model, first.mode, first.answer) == (
        "alice", QUESTION, "test-model", "extractive", answer.text)
    assert list(first.passages) == [{"chunk_id": c.passage.chunk.chunk_id, "doc_id": "pz01", "page": c.page}
                                    for c in answer.citations]
    assert [v["supported"] for v in first.verdicts] == [s.supported for s in answer.sentences]
    assert first.verdicts[0]["citations"] == list(answer.sentences[0].citations)
    assert second.user == "" and refused.abstained
    assert [p["chunk_id"] for p in second.passages] == [p.chunk.chunk_id for p in refused.evidence[:3]]
    with pytest.raises(AccessError, match="only an admin"):
        lib.audit.entries(alice)


def test_a_readers_lexical_scores_do_not_count_hidden_chunks(tmp_path):
    # FTS5's bm25() counts words over the whole table; a restricted reader is shown 1 / rank instead.
    from index.search import search
    scores = []
    for hidden in (0, 50):
        with Library.writing(tmp_path / f"lib{hidden}", create=True) as lib:
            put(lib, "/pub.pdf", "pa01", ["salary is paid monthly"] + [f"holiday rule {i}" for i in range(100)], "Book")
            if hidden:
                put(lib, "/hr.pdf", "pz01", [f"director salary note {i}" for i in range(hidden)], "HR", allow=["hr"])
            lib.accounts.add("bob", "bob-password")
            scores.append(search(lib, EMB, "salary", 1, "lexical", reader=Reader("bob"))[0].score)
    assert scores[0] == pytest.approx(scores[1])
