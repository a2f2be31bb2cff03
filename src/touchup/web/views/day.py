"""The front desk's day: every clinician's appointments on one date, with the previous and
next day a click away (the queries and the audited read: maintenance.services.day)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.maintenance.services import day as svc

from .booking import render


@require_GET
def day_view(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "patient.view")
    today = svc.clinic_today(membership.clinic)
    try:
        day = svc.parse_day(request.GET.get("date"), today)
    except InvalidInput as exc:
        return render(request, "web/schedule/day.html", {"nav": "day", "error": exc, "today": today}, status=400)
    return render(request, "web/schedule/day.html", {"nav": "day", "view": svc.day_appointments(request.user, day),
                                                     "today": today})
