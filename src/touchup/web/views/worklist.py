"""The "due for maintenance" worklist and the front desk's contact notes."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.maintenance.models import ContactStatus, EarlyReportOutcome
from touchup.maintenance.services.booking import clinicians_of
from touchup.maintenance.services.worklist import WorklistFilters, due_for_maintenance, mark_contact, parse_filters

from .booking import render


def _areas() -> list[str]:
    from touchup.core.catalogue import load_catalogue

    return list(load_catalogue().areas)


_SENTINEL = uuid.UUID(int=0)


def _linker(name: str):
    """reverse() once, then fill in each patient's id: a page has 150 links and reversing
    each one was a fifth of the page's time."""
    head, tail = reverse(name, args=[_SENTINEL]).split(str(_SENTINEL))
    return lambda public_id: f"{head}{public_id}{tail}"


def worklist(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "patient.view")
    ctx = {
        "nav": "worklist", "areas": _areas(), "clinicians": clinicians_of(membership.clinic),
        "contact_choices": [c for c in ContactStatus.choices if c[0]], "params": request.GET,
        "early_report_outcomes": EarlyReportOutcome.choices,
    }
    try:
        filters = parse_filters(request.GET, membership.clinic)
    except InvalidInput as exc:
        ctx["error"] = exc
        return render(request, "web/worklist/list.html", ctx, status=400)
    result = due_for_maintenance(request.user, filters)
    query = _query(filters)
    patient_url, book_url, contact_url = _linker("patient"), _linker("booking"), _linker("worklist_contact")
    items = [(e, {"patient": patient_url(e.first.patient_public_id), "book": book_url(e.first.patient_public_id),
                  "contact": contact_url(e.first.patient_public_id)}) for e in result.entries]
    # The page as it stands (filters and page), for the contact buttons to come back to.
    here = _worklist_url(query, result.page)
    ctx.update(worklist=result, items=items, query=query, here=here)
    if request.htmx:
        return render(request, "web/worklist/_results.html", ctx)
    ctx["call_requests"] = _call_requests(request, membership)
    return render(request, "web/worklist/list.html", ctx)


def _query(filters: WorklistFilters) -> str:
    return urlencode({k: v for k, v in (("area", filters.area), ("clinician", filters.clinician or ""),
                                        ("contact", filters.contact), ("show", filters.show)) if v})


def _worklist_url(query: str, page: int = 1) -> str:
    parts = [query] if query else []
    if page > 1:
        parts.append(f"page={page}")
    return reverse("worklist") + ("?" + "&".join(parts) if parts else "")


def _back_to_worklist(value: str, clinic) -> str:
    """Where a contact note (without JavaScript) returns: the worklist page it was made on,
    with its filters. `next` is only read, never followed: it must be a relative path to the
    worklist itself, and the URL is rebuilt from its filters once they validate (an unknown
    area or clinician, another path or host gives the plain worklist; no open redirect)."""
    plain = reverse("worklist")
    if not value or not url_has_allowed_host_and_scheme(value, allowed_hosts=None):
        return plain
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path != plain:
        return plain
    try:
        filters = parse_filters(QueryDict(parts.query), clinic)
    except InvalidInput:
        return plain
    return _worklist_url(_query(filters), filters.page)


def _call_requests(request: HttpRequest, membership) -> list:
    """Patients who asked in the portal to be called to book. The front desk makes those
    calls, so they are on the front desk's page too (they were only on "From patients",
    which the front desk cannot open). The read is audited, as on that page."""
    if not access.can(request.user, "patient.edit"):
        return []
    from touchup.portal.services.worklist import audit_worklist_read, booking_requests_open

    found = booking_requests_open(membership)
    if found:
        audit_worklist_read(request.user, membership, {"requests": len(found), "page": "worklist"})
    return found


@require_POST
def worklist_contact(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="patient.edit", audit_read=False)
    areas = request.POST.getlist("area")  # every area on the patient's worklist line
    status = request.POST.get("status", "")
    try:
        mark_contact(actor=request.user, patient=patient, area=areas, status=status)
    except InvalidInput as exc:
        return HttpResponse(f"{exc.field}: {exc.message}", status=400, content_type="text/plain")
    if request.htmx:
        return render(request, "web/worklist/_contact.html", {
            "status": status, "label": dict(ContactStatus.choices)[status],
        })
    messages.success(request, "Contact noted.")
    return redirect(_back_to_worklist(request.POST.get("next", ""), patient.clinic))


@require_POST
def worklist_early_report(request: HttpRequest, public_id) -> HttpResponse:
    """Note how the call about an early wear-off report ended (the worklist section's
    buttons): the line leaves the section. HTMX swaps the line for the note; without
    JavaScript, back to the worklist page it was made on (as worklist_contact)."""
    from touchup.maintenance.services.early_reports import mark_handled

    patient = access.patient_for(request.user, public_id, need="patient.edit", audit_read=False)
    area, outcome = request.POST.get("area", ""), request.POST.get("outcome", "")
    try:
        mark_handled(actor=request.user, patient=patient, area=area, outcome=outcome)
    except InvalidInput as exc:
        return HttpResponse(f"{exc.field}: {exc.message}", status=400, content_type="text/plain")
    label = dict(EarlyReportOutcome.choices)[outcome]
    if request.htmx:
        return render(request, "web/worklist/_early_report_done.html", {"patient": patient, "area": area,
                                                                          "label": label})
    messages.success(request, f"Call noted: {label}.")
    return redirect(_back_to_worklist(request.POST.get("next", ""), patient.clinic))
