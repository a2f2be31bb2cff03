"""`touchup audit verify`: walk the hash chain and say where it breaks."""

from __future__ import annotations

import argparse
import sys

from ._django import setup


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="check the audit trail")
    actions = p.add_subparsers(dest="audit_command", metavar="ACTION")
    actions.required = True
    v = actions.add_parser("verify", help="detect edited, inserted or deleted audit events")
    v.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    setup()
    from touchup.clinic.audit import verify

    result = verify()
    if result.ok:
        print(f"audit trail intact: {result.events} events")
        return 0
    print(f"audit trail BROKEN: {result.problem} (checked {result.events} events before it)", file=sys.stderr)
    return 1
