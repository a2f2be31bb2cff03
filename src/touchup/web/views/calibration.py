"""The clinic's own wear-off medians, for the manager: what the forecasts use now, a fit
to the clinic's patients, and applying it (touchup.maintenance.services.calibration)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from touchup.maintenance.access import require_calibration
from touchup.maintenance.services import calibration as svc

from ..clinical import name_of


def calibration_page(request: HttpRequest) -> HttpResponse:
    m = require_calibration(request.user)
    active = svc.active(m.clinic_id)
    proposal = svc.latest_proposal(m.clinic_id)
    return render(request, "web/maintenance/calibration.html", {
        "nav": "calibration", "active": active, "active_rows": _rows(active),
        "proposal": proposal, "proposal_rows": _rows(proposal),
        "pending": svc.pending_fit(m.clinic_id), "can_fit": svc.can_fit(m.clinic_id),
        "published": svc.published_medians() if active is None else [],
    })


@require_POST
def calibration_fit(request: HttpRequest) -> HttpResponse:
    m = require_calibration(request.user)
    if not svc.can_fit(m.clinic_id):
        messages.error(request, "There is nothing to fit yet: the clinic has no signed treatments.")
        return redirect("calibration")
    svc.request_fit(m.clinic_id, request.user)
    messages.success(request, "The fit is running in the background: this page shows it when it is ready.")
    return redirect("calibration")


@require_POST
def calibration_apply(request: HttpRequest, pk: int) -> HttpResponse:
    m = require_calibration(request.user)
    proposal = svc.latest_proposal(m.clinic_id)
    if proposal is None or proposal.pk != pk:
        messages.error(request, "That fit is no longer the latest one: look at the latest before applying.")
        return redirect("calibration")
    svc.apply(proposal, actor=request.user)  # which queues the clinic's recompute
    messages.success(request, "Applied. Every forecast of the clinic is being recomputed with these medians.")
    return redirect("calibration")


def _rows(row) -> list[dict]:
    if row is None:
        return []
    return [
        {"area": name_of("area", area), "patients": r["patients"], "before": r["before"],
         "after": r["after"] if r["calibrated"] else None,
         "change": f"{r['percent']:+.0f}%" if r["calibrated"] else "",
         "plus_minus": f"{100 * r['sd']:.0f}%" if r["calibrated"] else ""}
        for area, r in row.result.items()
    ]
