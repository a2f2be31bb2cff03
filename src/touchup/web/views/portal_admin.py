"""The clinic's side of the patient portal: inviting a patient, and the worklist of what
patients sent (side effects, urgent first; their screening answers; requests to book)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from touchup.clinic import access
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.portal.services import worklist
from touchup.portal.services.booking_requests import booking_request_handle
from touchup.portal.services.invitations import invitation_create, invitation_state, invitations_of
from touchup.portal.services.side_effects import side_effect_review
from touchup.clinic.links import request_base_url as base_url


@require_http_methods(["GET", "POST"])
def portal_invite(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="patient.edit")
    if request.method == "POST":
        try:
            sent = invitation_create(actor=request.user, patient=patient, base_url=base_url(request))
        except InvalidInput as exc:
            messages.error(request, f"No invitation sent: {exc.message}.")
        else:
            messages.success(request, f"Invitation emailed to {sent.invitation.email}; the link works once, for 7 days.")
        return redirect("portal_invite", public_id=patient.public_id)
    rows = [(i, invitation_state(i)) for i in invitations_of(patient)]
    return render(request, "web/portal_admin/invite.html", {"nav": "patients", "patient": patient, "rows": rows})


def _worklist_context(request, *, audit_read: bool = True):
    m = access.require(request.user, "clinical.view")
    ctx = {
        "nav": "portal", "open": worklist.side_effects_open(m), "reviewed": worklist.side_effects_reviewed(m),
        "screenings": worklist.patient_screenings(m), "requests": worklist.booking_requests_open(m),
    }
    if audit_read:  # the polled summary shows counts only, no patient: not a read of anyone's record
        worklist.audit_worklist_read(request.user, m, {k: len(ctx[k]) for k in ("open", "screenings", "requests")})
    return ctx


def portal_worklist(request: HttpRequest) -> HttpResponse:
    summary = bool(request.htmx) and request.GET.get("part") == "summary"
    ctx = _worklist_context(request, audit_read=not summary)
    # htmx polls a one-line summary (not the list, which would wipe a note being typed),
    # so a new or urgent report is seen without a reload.
    if summary:
        return render(request, "web/portal_admin/_summary.html", ctx)
    return render(request, "web/portal_admin/worklist.html", ctx)


@require_POST
def side_effect_reviewed(request: HttpRequest, public_id) -> HttpResponse:
    m = access.require(request.user, "clinical.view")
    report = worklist.side_effect_for(request.user, m, public_id)
    try:
        side_effect_review(actor=request.user, report=report, note=request.POST.get("note", ""))
    except (Conflict, InvalidInput) as exc:
        messages.info(request, getattr(exc, "message", str(exc)))
    else:
        messages.success(request, "Marked as reviewed.")
    return redirect("portal_worklist")


@require_POST
def booking_request_done(request: HttpRequest, public_id) -> HttpResponse:
    m = access.require(request.user, "patient.edit")
    req = worklist.booking_request_for(request.user, m, public_id)
    try:
        booking_request_handle(actor=request.user, request=req)
    except Conflict as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, "Marked as done.")
    # Back to the list it was pressed on: the front desk's Due page or "From patients".
    return redirect("worklist" if request.POST.get("back") == "worklist" else "portal_worklist")
