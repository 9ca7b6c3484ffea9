"""`python -m medviz users ...`: local accounts (passwords from a prompt or stdin, never argv)."""
from __future__ import annotations

import argparse
import sys

from medviz.cli.common import open_store
from medviz.errors import MedvizError


def _read_new_password(args: argparse.Namespace, username: str) -> str:
    """Password from an interactive prompt (asked twice), or the first line of stdin — never argv."""
    if args.password_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise MedvizError("no password on stdin (pipe one line, or run in a terminal to be prompted)")
        return line.rstrip("\r\n")
    import getpass

    first = getpass.getpass(f"New password for {username}: ")
    if getpass.getpass("Repeat it: ") != first:
        raise MedvizError("the two passwords differ")
    return first


def _cmd_users(args: argparse.Namespace) -> int:
    from medviz import audit, auth
    from medviz.store import database_url
    from medviz.store.db import describe_url

    engine = open_store()
    if args.action == "list":
        for u in auth.list_users(engine):
            flags = ", ".join(f for f, on in (("disabled", not u.active), ("must change password", u.must_change_password)) if on)
            print(f"{u.username:<24} {u.role:<10} {flags}".rstrip())
        return 0
    name = auth.validate_username(args.name)
    if args.action == "add":
        password = _read_new_password(args, name)
        auth.create_user(engine, name, password, args.role, must_change=args.must_change)
        audit.record(engine, "user_created", username="cli", role="admin", output_summary=f"{args.role} account {name}")
        print(f"created {args.role} '{name}' in {describe_url(database_url())}")
    elif args.action == "passwd":
        password = _read_new_password(args, name)
        auth.set_password(engine, name, password, must_change=args.must_change)
        audit.record(engine, "password_change", username="cli", role="admin", output_summary=f"password reset for {name}")
        print(f"password set for '{name}'")
    elif args.action in ("disable", "enable"):
        auth.set_active(engine, name, args.action == "enable")
        audit.record(engine, f"user_{args.action}d", username="cli", role="admin", output_summary=f"account {name}")
        print(f"{args.action}d '{name}'")
    return 0


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
    us = sub.add_parser("users", help="manage local accounts (password from a prompt or stdin, never an argument)")
    usub = us.add_subparsers(dest="action", required=True)
    ua = usub.add_parser("add", help="create an account")
    ua.add_argument("name")
    ua.add_argument("--role", required=True, choices=["clinician", "admin"])
    ua.add_argument("--must-change", action="store_true", help="force a password change at first sign-in")
    ua.add_argument("--password-stdin", action="store_true", help="read the password from stdin even in a terminal")
    up = usub.add_parser("passwd", help="set a new password for an account (admin reset)")
    up.add_argument("name")
    up.add_argument("--must-change", action="store_true", help="force a password change at next sign-in")
    up.add_argument("--password-stdin", action="store_true")
    for act in ("disable", "enable"):
        usub.add_parser(act, help=f"{act} an account").add_argument("name")
    usub.add_parser("list", help="list accounts and roles")
    us.set_defaults(func=_cmd_users)
