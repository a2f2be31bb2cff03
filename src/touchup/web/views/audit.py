"""The clinic's audit trail, for the manager."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .. import selectors


def audit_list(request: HttpRequest) -> HttpResponse:
    events = selectors.clinic_audit(request.user, page=request.GET.get("page", 1))
    return render(request, "web/audit/list.html", {"nav": "audit", "page": events})
