"""`touchup calibrate`: fit the clinic's own wear-off medians to its patients' histories,
show them beside the published ones, and apply them on request. `--track-record` instead
shows how the forecasts did on the clinic's own past cycles (the manager's Track record
page): nothing is fitted or applied."""

from __future__ import annotations

import argparse
import json
import sys

from ._django import setup


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="fit the wear-off medians to the clinic's own patients")
    p.add_argument("--clinic", metavar="SLUG", help="one clinic (default: every clinic)")
    p.add_argument("--apply", action="store_true",
                   help="make the fitted medians the clinic's and recompute its forecasts")
    p.add_argument("--track-record", action="store_true",
                   help="show how the forecasts did on the clinic's own past cycles instead (fits nothing)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setup()
    from touchup.clinic.models import Clinic
    from touchup.maintenance.services import calibration
    from touchup.maintenance.services.forecasts import recompute_clinic_forecasts

    clinics = Clinic.objects.order_by("slug")
    if args.clinic:
        clinics = clinics.filter(slug=args.clinic)
        if not clinics.exists():
            print(f"touchup calibrate: no clinic {args.clinic!r}", file=sys.stderr)
            return 2
    if args.track_record:
        if args.apply:
            print("touchup calibrate: --track-record fits nothing, so there is nothing to --apply", file=sys.stderr)
            return 2
        return _track_record(clinics, args.json)
    out = []
    for clinic in clinics:
        try:
            row = calibration.propose(clinic)
        except calibration.NothingToCalibrate:
            out.append({"clinic": clinic.slug, "patients": 0, "areas": {}, "applied": False})
            continue
        if args.apply:
            calibration.apply(row, queue=False)  # recomputed here, not by the worker
            recompute_clinic_forecasts(clinic.pk)
        out.append({"clinic": clinic.slug, "patients": row.patients, "areas": row.result, "applied": args.apply})

    if args.json:
        print(json.dumps(out if len(out) != 1 else out[0], indent=2))
        return 0
    for entry in out:
        print(f"{entry['clinic']}: {entry['patients']} patient histories")
        if not entry["areas"]:
            print("  nothing to calibrate yet (no signed treatments)")
            continue
        print(f"  {'area':<18} {'patients':>8} {'published':>10} {'clinic':>8} {'change':>14}")
        for area, r in entry["areas"].items():
            if r["calibrated"]:
                change = f"{r['percent']:+.0f}% (+-{100 * r['sd']:.0f}%)"
                clinic_days = f"{r['after']:.0f} d"
            else:
                change, clinic_days = "too few to fit", "-"
            print(f"  {area:<18} {r['patients']:>8} {r['before']:>8.0f} d {clinic_days:>8} {change:>14}")
        print("  applied: forecasts recomputed" if entry["applied"]
              else "  not applied (run with --apply to use these medians)")
    return 0


def _track_record(clinics, as_json: bool) -> int:
    from touchup.maintenance.services import track_record

    reports = [(c.slug, track_record.for_clinic(c)) for c in clinics]
    if as_json:
        out = [{"clinic": slug, **report.to_json()} for slug, report in reports]
        print(json.dumps(out if len(out) != 1 else out[0], indent=2))
        return 0
    for slug, report in reports:
        print(f"{slug}: forecast track record (forecast made at each cycle's peak day)")
        if report.empty:
            print(f"  {report.reason}")
        # From the report's own numbers, as the page is: the JSON's are rounded to a tenth
        # already, and rounding 15.46 to 15.5 and then to whole days printed 16 where the
        # page said 15.
        rows = list(report.areas) + ([report.overall] if len(report.areas) > 1 else [])
        if not rows:
            continue
        table = [("area", "cycles", "forecast off", "every N days off", "ratio", "inside range", "not measured")]
        for r in rows:
            table.append((
                "all areas" if r is report.overall else r.area, str(r.cycles), _days(r.mae_model),
                "-" if r.mae_fixed is None else f"{r.mae_fixed:.0f} d (N={_fixed_n(r)})",
                "-" if r.ratio is None else format(r.ratio, ".2f"),
                "-" if r.coverage is None else format(100 * r.coverage, ".0f") + "%", str(r.not_measured),
            ))
        # Each column as wide as its widest cell: the clinic's row names every area's N,
        # wider than the fixed widths the columns had, and pushed the rest of its row out.
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
            print("  " + " ".join(cells).rstrip())
    return 0


def _fixed_n(r) -> str:
    """The N of the fixed rule, as the track record page gives it: an area's one or two
    (one per product), the clinic's row, where each area has its own, as a range."""
    if r.area == "all" and len(r.fixed_days) > 1:
        return f"{min(r.fixed_days)} to {max(r.fixed_days)}"
    return "/".join(map(str, r.fixed_days))


def _days(x) -> str:
    return "-" if x is None else f"{x:.0f} d"
