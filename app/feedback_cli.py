"""`groundwork feedback export`: what users said about answers, as JSONL for the evaluation harness."""
from __future__ import annotations

import io
import sys

from app import wiring
from app.accounts_cli import add_user_flag, write_private
from app.config import Config

RATINGS = {"up": 1, "down": -1}


def register(sub) -> None:
    """Add the `feedback` command group to the subparsers of app/cli.py's parser."""
    help = "the feedback given on answers"
    group = sub.add_parser("feedback", help=help, description=help)
    fsub = group.add_subparsers(required=True, metavar="FEEDBACK_COMMAND")
    p = add_user_flag(fsub.add_parser("export", help="write the feedback as JSON lines (eval run --dataset takes it)"))
    p.add_argument("--library", help="library folder (default: $GROUNDWORK_LIBRARY, else ./library)")
    p.add_argument("--rating", choices=list(RATINGS), help="only answers rated up or down")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(run=cmd_export)


def cmd_export(args, config: Config) -> int:
    """groundwork feedback export : every verdict (as --user: only its own, on passages it may still read)."""
    from index.feedback import FeedbackLog
    rating = RATINGS.get(args.rating)
    with wiring.open_library(config) as library:
        reader = wiring.reader_for(library, args.user)
    with FeedbackLog(config.library) as log:
        rows = io.StringIO()
        n = log.export_jsonl(rows, rating, reader)
    if args.out:
        write_private(args.out, rows.getvalue())
    else:
        sys.stdout.write(rows.getvalue())
    print(f"exported {n} feedback entries", file=sys.stderr)
    return 0
