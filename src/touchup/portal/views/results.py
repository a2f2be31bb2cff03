""""How my result is doing"."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from touchup.clinic.models import Observation
from touchup.core.dates import long_day_text
from touchup.core.photo_rules import AREA_VIEW

from .. import access
from ..models import Hit6Score
from .. import results as result_model
from ..services import booking
from ..services.diaries import treated_areas
from .common import portal_view
from .photos import photos_url


@portal_view
def results(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    access.read(request.user, patient, "results")
    areas = treated_areas(patient)
    treated_on: dict[str, object] = {}
    for t in access.signed_treatments(patient).prefetch_related("points"):
        for p in t.points.all():
            treated_on.setdefault(p.area, t.treated_on)
    forecasts = {f.area: f for f in booking.forecasts_of(patient)} if booking.available() else {}
    observations = list(Observation.objects.filter(patient=patient).order_by("observed_on", "pk"))
    rows = result_model.build(areas, treated_on, observations, forecasts, timezone.localdate())
    for r in rows:
        if r.early is not None:
            # The photo of the area's own view (core.photo_rules), or the diary for areas
            # no photo measures.
            view = AREA_VIEW.get(r.area)
            r.early_link = photos_url(view) if view else reverse("portal:diary")
            r.early_link_text = "Take the photo" if view else "Fill in my diary"
    hit6 = Hit6Score.objects.filter(patient=patient).order_by("-observed_on", "-pk").first()
    for r in rows:
        if r.area == "migraine" and hit6 is not None:
            # HIT-6: 36-49 little or no impact, 50-55 some, 56-59 substantial, 60+ severe (S86).
            r.words.append(f"Your latest HIT-6 score: {hit6.value} of 78 ({long_day_text(hit6.observed_on)}).")
    # A booked visit replaces "Book my next visit" at the foot (it led to a page with nothing to book).
    next_visit = next((a for a in booking.appointments_of(patient) if a.is_booked), None) \
        if booking.available() else None
    return render(request, "portal/results.html", {"nav": "results", "rows": rows, "next_visit": next_visit,
                                                   "forecasts_available": booking.available()})
