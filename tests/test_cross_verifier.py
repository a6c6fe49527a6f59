"""The groundedness cross-encoder: evidence focus, encoding, a real (tiny) training, and the shipped model."""
import json
import random

import numpy as np
import pytest

from eval import claim_edits, train_verifier
from eval.metrics import auroc
from index.embedder import default_model
from index.records import Chunk, Passage
from qa.cross_verifier import SHIPPED, CrossEncoderVerifier, Encoder, claim_parts, focus, windows
from qa.verifiers import make_verifier
from qa.verify import VerifierError

TOKENIZER = f"{default_model()}/tokenizer.json"


def cited(text):
    return [Passage(Chunk(1, "d", 1, 0, len(text), text), "doc", 1.0)]


def test_focus_keeps_the_sentences_that_share_the_claims_words_in_reading_order():
    passage = ("Gardens need water. The pump warranty lasts two years. Cats sleep a lot. "
               "Pumps are made in Ohio. Rain falls in spring.")
    assert focus("The pump warranty lasts two years.", [passage], budget_words=100) == passage
    kept = focus("Where is the pump made and how long is its warranty?", [passage], budget_words=12)
    assert kept == "The pump warranty lasts two years. Pumps are made in Ohio."


def test_windows_read_the_focus_then_runs_round_the_best_sentences_each_within_budget():
    passage = " ".join(f"Filler sentence number {i} says little." for i in range(12)) + \
        " The pump warranty lasts two years. It covers the motor only. " + \
        " ".join(f"More filler {i} here now." for i in range(12))
    views = windows("The pump warranty covers the motor.", [passage], budget_words=12)
    assert views[0] == focus("The pump warranty covers the motor.", [passage], 12)
    assert views[0] == "The pump warranty lasts two years. It covers the motor only."
    assert views[1] == "It covers the motor only. More filler 0 here now."  # a best sentence with its context
    assert all(len(v.split()) <= 12 for v in views) and len(views) == len(set(views)) <= 4
    assert windows("Short.", ["One sentence here."], budget_words=50) == ["One sentence here."]


def test_claim_parts_split_sentences_but_keep_a_question_with_its_answer():
    assert claim_parts("The pump is red. The valve is blue.") == ["The pump is red.", "The valve is blue."]
    assert claim_parts("Who made the pump? Acme Corp made it. Yes.") == ["Who made the pump? Acme Corp made it. Yes."]
    assert claim_parts("Yes. The pump is red and new.") == ["Yes. The pump is red and new."]


class FakeSession:
    """Logit +5 where the claim part holds no word 'wrong', else -5: stands in for the graph."""

    def __init__(self, wrong_id):
        self.wrong_id = wrong_id

    def run(self, _, inputs):
        claim = (inputs["token_type_ids"] == 0) & (inputs["attention_mask"] == 1)
        has = ((inputs["input_ids"] == self.wrong_id) & claim).any(1)
        return [np.where(has, -5.0, 5.0)]


def test_a_claim_counts_as_its_least_supported_sentence():
    verifier = CrossEncoderVerifier(threads=1)
    verifier._encoder = Encoder(TOKENIZER, 64)
    verifier._session = FakeSession(verifier._encoder._tok.token_to_id("wrong"))
    right, mixed = verifier.probabilities([("The pump is red and new.", ["The pump is red and new."]),
                                           ("The pump is red and new. The valve is wrong here.", ["The pump is red."])])
    assert right > 0.99 and mixed < 0.01


def test_encoder_puts_the_claim_first_and_never_exceeds_the_window():
    enc = Encoder(TOKENIZER, 32)
    (ids, types), (long_ids, _), (both_ids, _) = enc.encode(
        [("Short claim.", ["Evidence here."]), ("Claim.", ["word " * 400]), ("x.y_z() " * 80, ["word " * 400])])
    assert ids[0] == 101 and types[:4] == [0, 0, 0, 0] and types[-1] == 1
    assert len(long_ids) == len(both_ids) == 32


def test_a_quote_full_of_word_pieces_keeps_its_own_sentence_in_the_window():
    enc = Encoder(TOKENIZER, 128)
    quote = ("The binary distribution of R is currently built with tools from Rtools42 for Windows "
             "(https://cran.r-project.org/bin/windows/Rtools/rtools42/rtools.html).")
    passage = " ".join(f"Windows tools note {i} is about the binary distribution." for i in range(8)) + \
        f" {quote} Later notes follow."
    assert enc.words(quote) > len(quote.split())  # the URL counts as the many pieces it is
    (ids, types), = enc.encode([(quote, [passage])])
    evidence = [i for i, t in zip(ids, types) if t == 1]
    claim = enc._tok.encode(quote, add_special_tokens=False).ids
    assert any(evidence[k:k + len(claim)] == claim for k in range(len(evidence)))


def test_configuration_names_the_cross_encoder(tmp_path):
    assert make_verifier("cross-encoder").verifier.folder == SHIPPED  # behind the ContentGate, as every verifier
    assert make_verifier(f"cross-encoder:{tmp_path}").verifier.folder == tmp_path
    with pytest.raises(VerifierError, match="cannot load the groundedness model"):
        make_verifier(f"cross-encoder:{tmp_path}").verify("The pump lasts two years.", cited("y"))


def test_shipped_model_prefers_a_sentence_to_its_number_swapped_edit():
    passage = ("R 4.2.2 needs at least 256 MB of memory. The default value of digits is 7. "
               "Packages are installed with install.packages() from CRAN.")
    verifier = CrossEncoderVerifier(threads=1)
    for sentence, swapped in (("The default value of digits is 7.", "The default value of digits is 9."),
                              ("R 4.2.2 needs at least 256 MB of memory.", "R 4.2.2 needs at least 64 MB of memory.")):
        (ok, right), (_, wrong) = verifier.verify_many([(sentence, cited(passage)), (swapped, cited(passage))])
        assert ok and right > wrong
    assert verifier.verify("The default value of digits is 7.", []) == (False, 0.0)


def test_a_sentences_verdict_does_not_depend_on_what_else_is_checked_with_it():
    passage = ("R 4.2.2 needs at least 256 MB of memory. The default value of digits is 7. Packages are "
               "installed with install.packages() from CRAN, or from a local file with R CMD INSTALL pkg.tar.gz.")
    long_claim = ("Packages are installed with install.packages() from CRAN, and from a local file with "
                  "R CMD INSTALL, which needs the tools that R itself was built with, such as make and a compiler.")
    claims = ["The default value of digits is 7.", "It needs 256 MB.", long_claim,
              "R 4.2.2 needs at least 64 MB of memory.", "Digits defaults to nine, as configured at start-up."]
    verifier = CrossEncoderVerifier(threads=1)
    together = [score for _, score in verifier.verify_many([(c, cited(passage)) for c in claims])]
    alone = [verifier.verify(c, cited(passage))[1] for c in claims]
    assert together == pytest.approx(alone, abs=1e-6)


def toy_pairs(n, seed):
    """A passage of one fact; the claim restates it (supported) or states a fact about other things (not)."""
    rng = random.Random(seed)
    things = "pump valve filter motor hose tank gauge switch fan belt cable plug".split()
    places = "garage cellar attic kitchen garden shed office roof porch yard hall barn".split()
    out = []
    for i in range(n):
        thing, place = rng.choice(things), rng.choice(places)
        passage = f"The {thing} is kept in the {place}."
        if i % 2:
            out.append((passage, passage, True))
        else:
            other = rng.choice([t for t in things if t != thing])
            out.append((passage, f"The {other} is kept in the {rng.choice([p for p in places if p != place])}.", False))
    return out


@pytest.mark.integration
def test_a_short_real_training_lowers_the_loss_and_beats_chance_on_held_out_pairs(tmp_path):
    import torch

    torch.set_num_threads(1)  # a CI machine's cores are shared: one thread waits on no other
    torch.manual_seed(0)
    train, held = toy_pairs(64, seed=1), toy_pairs(64, seed=2)
    enc = Encoder(TOKENIZER, 48)
    model = train_verifier.load_backbone(default_model(), layers=2)
    losses = train_verifier.train(model, enc.encode([(c, [p]) for p, c, _ in train]), [y for *_, y in train],
                                  epochs=5, batch=8, lr=3e-4, seed=0, progress=False)
    assert np.mean(losses[-8:]) < np.mean(losses[:8]) - 0.05
    train_verifier.export(model, default_model(), tmp_path)
    (tmp_path / "settings.json").write_text(json.dumps({"max_tokens": 48, "threshold": 0.5}))
    scores = CrossEncoderVerifier(tmp_path, threads=1).probabilities([(c, [p]) for p, c, _ in held])
    assert auroc([y for *_, y in held], scores) > 0.7


def test_number_swap_used_by_the_shipped_model_test_is_a_real_edit():
    pool = claim_edits.Pool.of(["digits is 7 or 9"])
    assert claim_edits.swap_number("The default value of digits is 7.", "digits is 7", pool,
                                   random.Random(0)) == "The default value of digits is 9."
