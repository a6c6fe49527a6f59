"""`groundwork users|permissions|audit`: accounts, who may read each document, and what was answered to whom.

The CLI user is the machine's administrator: these commands manage everyone and read the whole
audit trail. Other commands take `--user NAME` to read as that account (it scopes, it does not
authenticate).
"""
from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import sys

from app import wiring
from app.config import Config, UserError
from index.control_chars import visible

LIBRARY_HELP = "library folder (default: $GROUNDWORK_LIBRARY, else ./library)"


def register(sub) -> None:
    """Add the `users`, `permissions` and `audit` commands to the subparsers of app/cli.py's parser."""
    help = "local accounts and their groups"
    group = sub.add_parser("users", help=help, description=help)
    usub = group.add_subparsers(required=True, metavar="USERS_COMMAND")
    p = _with_library(usub.add_parser("add", help="create an account (password asked twice, or --password-stdin)"))
    p.add_argument("name")
    p.add_argument("--group", action="append", default=[], help="a group the account belongs to (repeatable)")
    p.add_argument("--admin", action="store_true", help="an administrator: reads everything, manages users")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(run=cmd_users_add)
    p = _with_library(usub.add_parser("list", help="the accounts, their groups and failed sign-ins"))
    p.add_argument("--json", action="store_true", help="one JSON object per account on stdout")
    p.set_defaults(run=cmd_users_list)
    p = _with_library(usub.add_parser("remove", help="delete an account; its next request reads nothing"))
    p.add_argument("name")
    p.add_argument("--make-single-user", action="store_true",
                   help="let it remove the last account, which opens the UI to anyone with full access")
    p.set_defaults(run=cmd_users_remove)
    p = _with_library(usub.add_parser("set-groups", help="replace an account's groups (none: only public documents)"))
    p.add_argument("name")
    p.add_argument("--group", action="append", default=[], help="a group (repeatable; leave out for none)")
    p.set_defaults(run=cmd_users_set_groups)

    help = "show or change which groups may read a document (no flag: show)"
    p = _with_library(sub.add_parser("permissions", help=help, description=help))
    p.add_argument("doc", help="document id (or unique prefix), title or source path")
    p.add_argument("--allow", action="append", default=[], help="let this group read it (repeatable)")
    p.add_argument("--deny", action="append", default=[], help="stop this group reading it (repeatable)")
    p.add_argument("--make-public", action="store_true",
                   help="let --deny remove its last group, which makes it readable by every signed-in user")
    p.set_defaults(run=cmd_permissions)

    help = "the answers given: who asked what, the passages shown, the verdicts"
    p = _with_library(sub.add_parser("audit", help=help, description=help))
    p.add_argument("--user", help="only this account's questions ('' for the machine's own CLI user)")
    p.add_argument("--since", metavar="WHEN", help="from this UTC date or time on, e.g. 2026-11-29 or 2026-11-29T18:00")
    p.add_argument("--json", action="store_true", help="one JSON object per answer on stdout")
    p.add_argument("--export", metavar="FILE", help="write the entries to FILE as JSON lines")
    p.set_defaults(run=cmd_audit)


def add_user_flag(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """`--user NAME` on a command that reads documents: read as that account."""
    p.add_argument("--user", metavar="NAME", help="read as this account: only the documents its groups may read "
                                                  "(it scopes, it does not authenticate)")
    return p


def _with_library(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--library", help=LIBRARY_HELP)
    return p


def cmd_users_add(args, config: Config) -> int:
    """groundwork users add NAME : an account with an Argon2id password hash (the library is made if missing)."""
    password = _read_password(args.name, args.password_stdin)
    with wiring.open_library(config, create=True) as library:
        user = library.accounts.add(args.name, password, args.group, args.admin)
    print(f"added {_describe(user)}")
    return 0


def _read_password(name: str, from_stdin: bool) -> str:
    """The password from standard input, or asked twice on the terminal."""
    if from_stdin:
        return sys.stdin.read().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise UserError(f"no terminal to ask a password on; pipe one in: groundwork users add {name} --password-stdin")
    first = getpass.getpass(f"password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise UserError(f"the two passwords differ; run again: groundwork users add {name}")
    return first


def cmd_users_list(args, config: Config) -> int:
    """groundwork users list : every account, never a password hash."""
    with wiring.open_library(config) as library:
        users = library.accounts.users()
    for u in users:
        if args.json:
            print(json.dumps({"name": u.name, "groups": list(u.groups), "admin": u.admin, "created_at": u.created_at,
                              "failed_logins": u.failed_logins, "last_failed_at": u.last_failed_at}))
        else:
            failed = f", {u.failed_logins} failed sign-ins since the last good one" if u.failed_logins else ""
            print(f"{_describe(u)}, created {u.created_at}{failed}")
    if not users and not args.json:
        print(f"no accounts yet; add one with: groundwork users add NAME --library {config.library}")
    return 0


def cmd_users_remove(args, config: Config) -> int:
    """groundwork users remove NAME : the account goes; what it asked stays in the audit trail."""
    with wiring.open_library(config) as library:
        library.accounts.remove(args.name, args.make_single_user)
    print(f"removed {args.name}")
    return 0


def cmd_users_set_groups(args, config: Config) -> int:
    """groundwork users set-groups NAME [--group G]... : replace the account's groups."""
    with wiring.open_library(config) as library:
        user = library.accounts.set_groups(args.name, args.group)
    print(f"{_describe(user)}; applies from its next request")
    return 0


def _describe(user) -> str:
    # "groups:" keeps a group named admin apart from the administrator's rights
    groups = f"groups: {', '.join(user.groups)}" if user.groups else "no groups"
    return f"{user.name} ({groups}{'; administrator' if user.admin else ''})"


def cmd_permissions(args, config: Config) -> int:
    """groundwork permissions DOC [--allow G]... [--deny G]... : change, then show, who may read a document."""
    with wiring.open_library(config) as library:
        doc_id = library.resolve(args.doc)
        if args.allow or args.deny:
            library.change_groups(doc_id, args.allow, args.deny, args.make_public)
        elif args.make_public:
            raise UserError("--make-public goes with --deny GROUP (the document's last groups)")
        info = library.document(doc_id)
    readers = f"readable by {', '.join(info.groups)}" if info.groups else "readable by every signed-in user"
    print(f"{doc_id}  {visible(info.title)}: {readers} (and admins)")
    return 0


def cmd_audit(args, config: Config) -> int:
    """groundwork audit : the answers recorded, oldest first (the CLI user is the machine's admin)."""
    with wiring.open_library(config) as library:
        if args.export:
            rows = io.StringIO()
            n = library.audit.export_jsonl(rows, None, args.user, args.since)
            write_private(args.export, rows.getvalue())
            print(f"wrote {n} audit entries to {args.export}")
            return 0
        entries = library.audit.entries(None, args.user, args.since)
    for e in entries:
        if args.json:
            print(json.dumps(e.to_json(), ensure_ascii=False))
            continue
        shown = ", ".join(f"{p['doc_id']} p.{p['page']}" for p in e.passages) or "none"
        print(f"{e.at}  {visible(e.user) or '(cli)'}  {e.mode}{'  ' + visible(e.model) if e.model else ''}\n"
              f"  asked: {visible(e.question)}\n  shown: {shown}\n  answer: {visible(e.answer)}")
    if not entries and not args.json:
        print("no answers recorded" + (" for these filters" if args.user is not None or args.since else ""))
    return 0


def write_private(path: str, text: str) -> None:
    """Write a file only its owner may read: audit and feedback quote the documents they showed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), 0o600)  # O_CREAT sets the mode of a new file only; an old one may be world-readable
            out.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
