"""`python -m medviz audit verify|head`: the audit trail's hash chain."""
from __future__ import annotations

import argparse
import sys

from medviz.cli.common import EXIT_ERROR, open_store


def _cmd_audit(args: argparse.Namespace) -> int:
    from medviz import audit

    engine = open_store()
    if args.action == "head":
        seq, digest = audit.head(engine)
        print(f"{seq} {digest}")
        return 0
    warning = audit.key_location_warning()
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    result = audit.verify(engine)
    if result.ok:
        print(result.message())
        return 0
    print(f"error: {result.message()}", file=sys.stderr)
    return EXIT_ERROR


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
    au = sub.add_parser("audit", help="audit trail: verify the hash chain")
    ausub = au.add_subparsers(dest="action", required=True)
    ausub.add_parser("verify", help="check triggers, every record's HMAC and every exported chain head; exit 1 and "
                                    "name the first bad record if broken")
    ausub.add_parser("head", help="print the newest record's number and hash (keep it elsewhere to detect rewrites)")
    au.set_defaults(func=_cmd_audit)
