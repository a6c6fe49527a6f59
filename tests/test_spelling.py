"""British and American spellings meet: in stems, in full-text search and in the answer engine's word weights."""
from fakes import HashEmbedder, put

from index.search import search
from index.spelling import canonical, variants
from index.store import Library
from qa.text import content_words


def test_each_british_american_pair_has_one_canonical_form():
    pairs = [("licence", "license"), ("sublicences", "sublicenses"), ("defence", "defense"), ("offences", "offenses"),
             ("practised", "practiced"), ("colour", "color"), ("behaviours", "behaviors"), ("centre", "center"),
             ("fibres", "fibers"), ("organise", "organize"), ("analysed", "analyzed"), ("catalogue", "catalog"),
             ("judgement", "judgment"), ("modelling", "modeling"), ("travelled", "traveled")]
    for british, american in pairs:
        assert canonical(british) == canonical(american), (british, american)
        assert british in variants(american) and american in variants(british)


def test_words_that_only_look_british_are_left_alone():
    for word in ("hour", "your", "four", "detour", "flour", "course", "source", "size", "prize", "filled",
                 "otherwise", "exercise", "tour"):
        assert canonical(word) == word
    assert canonical("filled") != canonical("filed")
    for word, other in (("timbre", "timber"), ("timbres", "timbers"), ("entre", "enter"), ("outre", "outer")):
        assert canonical(word) != canonical(other) and variants(other) == [other]  # another word, not a spelling


def test_stems_meet_across_spellings():
    assert content_words("May I grant sublicences?")[-1] == content_words("Sublicensing is not allowed")[0]
    assert content_words("the colour of a plot") == content_words("the color of a plot")


def test_a_british_query_finds_the_american_text(tmp_path):
    with Library.writing(tmp_path / "lib", create=True) as lib:
        put(lib, "/gpl.txt", "gp00", ["Sublicensing is not allowed; section 10 makes it unnecessary."], "GPL")
        put(lib, "/other.txt", "ot00", ["A program may be conveyed in object code form."], "Other")
        hits = search(lib, HashEmbedder(), "sublicences", k=2, mode="lexical")
        assert [h.chunk.doc_id for h in hits] == ["gp00"]
        assert lib.doc_freq("sublicences") == 1 == lib.doc_freq("sublicensing")
