"""The clinic's audit trail, for the manager: filtered by GET parameters (ids and codes
only), the results swapped in by HTMX like the worklist's filters."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.core.audit_actions import KINDS

from .. import audit_search


def audit_list(request: HttpRequest) -> HttpResponse:
    m = access.require(request.user, "audit.view")
    ctx = {"nav": "audit", "params": request.GET, "people": audit_search.people(m.clinic_id),
           "kinds": KINDS.items(), "outcomes": audit_search.OUTCOMES.items(), "portal": audit_search.PORTAL}
    status = 200
    try:
        filters = audit_search.parse_filters(request.GET, m.clinic_id)
        ctx.update(page=audit_search.clinic_events(request.user, filters), filters=filters,
                   query=filters.query())
    except InvalidInput as exc:
        ctx["error"], status = exc, 400
    template = "web/audit/_results.html" if request.htmx else "web/audit/list.html"
    return render(request, template, ctx, status=status)
