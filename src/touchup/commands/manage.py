"""`touchup manage ...`: Django's manage.py, for operators."""

from __future__ import annotations

import argparse
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("manage", help="run a Django management command", add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchup.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["touchup manage", *args.rest])
    return 0
