"""The forecast's track record on the clinic's own patients, for the manager
(touchup.maintenance.services.track_record): how close the wear-off forecasts came on the
cycles where the clinic saw the wear-off, beside the fixed "every N days" rule."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from touchup.core.track_record import MAX_GAP_DAYS, AreaRecord
from touchup.maintenance.access import require_calibration
from touchup.maintenance.services import calibration
from touchup.maintenance.services import track_record as svc

from ..clinical import name_of


def track_record_page(request: HttpRequest) -> HttpResponse:
    """The latest kept scoring (the worker scores it: reading every chart on each load
    took seconds for a large clinic), and the button to score it again."""
    m = require_calibration(request.user)  # the same people as the calibration page
    stored, report = svc.latest(m.clinic_id, actor=request.user)
    in_use = calibration.active(m.clinic_id)
    return render(request, "web/maintenance/track_record.html", {
        "nav": "track_record", "stored": stored, "report": report, "max_gap_days": MAX_GAP_DAYS,
        "pending": svc.pending_scoring(m.clinic_id),
        # Scored with other medians than the forecasts use now: say so, or the numbers mislead.
        "medians_changed": stored is not None and stored.calibration_id != (in_use.pk if in_use else None),
        "rows": [_row(a, name_of("area", a.area)) for a in report.areas] if report else [],
        "overall": _row(report.overall, "All areas") if report else None,
    })


@require_POST
def track_record_score(request: HttpRequest) -> HttpResponse:
    m = require_calibration(request.user)
    svc.request_scoring(m.clinic_id, request.user)
    messages.success(request, "Scoring in the background: this page shows the result when it is ready.")
    return redirect("track_record")


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
