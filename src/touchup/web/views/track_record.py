"""The forecast's track record on the clinic's own patients, for the manager
(touchup.maintenance.services.track_record): how close the wear-off forecasts came on the
cycles where the clinic saw the wear-off, beside the fixed "every N days" rule."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from touchup.core.track_record import MAX_GAP_DAYS, AreaRecord
from touchup.maintenance.access import require_calibration
from touchup.maintenance.services import track_record as svc

from ..clinical import name_of


def track_record_page(request: HttpRequest) -> HttpResponse:
    m = require_calibration(request.user)  # the same people as the calibration page
    report = svc.for_clinic(m.clinic, actor=request.user)
    return render(request, "web/maintenance/track_record.html", {
        "nav": "track_record", "report": report, "max_gap_days": MAX_GAP_DAYS,
        "rows": [_row(a, name_of("area", a.area)) for a in report.areas],
        "overall": _row(report.overall, "All areas"),
    })


def _row(a: AreaRecord, label: str) -> dict:
    days = lambda x: "" if x is None else f"{x:.0f} days"  # noqa: E731
    return {
        "area": label, "cycles": a.cycles, "not_measured": a.not_measured, "before_cut": a.before_cut,
        "running": a.running, "model": days(a.mae_model), "fixed": days(a.mae_fixed),
        "fixed_n": _fixed_n(a),
        "ratio": "" if a.ratio is None else f"{a.ratio:.2f}",
        "inside": "" if a.coverage is None else f"{100 * a.coverage:.0f}%",
        "best": days(a.mae_best_fixed),
    }


def _fixed_n(a: AreaRecord) -> str:
    """The N under the fixed rule: an area's one or two (one per product), "130 or 150";
    the clinic's row, which recalls each area at its own N, as a range: "84 to 150, each
    area its own" (it read "84 or 120 or 130 or 135 or 150", a choice nobody made)."""
    if a.area == "all" and len(a.fixed_days) > 1:
        return f"{min(a.fixed_days)} to {max(a.fixed_days)}, each area its own"
    return " or ".join(str(n) for n in a.fixed_days)
