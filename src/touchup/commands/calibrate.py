"""`touchup calibrate`: fit the clinic's own wear-off medians to its patients' histories,
show them beside the published ones, and apply them on request."""

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
