"""The `touchup` command.

Each subcommand lives in its own module under touchup.commands and registers itself
with `register(subparsers)`; the module is imported only when the command line is
parsed, so `touchup forecast` never pays for Django or OpenCV start-up.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module under touchup.commands; order is the order of --help.
COMMANDS = {
    "demo": "demo",
    "forecast": "forecast",
    "calibrate": "calibrate",
    "photo": "photo",
    "audit": "audit",
    "backup": "backup",
    "restore": "restore",
    "worker": "worker",
    "clinic": "clinic",
    "serve": "serve",
    "manage": "manage",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touchup", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in COMMANDS.values():
        module = importlib.import_module(f"touchup.commands.{module_name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
