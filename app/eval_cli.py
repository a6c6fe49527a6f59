"""`groundwork eval run|compare|detector|generate`: the evaluation harness on the command line."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from app import wiring
from app.accounts_cli import add_user_flag
from app.config import Config, UserError
from qa.records import MODES

EXIT_FAILED = 1


def register(sub) -> None:
    """Add the `eval` command group to the subparsers of app/cli.py's parser."""
    group = sub.add_parser("eval", help="evaluate answers, compare runs, measure the verifier, draft questions",
                           description="evaluate answers, compare runs, measure the verifier, draft questions")
    esub = group.add_subparsers(required=True, metavar="EVAL_COMMAND")

    p = esub.add_parser("run", help="ask every question of a dataset and write report.json, .md and .html")
    p.add_argument("--dataset", required=True, help="question-set or feedback JSONL, or halueval-qa")
    p.add_argument("--library", help="library folder (default: $GROUNDWORK_LIBRARY, else ./library)")
    p.add_argument("--out", required=True, help="folder for the report files")
    p.add_argument("--mode", choices=MODES, help="answer mode (default: configured)")
    p.add_argument("--workers", type=int, help="questions answered at once (default 4 with a model, else 1)")
    p.add_argument("--sample", type=int, help="a seeded sample of this many questions (halueval-qa: default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=["dev", "test"], help="only the dev or test questions of a split set "
                                                             "(tune on dev, report on test)")
    judges = p.add_mutually_exclusive_group()
    judges.add_argument("--judge", action="store_true", help="check claims with the model server as an LLM judge")
    judges.add_argument("--judge-verifier", metavar="SPEC", help="check sentences with another verifier than the "
                        "engine's (default: features, or cross-encoder when the engine uses features; also "
                        "nli:MODEL_PATH, llm-judge, or none: grounding not measured)")
    p.add_argument("--fail-under", default="", metavar="M=X,...", help="exit 1 when a metric is under X")
    p.add_argument("--fail-over", default="", metavar="M=X,...", help="exit 1 when a metric is over X")
    add_user_flag(p)
    p.set_defaults(run=cmd_run)

    p = esub.add_parser("compare", help="metric deltas of run B against run A, and the questions that regressed")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    p.set_defaults(run=cmd_compare, library=None)

    p = esub.add_parser("detector", help="measure the configured verifier on labelled claims, beside two baselines")
    p.add_argument("--dataset", required=True, help="halueval-qa, halueval-dialogue, halueval-summarization or a "
                                                    "JSONL FILE of {passage, claim, supported}")
    p.add_argument("--sample", type=int, default=500, help="HaluEval rows to sample (default 500; 0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also write detector.json and detector.html (calibration plot) here")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(run=cmd_detector, library=None)

    p = esub.add_parser("generate", help="draft a question set from a library, for people to review")
    p.add_argument("--library", help="library folder (default: $GROUNDWORK_LIBRARY, else ./library)")
    p.add_argument("--n", type=int, default=50, help="questions to draft (default 50)")
    p.add_argument("--out", required=True, help="the JSONL file to write")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_generate)


def cmd_run(args, config: Config) -> int:
    """groundwork eval run : answer a dataset, grade it, write the reports, apply the gates."""
    from eval import report
    from eval.compare import gate_failures, parse_gates
    from eval.run import run_questions
    from eval.summary import JUDGED
    try:
        under, over = parse_gates(args.fail_under), parse_gates(args.fail_over)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    unjudged = [k for k in (*under, *over) if k in JUDGED and args.judge_verifier == wiring.NO_JUDGE]
    if unjudged:
        raise UserError(f"a gate on {', '.join(unjudged)} needs a judge other than the engine's own verifier, which "
                        f"accepts every sentence it lets through: drop --judge-verifier none")
    if args.sample is not None and args.sample < 1:
        raise UserError(f"--sample must be at least 1, not {args.sample} (leave it out for every question)")
    if args.workers is not None and args.workers < 1:
        raise UserError("--workers must be at least 1")
    out = writable_folder(args.out)  # before answering: a run must not end in a folder it cannot write
    questions = wiring.eval_questions(config, args.dataset, args.sample, args.seed, out, args.split,
                                      say=lambda line: print(line, file=sys.stderr))
    with wiring.answering_library(config, args.user) as (library, reader):
        dataset = f"{args.dataset} ({args.split} split)" if args.split else args.dataset
        engine, grader, meta = wiring.evaluation(config, library, mode=args.mode, judge=args.judge, dataset=dataset,
                                                 judge_verifier=args.judge_verifier, reader=reader)
        workers = args.workers or (4 if engine.llm else 1)
        with _bar(len(questions)) as bar:
            result = run_questions(engine, questions, grader, workers, on_done=lambda *_: bar.update(1), reader=reader)
    with _writing(out):
        written = report.write(report.build(result, meta, args.seed), out)
    _print_summary(written, out)
    failures = gate_failures(written["summary"], under, over)
    for line in failures:
        print(f"gate failed: {line}", file=sys.stderr)
    errors = written["summary"]["counts"]["errors"]
    if errors:
        print(f"{errors} questions failed; see their 'error' in {out / 'report.json'}", file=sys.stderr)
    return EXIT_FAILED if failures or errors else 0


def writable_folder(path: str) -> Path:
    """The report folder, checked before the work (it is made when the reports are written); UserError in one line
    when it could not hold them: a file, under a file, or in a folder this user cannot write."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {path} is a file, not a folder; name a folder for the report files")
    there = next(p for p in (folder, *folder.absolute().parents) if p.exists())  # the folder or what would hold it
    if not there.is_dir():
        raise UserError(f"--out {path}: {there} is a file, not a folder")
    if not os.access(there, os.W_OK | os.X_OK):
        raise UserError(f"--out {path}: cannot write in {there}")
    return folder


def writable_file(path: str) -> Path:
    """A file to write, checked before the work: its folder exists and it is no folder itself."""
    file = Path(path)
    if file.is_dir():
        raise UserError(f"--out {path} is a folder; name the file to write")
    if not file.parent.is_dir():
        raise UserError(f"--out {path}: no folder {file.parent}")
    if not os.access(file.parent, os.W_OK | os.X_OK) or file.exists() and not os.access(file, os.W_OK):
        raise UserError(f"cannot write {path}")
    return file


@contextlib.contextmanager
def _writing(path: Path):
    """Writing the results, an OSError said in one line (a full disk, a folder the system refuses)."""
    try:
        yield
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def _bar(total: int):
    from tqdm import tqdm
    return tqdm(total=total, unit="question", file=sys.stderr, disable=None, dynamic_ncols=True)


def _print_summary(written: dict, out: Path) -> None:
    from eval.html import value
    t = written["meta"]["time"]
    shown = ("hit@5", "recall@5", "mrr", "contains_answer", "right", "faithfulness", "hallucination", "gold_cited",
             "refusal", "false_refusal")
    metrics = written["summary"]["metrics"]
    print("  ".join(f"{k} {value(written, k)}" + (_interval(metrics[k]) if k.endswith("refusal") else "")
                    for k in shown))
    print(f"wrote {out}/report.json, report.md, report.html; wall {t['wall_s']:.1f} s, "
          f"evaluation overhead {t['overhead_share']:.1%}")


def _interval(metric: dict) -> str:
    from eval.html import fmt
    return f" [{fmt(metric['ci'][0])}, {fmt(metric['ci'][1])}]" if metric["ci"] else ""


def cmd_compare(args, config: Config) -> int:
    """groundwork eval compare RUN_A RUN_B : deltas with intervals, and regressed questions."""
    from eval import compare, report
    reports = []
    for run in (args.run_a, args.run_b):
        path = Path(run)
        if not (path / "report.json").is_file() and not (path.is_file() and path.suffix == ".json"):
            raise UserError(f"no report.json in {run}; make one with: groundwork eval run --dataset FILE --out {run}")
        reports.append(report.load(path))
    result = compare.compare(*reports)
    print(json.dumps(result) if args.json else compare.text(result))
    return 0


def cmd_detector(args, config: Config) -> int:
    """groundwork eval detector --dataset D : the configured verifier's figures as a hallucination detector."""
    from eval import detector
    if args.sample < 0:
        raise UserError(f"--sample must be 0 (every row) or more, not {args.sample}")
    out = writable_folder(args.out) if args.out else None
    pairs = detector.labelled_pairs(args.dataset, args.sample or None, args.seed)
    if not pairs:
        raise UserError(f"dataset {args.dataset} holds no labelled claims")
    verifier = wiring.detector_verifier(config)
    with _bar(len(pairs)) as bar:
        result = detector.measure(pairs, verifier, lambda done, _: setattr(bar, "n", done) or bar.refresh())
    result = {"dataset": args.dataset, **result, "verifier": verifier.name, "baselines": detector.baselines(pairs)}
    if out:
        with _writing(out):
            detector.write(result, out)
    shown = {k: result[k] for k in detector.SHOWN}
    baselines = {name: {k: b[k] for k in ("balanced_accuracy", "auroc")} for name, b in result["baselines"].items()}
    if args.json:
        print(json.dumps({**shown, "verifier": result["verifier"], "baselines": baselines}))
        return 0
    print(f"verifier {result['verifier']}: " + "  ".join(f"{k} {_figure(v)}" for k, v in shown.items()))
    for name, b in baselines.items():
        print(f"baseline {name}: balanced_accuracy {_figure(b['balanced_accuracy'])}  auroc {_figure(b['auroc'])}")
    if any(v is None for v in (*shown.values(), *(x for b in baselines.values() for x in b.values()))):
        print("-: not defined on these claims (AUROC and balanced accuracy need supported and unsupported ones)",
              file=sys.stderr)
    return 0


def _figure(value) -> str:
    """A figure as printed: fmt's three decimals or '-' where the claims do not define it; a count or a name as is."""
    from eval.html import fmt
    return fmt(value) if value is None or isinstance(value, float) else str(value)


def cmd_generate(args, config: Config) -> int:
    """groundwork eval generate --n N --out FILE : draft questions from the library for review."""
    from eval.generate import draft
    from eval.questions import write_jsonl
    if args.n < 1:
        raise UserError("--n must be at least 1")
    out = writable_file(args.out)
    with wiring.open_library(config) as library, _bar(args.n) as bar:
        rows, rejected = draft(library, wiring.llm(config), args.n, args.seed,
                               lambda done, _: setattr(bar, "n", done) or bar.refresh())
    with _writing(out):
        write_jsonl(rows, out)
    fewer = f", fewer than the {args.n} asked" if len(rows) < args.n else ""
    print(f"wrote {len(rows)} draft questions to {args.out}{fewer} ({rejected} chunks gave no usable question); "
          f"review them, then check them with: python -m eval.dataset {args.out} --library {config.library}")
    return 0 if rows else EXIT_FAILED
