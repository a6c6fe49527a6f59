"""The groundedness model's training data: edits that must change a fact, reductions that must not, honest splits."""
import random

import pytest

from eval import claim_edits, verifier_data
from eval.claim_edits import Pool
from eval.verifier_data import Unit
from qa.text import words

PASSAGE = ("R 4.2.2 needs at least 256 MB of memory on Windows. The function read.table() reads a file "
           "into a data frame. Packages are installed with install.packages() from CRAN. "
           "The default value of digits is 7, which controls printing. You cannot change the base "
           "environment. Large vectors (over 2 GB) are supported on 64-bit builds.")
POOL = Pool.of([PASSAGE, "Version 4.1.0 of R on Linux uses 512 MB and scan() or write.csv() with 8 digits."])


@pytest.mark.parametrize("kind", sorted(claim_edits.NEGATIVE_EDITS))
def test_every_negative_edit_changes_the_fact_it_targets(kind):
    edit = claim_edits.NEGATIVE_EDITS[kind]
    changed = 0
    for sentence in verifier_data.knowledge_sentences(PASSAGE):
        for seed in range(5):
            claim = edit(sentence, PASSAGE, POOL, random.Random(seed))
            if claim is not None:
                assert claim != sentence and claim not in PASSAGE
                assert words(claim) != words(sentence)
                changed += 1
    assert changed, f"{kind} applied to no sentence of the passage"


def test_swaps_take_their_replacement_from_the_document_not_the_passage():
    rng = random.Random(0)
    number = claim_edits.swap_number("R 4.2.2 needs at least 256 MB of memory on Windows.", PASSAGE, POOL, rng)
    assert number is not None and ("4.1.0" in number or "512" in number or "8" in number.split())
    function = claim_edits.swap_function("Packages are installed with install.packages() from CRAN.", PASSAGE, POOL, rng)
    assert function is not None and ("scan()" in function or "write.csv()" in function)
    assert claim_edits.swap_name("Memory on Windows is short.", PASSAGE, POOL, rng) == "Memory on Linux is short."


def test_negation_flips_both_ways():
    rng = random.Random(0)
    assert claim_edits.flip_negation("You cannot change the base environment.", "", POOL, rng) == \
        "You can change the base environment."
    assert claim_edits.flip_negation("The value is 7.", "", POOL, rng) == "The value is not 7."
    assert claim_edits.flip_negation("Objects are not copied.", "", POOL, rng) == "Objects are copied."
    assert claim_edits.flip_negation("Run it.", "", POOL, rng) is None


def test_reductions_only_drop_words():
    sentence = "The default value of digits is 7, which controls printing."
    reduced = claim_edits.reduction(sentence, random.Random(0))
    assert reduced == "The default value of digits is 7."
    aside = claim_edits.reduction("Large vectors (over 2 GB) are supported on 64-bit builds.", random.Random(0))
    assert aside == "Large vectors are supported on 64-bit builds."
    assert claim_edits.reduction("Short one.", random.Random(0)) is None


def test_synthetic_pairs_keep_positives_faithful_and_negatives_changed():
    units = verifier_data.page_units("manual", 3, PASSAGE + " " + PASSAGE.replace("R 4.2.2", "R 4.3.0"))
    examples = verifier_data.synthetic_examples(units, seed=1)
    assert {e.supported for e in examples} == {True, False}
    assert {"fused", "headline", "fused-edit"} <= {e.kind for e in examples}
    for e in examples:
        if e.kind == "sentence":
            assert e.supported and e.claim in e.passage
        elif e.kind in ("reduction", "headline", "clause", "fused"):
            # Faithful rewrites only drop or join: every word is the passage's ('and' joins two sentences).
            assert e.supported and set(words(e.claim.lower())) <= set(words(e.passage.lower())) | {"and"}, e
        else:
            assert not e.supported and e.claim not in e.passage, e


def test_headline_clause_and_fuse_rewrite_without_changing_a_fact():
    assert claim_edits.headline("However, the default value of digits is 7.") == "Default value of digits is 7."
    assert claim_edits.headline("Digits is not 7.") is None  # nothing to drop; negations are never dropped
    sentence = "The function reads a file into a frame, but it does not check the encoding of the file."
    assert {claim_edits.clause(sentence, random.Random(s)) for s in range(6)} == \
        {"The function reads a file into a frame.", "It does not check the encoding of the file."}
    assert claim_edits.fuse("The pump is red.", "The valve is blue.") == "The pump is red, and the valve is blue."
    assert claim_edits.fuse("The pump is red.", "R is a language.") == "The pump is red, and R is a language."


def test_pages_stay_on_one_side_of_the_split():
    units = [Unit("doc", page, f"text {i}") for page in range(1, 60) for i in range(3)]
    sides = {}
    for unit in units:
        sides.setdefault(unit.page, set()).add(verifier_data.split_of(unit))
    assert all(len(s) == 1 for s in sides.values())
    assert {s for group in sides.values() for s in group} == set(verifier_data.SPLITS)


def test_halueval_rows_give_one_supported_and_one_unsupported_claim_each():
    rows = [{"knowledge": f"Town {i} lies on river R{i}. It was founded in {1800 + i}.", "question": f"Where is town {i}?",
             "right_answer": f"river R{i}", "hallucinated_answer": f"Town {i} lies in the mountains of Peru."}
            for i in range(40)]
    examples = verifier_data.halueval_examples(rows, seed=0)
    assert len(examples) == 80 and sum(e.supported for e in examples) == 40
    kinds = {e.kind for e in examples}
    assert {"qa-right", "qa-hallucinated", "evidence-sentence", "qa-other-answer", "fused-hallucinated"} <= kinds
    for e in examples:
        if e.kind == "evidence-sentence":
            assert e.claim in e.passage
        if e.kind == "qa-other-answer":
            assert not e.supported and e.claim.split("? ")[1] not in e.passage
        if e.kind == "fused-hallucinated":
            assert not e.supported and e.claim.endswith("lies in the mountains of Peru.")
