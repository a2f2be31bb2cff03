"""`touchup forecast HISTORY.json [HISTORY.json ...] [--json]`: when each treated area
wears off and when to book (DESIGN.md, "Contracts"; docs/forecast.md).

One file prints one result object, several print a JSON array in the same order. Bad
input exits 2 with ``FILE: FIELD: what is wrong`` on stderr and prints nothing.
"""

from __future__ import annotations

import argparse
import json
import sys

# Only touchup.core is imported, and only when the command runs: no Django start-up.


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forecast",
        help="forecast wear-off and booking dates from patient history files",
        description="Forecast the wear-off date and booking window of each area of each "
        "patient's most recent treatment.",
    )
    p.add_argument("histories", nargs="+", metavar="HISTORY.json", help="patient history (see DESIGN.md)")
    p.add_argument("--json", action="store_true", help="print JSON (the stable contract)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from touchup.core.forecast import forecast_many
    from touchup.core.history import HistoryError, load_history

    try:
        histories = [load_history(path) for path in args.histories]
    except HistoryError as exc:
        print(f"touchup forecast: {exc}", file=sys.stderr)
        return 2
    results = forecast_many(histories)

    if args.json:
        payload = [r.to_json() for r in results]
        json.dump(payload[0] if len(payload) == 1 else payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for path, result in zip(args.histories, results):
            print(_table(path, result))
    return 0


def _table(path: str, result) -> str:
    head = ("area", "treated", "wears off", "80% interval", "book from", "book by", "earliest", "basis")
    rows = [head] + [
        (
            a.area, a.treatment_date.isoformat(), a.wear_off_date.isoformat(),
            f"{a.wear_off_interval[0].isoformat()}..{a.wear_off_interval[1].isoformat()}",
            a.book_from.isoformat(), a.book_by.isoformat(), a.earliest_allowed.isoformat(), a.basis,
        )
        for a in result.areas
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = [path]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    return "\n".join(lines)
