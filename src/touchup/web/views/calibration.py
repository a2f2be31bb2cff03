"""The clinic's own wear-off medians, for the manager: what the forecasts use now, a fit
to the clinic's patients, and applying it (touchup.maintenance.services.calibration)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from touchup.maintenance.access import require_calibration
from touchup.maintenance.services import calibration as svc
from touchup.maintenance.tasks import propose_calibration


def calibration_page(request: HttpRequest) -> HttpResponse:
    m = require_calibration(request.user)
    active = svc.active(m.clinic_id)
    proposal = svc.latest_proposal(m.clinic_id)
    return render(request, "web/maintenance/calibration.html", {
        "nav": "calibration", "active": active, "active_rows": _rows(active),
        "proposal": proposal, "proposal_rows": _rows(proposal),
    })


@require_POST
def calibration_fit(request: HttpRequest) -> HttpResponse:
    m = require_calibration(request.user)
    transaction.on_commit(lambda: propose_calibration.enqueue(m.clinic_id, request.user.pk))
    messages.success(request, "The fit is running in the background: reload this page in a minute to see it.")
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
        {"area": area.replace("_", " "), "patients": r["patients"], "before": r["before"],
         "after": r["after"] if r["calibrated"] else None,
         "change": f"{r['percent']:+.0f}%" if r["calibrated"] else "",
         "plus_minus": f"{100 * r['sd']:.0f}%" if r["calibrated"] else ""}
        for area, r in row.result.items()
    ]
