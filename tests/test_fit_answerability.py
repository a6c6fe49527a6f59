"""Fitting the answerability gate on several corpora at once: per-corpus folds, limits, figures and cache."""
import json

import numpy as np

from eval import fit_answerability as fa
from qa.answerability import FEATURES


def corpus(n, seed, shift):
    """Synthetic signals: answerable questions have more evidence; `shift` moves the whole corpus's scale."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3 != 0
    sign = np.array([1 if fa.SIGNS[f] > 0 else -1 for f in FEATURES])
    x = rng.normal(size=(n, len(FEATURES))) + np.where(y[:, None], 1.0, -1.0) * sign + shift * sign
    return [dict(zip(FEATURES, r)) for r in x], list(y)


def two_corpora():
    """Corpus 'a' and a smaller corpus 'b' whose evidence is weaker throughout, as on another kind of document."""
    (xa, ya), (xb, yb) = corpus(90, 1, 0.0), corpus(45, 2, -1.2)
    return xa + xb, ya + yb, ["a"] * 90 + ["b"] * 45


def test_the_folds_deal_each_corpus_and_class_round_all_of_them():
    _, y, names = two_corpora()
    corpus_of = np.array([n == "b" for n in names]).astype(int)
    fold = fa.folds(np.array(y), 5, 0, corpus_of)
    for c in (0, 1):
        for label in (False, True):
            counts = np.bincount(fold[(corpus_of == c) & (np.array(y) == label)], minlength=5)
            assert counts.max() - counts.min() <= 1


def test_the_threshold_keeps_false_refusal_under_the_limit_on_every_corpus_not_only_pooled():
    signals, labels, names = two_corpora()
    pooled, _ = fa.fit(signals, labels)
    params, figures = fa.fit(signals, labels, corpora=names)
    assert params.to_dict() == fa.fit(signals, labels, corpora=names)[0].to_dict()  # deterministic
    by = figures["corpora"]
    assert set(by) == {"a", "b"} and all(by[c]["cv"]["false_refusal"] <= fa.MAX_FALSE_REFUSAL for c in by)
    # Pooled, the weaker corpus pays for the stronger one: its answerable questions are refused more often.
    b = np.array([n == "b" for n in names])
    p = pooled.probability(fa.rows(signals))
    assert fa.rates(p[b], np.array(labels)[b], pooled.threshold)["false_refusal"] > fa.MAX_FALSE_REFUSAL
    assert params.threshold < pooled.threshold
    for c in by:  # each corpus also held out whole: a gate fitted on the other one only
        held = by[c]["held_out"]
        assert held["refusal_n"] + held["false_refusal_n"] == names.count(c) and 0 <= held["refusal"] <= 1


def test_one_corpus_gives_the_single_corpus_fit_and_no_per_corpus_figures():
    signals, labels, _ = two_corpora()
    alone, figures = fa.fit(signals[:90], labels[:90])
    named, _ = fa.fit(signals[:90], labels[:90], corpora=["a"] * 90)
    assert alone.to_dict() == named.to_dict() and "corpora" not in figures


def test_pairs_are_taken_in_order_and_a_missing_library_is_an_error():
    assert fa.corpora_of(None, ["lib"]) == [(fa.DATASET, "lib")]
    assert fa.corpora_of(["a.jsonl", "b.jsonl"], ["la", "lb"]) == [("a.jsonl", "la"), ("b.jsonl", "lb")]
    for datasets, libraries in ((["a.jsonl", "b.jsonl"], ["la"]), (["a.jsonl", "a.jsonl"], ["la", "lb"])):
        try:
            fa.corpora_of(datasets, libraries)
        except ValueError:
            continue
        raise AssertionError(f"{datasets} {libraries} accepted")


def write_set(path, prefix, n):
    rows = [{"id": f"{prefix}-{i}", "question": f"{prefix} question {i}?", "answers": ["x"] if i % 3 else [],
             "doc": "d.pdf" if i % 3 else None, "pages": [1] if i % 3 else [], "answerable": bool(i % 3),
             "split": "dev" if i < n else "test"} for i in range(n + 6)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_main_fits_on_every_pair_asking_each_library_its_own_dev_questions_once(tmp_path, monkeypatch):
    write_set(tmp_path / "a.jsonl", "a", 60)
    write_set(tmp_path / "b.jsonl", "b", 30)
    asked = []
    data = {"la": corpus(60, 3, 0.0)[0], "lb": corpus(30, 4, -1.2)[0]}

    def fake_signals(library, verifier):
        def signals_of(q):
            asked.append((library, q.id))
            return data[library][int(q.id.split("-")[1])]
        return signals_of, {"library": library}, lambda: None

    monkeypatch.setattr(fa, "_signals_of", fake_signals)
    cache = tmp_path / "signals.json"
    argv = ["--dataset", str(tmp_path / "a.jsonl"), "--library", "la", "--dataset", str(tmp_path / "b.jsonl"),
            "--library", "lb", "--out", str(tmp_path / "gate.json"), "--cache", str(cache), "--ranker-oof", "none"]
    assert fa.main(argv) == 0
    assert sorted({lib for lib, _ in asked}) == ["la", "lb"] and len(asked) == 90
    assert all(q.startswith("a-") == (lib == "la") and int(q.split("-")[1]) < (60 if lib == "la" else 30)
               for lib, q in asked)
    record = json.loads((tmp_path / "gate.json").read_text())
    assert [d["questions"] for d in record["fitted_on"]["datasets"]] == [60, 30]
    assert set(record["figures"]["corpora"]) == {str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")}
    assert len(json.loads(cache.read_text())["entries"]) == 2
    asked.clear()
    assert fa.main(argv) == 0 and asked == []  # both corpora's signals come from the one cache file
    assert fa.main(argv[:6] + ["--out", str(tmp_path / "g2.json")]) == 2  # a dataset without its library


def test_the_ranker_signal_is_fitted_on_out_of_fold_scores_never_the_shipped_rankers_own(tmp_path, monkeypatch):
    write_set(tmp_path / "a.jsonl", "a", 60)
    write_set(tmp_path / "b.jsonl", "b", 30)
    rows = {"la": corpus(60, 3, 0.0), "lb": corpus(30, 4, -1.2)}
    # The engine's own ranker signal says nothing; the out-of-fold one tells the classes apart.
    data = {lib: [s | {"ranker": 0.5} for s in sig] for lib, (sig, _) in rows.items()}

    def fake_signals(library, verifier):
        return (lambda q: data[library][int(q.id.split("-")[1])]), {"library": library}, lambda: None

    monkeypatch.setattr(fa, "_signals_of", fake_signals)
    questions = {"a": fa.dev_questions(str(tmp_path / "a.jsonl")), "b": fa.dev_questions(str(tmp_path / "b.jsonl"))}
    oof = {c: {q.question: (0.9 if q.answerable else 0.1) for q in qs} for c, qs in questions.items()}
    (tmp_path / "oof.json").write_text(json.dumps({"scores": oof}))
    argv = ["--dataset", str(tmp_path / "a.jsonl"), "--library", "la", "--dataset", str(tmp_path / "b.jsonl"),
            "--library", "lb", "--out", str(tmp_path / "gate.json"), "--ranker-oof", str(tmp_path / "oof.json")]
    assert fa.main(argv) == 0
    record = json.loads((tmp_path / "gate.json").read_text())
    assert record["weights"][FEATURES.index("ranker")] > 0 and record["fitted_on"]["ranker_scores"]
    assert fa.main(argv[:-2] + ["--ranker-oof", "none"]) == 0
    assert json.loads((tmp_path / "gate.json").read_text())["weights"][FEATURES.index("ranker")] == 0
    (tmp_path / "oof.json").write_text(json.dumps({"scores": {"a": oof["a"]}}))
    from eval.ranker_data import RankExample, write_examples
    monkeypatch.setattr(fa, "PAIRS", tmp_path / "pairs.jsonl.gz")
    learnt = [RankExample(q.question, "a unit.", "", True, "question", c) for c, qs in questions.items() for q in qs]
    write_examples(learnt, tmp_path / "pairs.jsonl.gz")
    assert fa.main(argv) == 2  # no out-of-fold scores for b, whose questions the ranker learnt from: refused
    b_copy = tmp_path / "b-copy.jsonl"  # the same questions under another name are still the ones it learnt
    b_copy.write_text((tmp_path / "b.jsonl").read_text())
    assert fa.main([*argv[:5], str(b_copy), *argv[6:]]) == 2
    write_examples([e for e in learnt if e.corpus == "a"], tmp_path / "pairs.jsonl.gz")
    assert fa.main(argv) == 0  # b is new to the shipped ranker: its own scores of b are out of sample, and kept
    signals = fa.with_held_out_ranker(data["lb"], questions["b"], {"a": oof["a"]}, str(tmp_path / "b.jsonl"))
    assert {s["ranker"] for s in signals} == {0.5}
    (tmp_path / "pairs.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00 cut short")
    assert fa.main(argv) == 2  # an unreadable pairs file: one line, no traceback
    (tmp_path / "oof.json").write_text("not json")
    assert fa.main(argv) == 2


def test_the_cache_keeps_one_entry_per_library_and_asks_again_when_its_key_changes(tmp_path):
    qs = [type("Q", (), {"question": f"q{i}?"})() for i in range(3)]
    cache, asked = tmp_path / "c.json", []

    def signals_of(q):
        asked.append(q.question)
        return {"strength": 1.0}

    fa.collect(qs, signals_of, cache, {"library": "a", "epoch": 1})
    fa.collect(qs, signals_of, cache, {"library": "b", "epoch": 1})
    fa.collect(qs, signals_of, cache, {"library": "a", "epoch": 1})
    assert len(asked) == 6  # the second ask of library a came from the cache
    fa.collect(qs, signals_of, cache, {"library": "a", "epoch": 2})  # re-ingested: asked again, old entry gone
    assert len(asked) == 9
    assert sorted((e["key"]["library"], e["key"]["epoch"]) for e in json.loads(cache.read_text())["entries"]) == \
        [("a", 2), ("b", 1)]


def test_cached_signals_that_other_code_computed_are_read_again_and_it_says_so(tmp_path, capsys):
    from eval.fit_cache import source_hash
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "evidence.py").write_text("WEIGHT = 1\n")
    before = source_hash(["qa", "qa/verifier.json"], root=tmp_path)
    (tmp_path / "qa" / "evidence.py").write_text("WEIGHT = 2\n")
    assert source_hash(["qa", "qa/verifier.json"], root=tmp_path) != before
    assert fa.cache_key("lib", 3, "features")["code"] == source_hash(fa.SIGNAL_SOURCES)
    qs, cache, asked = [type("Q", (), {"question": "q?"})()], tmp_path / "c.json", []

    def signals_of(q):
        asked.append(q.question)
        return {"strength": 1.0}

    fa.collect(qs, signals_of, cache, {"library": "a", "code": before})
    fa.collect(qs, signals_of, cache, {"library": "a", "code": "changed"})
    assert asked == ["q?", "q?"] and "stale (code changed); computing them again" in capsys.readouterr().err
