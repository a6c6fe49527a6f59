"""The answerability gate: its signals, the hand-set rule as a gate, and a fit that reads dev questions only."""
import json

import numpy as np
import pytest
from fakes import put

from eval import fit_answerability as fa
from eval.summary import gates
from index.records import Chunk, Passage
from index.store import Library
from qa.answerability import (BEFORE_FIT, FEATURES, PARAMS_PATH, Gate, signals, specific_missing, specific_terms,
    spelled_out, unknown_terms)
from qa.evidence import Candidate, Evidence, title_named
from qa.verify import VerifierError


class Recall:
    """A verifier scoring the share of the claim's words its passages hold."""

    def verify(self, sentence, passages):
        have = set(" ".join(p.chunk.text for p in passages).lower().split())
        want = sentence.lower().rstrip("?.").split()
        score = sum(w in have for w in want) / len(want)
        return score >= 0.5, score


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    with Library.writing(tmp_path_factory.mktemp("gate") / "lib", create=True) as lib:
        put(lib, "/a.pdf", "aa00", ["Use wilcox.test for a one-sample or two-sample Wilcoxon test on ranks.",
                                    "The function lm fits linear models; summary prints the coefficients.",
                                    "Files from Stata in .dta format are read by read.dta in package foreign."],
            "Stats")
        yield lib


def evidence(text, score=0.6):
    passage = Passage(Chunk(1, "aa00", 1, 0, len(text), text), "Stats", score)
    return Evidence((passage,), (Candidate(text, passage, score), Candidate(text + " Again.", passage, score - 0.2)))


def test_a_specific_term_no_passage_holds_is_flagged_and_one_it_holds_is_not(library):
    ev = evidence("Use wilcox.test for a one-sample or two-sample Wilcoxon test on ranks.")
    absent = signals(library, "Does TukeyHSD give a paired Wilcoxon test?", ev, Recall(), keep=6)
    present = signals(library, "Is wilcox.test a two-sample Wilcoxon test on ranks?", ev, Recall(), keep=6)
    assert absent["missing_specific"] == 1.0 and present["missing_specific"] == 0.0
    assert absent["missing_share"] > present["missing_share"]
    assert set(FEATURES) <= set(present) and present["margin"] == pytest.approx(0.2)


def test_a_compound_name_is_looked_for_whole_however_its_joins_are_written(library):
    # each part is in the passage ("SHAKE", "128", "GCM", "SIV"), the name the question asks about is not
    ev = evidence("Nettle has shake256 with 128-bit security; GCM mode with AES; and SIV-CMAC, and x86-64 code.")
    for question, missing in (("Which function gives a SHAKE-128 output?", 1.0),
                              ("Which functions provide AES-GCM-SIV?", 1.0),
                              ("Is there SIV_CMAC code for x86_64?", 0.0),
                              ("Is SIV-CMAC an AES-based mode?", 0.0)):  # ends in a lower-case word: no name
        assert signals(library, question, ev, Recall(), keep=6)["missing_specific"] == missing, question
    # a compound held in another spelling holds its parts too: '256' is no word of 'shake256'
    assert specific_missing("Which function gives a SHAKE-256 output?", [ev.passages[0].chunk.text]) == []
    assert specific_missing("Which function gives a SHA-384 output?", ["shake256"]) == ["SHA", "384", "SHA-384"]


def test_a_file_extension_the_passage_holds_is_not_missing(library):
    ev = evidence("Files from Stata in .dta format are read by read.dta in package foreign.")
    assert signals(library, "Which function reads Stata .dta files?", ev, Recall(), keep=6)["missing_specific"] == 0.0


def test_a_table_of_contents_line_covers_no_question_and_holds_no_term(library):
    contents = "Contents\n1 Installing the pump ........ 3\n3 Replacing the Impeller . . . . . . 9\n4 Winterizing ... xii"
    ev = evidence(contents + "\nBolt the pump to a level base and connect the suction hose first.")
    asked = signals(library, "How do I replace the Impeller?", ev, Recall(), keep=6)
    told = signals(library, "How do I bolt the pump to a level base?", ev, Recall(), keep=6)
    assert asked["missing_specific"] == 1.0 and asked["missing_share"] > 0.5 and asked["coverage"] < 0.5
    assert told["missing_share"] == 0.0 and told["coverage"] == 1.0


def test_initials_a_passage_spells_out_are_not_missing_but_other_initials_are(library):
    ev = evidence("A Front-Cover Text of the GNU Free Documentation License, Version 1.3, may be five words.")
    for question, missing in (("How long may a Front-Cover Text be under the GNU FDL?", 0.0),
                              ("Is a Front-Cover Text under the GFDL long?", 0.0),
                              ("How long may a Front-Cover Text be under the GNU GPL?", 1.0),
                              ("How long may a Front-Cover Text be in CUDA?", 1.0)):
        assert signals(library, question, ev, Recall(), keep=6)["missing_specific"] == missing, question


def test_a_name_a_retrieved_documents_title_holds_is_not_missing(tmp_path):
    text = "You may convey a covered work in object code form under the terms of sections 4 and 5 of this License."
    with Library.writing(tmp_path / "lib", create=True) as lib:
        put(lib, "/licences/GPL-3.txt", "bb00", [text], "GPL-3")
        put(lib, "/other.txt", "cc00", ["Unrelated text about tea and cakes."], "Tea")
    passage = Passage(Chunk(1, "bb00", 1, 0, len(text), text), "GPL-3", 0.6)
    with Library.open(tmp_path / "lib") as lib:
        for question, missing in (("May I convey object code under GPLv3?", 0.0),
                                  ("May I convey object code under the GPL version 3?", 0.0),
                                  ("May I convey object code under MPLv2?", 1.0)):
            # as the rerank hands it on: with the names each document's title holds for this question
            ev = Evidence((passage,), (Candidate(text, passage, 0.6),), title_named(lib, question))
            assert signals(lib, question, ev, Recall(), keep=6)["missing_specific"] == missing, question


def test_initials_with_a_version_are_spelled_out_only_where_the_text_gives_that_version():
    text = ["GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007", "the GNU Free Documentation License, Version 1.3."]
    assert [spelled_out(t, text) for t in ("GPLv3", "GPL-3", "GFDL-1.3", "GPLv2", "GFDL-1.2", "LGPL", "gfdl")] == [
        True, True, True, False, False, False, False]


def test_a_kind_of_fact_asked_that_no_best_unit_holds_is_flagged(library):
    ev = evidence("The function lm fits linear models; summary prints the coefficients.")
    asked = signals(library, "In which year did lm first fit linear models?", ev, Recall(), keep=6)
    untyped = signals(library, "How do I fit linear models with lm?", ev, Recall(), keep=6)
    dated = signals(library, "In which year did lm first fit linear models?",
                    evidence("Since 1998 the function lm fits linear models."), Recall(), keep=6)
    assert asked["missing_kind"] == 1.0 and untyped["missing_kind"] == 0.0 and dated["missing_kind"] == 0.0


def test_specific_terms_are_code_names_versions_and_capitalised_words_not_a_first_word():
    assert specific_terms("Which R_MAX_VSIZE or setRefClass in R 4.3 reads Feather files? Does loess() say?") == [
        "R_MAX_VSIZE", "setRefClass", "4.3", "Feather", "loess"]


def test_unknown_terms_are_words_neither_the_library_nor_ordinary_english_holds(library):
    assert unknown_terms(library, "I forgot: which argument glues Wilcoxon ranks, or does testthat or winget?") == [
        "testthat", "winget"]


def test_a_british_spelling_of_an_ordinary_word_is_no_unknown_term(library):
    """'optimisation' is 'optimization' to the embedder's vocabulary; the gate refused rustc's LTO question for it."""
    assert unknown_terms(library, "Which setting turns on link-time optimisation, or does winget analyse it?") == [
        "winget"]
    # every pair index/spelling.py knows, not -ise alone: the vocabulary holds 'dialogue' and 'favorably' only
    assert unknown_terms(library, "Does the winget dialog compare favourably?") == ["winget"]


def test_nothing_retrieved_gives_zero_evidence_and_everything_missing(library):
    found = signals(library, "Which function fits linear models?", Evidence((), ()), Recall(), keep=6)
    assert found["strength"] == 0.0 and found["support"] == 0.0 and found["missing_share"] == 1.0


def test_the_hand_set_rule_is_a_gate_that_answers_from_its_strength_on():
    gate = Gate.strength_only(BEFORE_FIT)
    base = dict.fromkeys(FEATURES, 0.0)
    for strength, answers in ((BEFORE_FIT, True), (BEFORE_FIT + 0.01, True), (BEFORE_FIT - 0.01, False)):
        assert (gate.probability(base | {"strength": strength, "coverage": 1.0}) >= gate.params.threshold) is answers


def test_the_shipped_gate_loads_and_ranks_a_covered_question_above_one_with_a_missing_term_or_kind():
    gate = Gate.load()
    # Middling, as near-topic questions get (median best passage of the three dev corpora's unanswerable: 0.62-0.70).
    # The ranker's best P middling too: 0.05 (its mean over the dev questions, out of fold: 0.06).
    covered = {"strength": 0.55, "margin": 0.05, "passage": 0.65, "coverage": 0.8, "missing_share": 0.0,
               "missing_specific": 0.0, "support": 0.6, "missing_kind": 0.0, "ranker": 0.05}
    missing = covered | {"missing_share": 0.4, "missing_specific": 1.0}
    assert gate.probability(covered) > gate.params.threshold > gate.probability(missing)
    assert gate.probability(covered) > gate.params.threshold > gate.probability(covered | {"missing_kind": 1.0})


def test_the_shipped_gate_decides_the_same_whatever_the_verifier_scores_as_support():
    """Fitted with features' support (weight 0), it serves the default cross-encoder as well; see Gate.for_verifier."""
    gate = Gate.for_verifier("cross-encoder")
    assert gate.verifier == "features"
    signals = dict.fromkeys(FEATURES, 0.5)
    assert len({gate.probability(signals | {"support": s}) for s in (0.0, 0.3, 0.99)}) == 1


def weighing_support(tmp_path, fitted_on):
    """A gate file like the shipped one whose `support` weight is 1, fitted on verifier `fitted_on`."""
    data = json.loads(PARAMS_PATH.read_text())
    data["weights"][FEATURES.index("support")] = 1.0
    data["fitted_on"]["verifier"] = fitted_on
    path = tmp_path / "gate.json"
    path.write_text(json.dumps(data))
    return path


def test_a_gate_weighing_another_verifiers_support_is_refused_and_one_fitted_on_it_is_used(tmp_path):
    path = weighing_support(tmp_path, "features")
    with pytest.raises(VerifierError, match="weighs the support of verifier 'features', not of 'cross-encoder'.*"
                                            "--verifier cross-encoder"):
        Gate.for_verifier("cross-encoder", path)
    assert Gate.for_verifier("features", path).verifier == "features"
    assert Gate.for_verifier("cross-encoder", weighing_support(tmp_path, "cross-encoder")).verifier == "cross-encoder"


def test_the_engine_loads_the_gate_for_its_own_verifier(library, tmp_path, monkeypatch):
    from qa.engine import AnswerEngine
    from qa.verifiers import ContentGate
    monkeypatch.setattr("qa.answerability.PARAMS_PATH", weighing_support(tmp_path, "features"))
    engine = AnswerEngine(library, None, ContentGate(Recall(), "features"))
    assert engine.gate.verifier == "features"
    with pytest.raises(VerifierError, match="refit it"):
        AnswerEngine(library, None, ContentGate(Recall(), "cross-encoder")).gate


def synthetic(n, seed):
    """Answerable questions have more evidence and fewer missing terms, with noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3 != 0
    x = rng.normal(size=(n, len(FEATURES))) + np.where(y[:, None], 1.0, -1.0) * np.array(
        [1 if fa.SIGNS[f] > 0 else -1 for f in FEATURES])
    return [dict(zip(FEATURES, row)) for row in x], list(y)


def test_the_fit_is_deterministic_and_its_threshold_keeps_cv_false_refusal_under_the_limit():
    data, labels = synthetic(90, 1)
    (a, figures), (b, _) = fa.fit(data, labels), fa.fit(data, labels)
    assert a.to_dict() == b.to_dict()
    assert figures["cv"]["false_refusal"] <= fa.MAX_FALSE_REFUSAL and figures["cv"]["refusal"] > 0.8
    assert figures["never_abstain"]["refusal"] == 0.0 and figures["cv"]["auroc"] > 0.9


def test_choose_threshold_takes_the_most_refusals_within_the_false_refusal_limit():
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.25, 0.6, 0.7, 0.8, 0.9, 0.95])
    answerable = np.array([False] * 4 + [True] * 6)
    strict = fa.choose_threshold(p, answerable, 0.1)  # no answerable one may be refused: stop under 0.25
    assert 0.2 < strict <= 0.25 and fa.rates(p, answerable, strict)["refusal"] == 0.5
    loose = fa.choose_threshold(p, answerable, 0.2)  # one of six may be: 0.25 goes, and so do 0.3 and 0.4
    assert 0.4 < loose <= 0.6 and fa.rates(p, answerable, loose) | {"threshold": 0} == {
        "threshold": 0, "refusal": 1.0, "refusal_ci": [1.0, 1.0], "refusal_n": 4,
        "false_refusal": pytest.approx(1 / 6), "false_refusal_ci": pytest.approx([0.0, 0.5], abs=0.01),
        "false_refusal_n": 6}


def row(i, split, answerable):
    doc = "dev.pdf" if split == "dev" else "test.pdf"
    return {"id": f"{split}-{i}", "question": f"{split} question {i}?", "answers": ["x"] if answerable else [],
            "doc": doc if answerable else None, "pages": [1] if answerable else [], "answerable": answerable,
            "split": split}


def test_fitting_never_asks_or_reads_a_test_question(tmp_path, monkeypatch):
    rows = [row(i, s, i % 3 != 0) for s in ("dev", "test") for i in range(30)]
    asked = []

    def fake_signals(library, verifier):
        def signals_of(q):
            asked.append(q.id)
            data, _ = synthetic(30, 2)
            return data[int(q.id.split("-")[1])] | {"strength": 0.5 + (q.answerable - 0.5) * 0.4}
        return signals_of, {"fake": 1}, lambda: None

    monkeypatch.setattr(fa, "_signals_of", fake_signals)
    written = []
    for test_side in (True, False):  # the test rows' labels flipped between the two fits
        data = [r if r["split"] == "dev" else r | {"answerable": test_side and r["answerable"]} for r in rows]
        data = [r | ({"answers": [], "doc": None, "pages": []} if not r["answerable"] else {}) for r in data]
        path = tmp_path / f"set{test_side}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in data))
        out = tmp_path / f"gate{test_side}.json"
        assert fa.main(["--library", "unused", "--dataset", str(path), "--out", str(out), "--ranker-oof", "none"]) == 0
        written.append({k: v for k, v in json.loads(out.read_text()).items() if k not in ("command", "seconds")})
    assert asked and all(a.startswith("dev-") for a in asked)
    assert {k: v for k, v in written[0].items() if k != "fitted_on"} == \
        {k: v for k, v in written[1].items() if k != "fitted_on"}
    assert written[0]["fitted_on"]["questions"] == 30 and written[0]["fitted_on"]["split"] == "dev"


def test_a_run_sets_the_fitted_gate_beside_the_hand_set_rule_and_never_abstaining():
    seen = {"p_answerable": 0.2, "threshold": 0.5, "strength": BEFORE_FIT + 0.1}
    records = [{"answerable": False, "answerability": seen},
               {"answerable": True, "answerability": seen | {"p_answerable": 0.9, "strength": BEFORE_FIT - 0.1}},
               {"answerable": None, "answerability": seen}, {"answerable": True, "answerability": {}}]
    table = {name: (g["refusal"]["value"], g["false_refusal"]["value"], g["refusal"]["n"])
             for name, g in gates(records).items()}
    assert table == {"fitted gate": (1.0, 0.0, 1), f"best score < {BEFORE_FIT} (hand-set)": (0.0, 1.0, 1),
                     "never abstain": (0.0, 0.0, 1)}


def test_the_rerank_grid_holds_the_weights_in_use_and_scores_hit_and_contains_at_one():
    from eval import fit_rerank
    from qa.evidence import Weights
    from eval.questions import Question
    assert Weights() in fit_rerank.points() and len(fit_rerank.points()) == 81
    q = Question("q", "Which function fits linear models?", ("lm",), (("Stats.pdf", 1),))
    on_gold, off = evidence("The function lm fits linear models."), evidence("Use read.csv to read files.")
    assert fit_rerank.score([on_gold, off], [q, q]) == {"hit@1": 1.0, "contains@1": 0.5, "score": 0.75}


def test_the_memo_embedder_embeds_each_text_once():
    from eval.fit_rerank import MemoEmbedder
    from fakes import HashEmbedder
    calls = []

    class Counting(HashEmbedder):
        def embed(self, texts, kind="document"):
            calls.append(list(texts))
            return super().embed(texts, kind=kind)

    memo = MemoEmbedder(Counting())
    first = memo.embed(["a b", "c d"])
    assert np.array_equal(memo.embed(["c d", "a b", "e"])[:2], first[::-1]) and calls == [["a b", "c d"], ["e"]]


def test_the_gate_file_is_read_once_and_a_malformed_fitted_on_is_a_one_line_error(tmp_path, monkeypatch):
    from pathlib import Path
    path = weighing_support(tmp_path, "features")
    reads, read_text = [], Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self) or read_text(self, *a, **k))
    assert Gate.load(path).verifier == "features" and reads == [path]
    data = json.loads(read_text(path))
    path.write_text(json.dumps(data | {"fitted_on": "features"}))
    with pytest.raises(VerifierError, match="fitted_on is not an object"):
        Gate.load(path)


def test_a_fit_with_the_features_verifier_leaves_support_out_so_the_gate_serves_any_verifier(tmp_path, monkeypatch):
    rows = [row(i, "dev", i % 3 != 0) for i in range(60)]
    for r in rows:
        if not r["answerable"]:
            r |= {"answers": [], "doc": None, "pages": []}

    def fake_signals(library, verifier):  # support alone tells the answerable questions apart
        def signals_of(q):
            data, _ = synthetic(60, 2)
            return data[int(q.id.split("-")[1])] | {"support": 0.9 if q.answerable else 0.2}
        return signals_of, {"fake": 1}, lambda: None

    monkeypatch.setattr(fa, "_signals_of", fake_signals)
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    weights = {}
    for verifier in ("features", "cross-encoder"):
        out = tmp_path / f"{verifier}.json"
        assert fa.main(["--library", "unused", "--dataset", str(path), "--verifier", verifier, "--out", str(out),
                        "--ranker-oof", "none"]) == 0
        weights[verifier] = Gate.load(out)
    assert not weights["features"].weighs("support") and weights["cross-encoder"].weighs("support")
    Gate.for_verifier("cross-encoder", tmp_path / "features.json")  # refused if it weighed features' support
