"""The portal's home page and the education pages."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from touchup.clinic.services.screenings import latest_screening
from touchup.core.catalogue import load_catalogue

from .. import access, education
from ..services import booking
from ..services.diaries import treated_areas
from .common import portal_view


@portal_view
def home(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    access.read(request.user, patient, "home")
    treatments = list(access.signed_treatments(patient)[:5])
    latest = treatments[0] if treatments else None
    today = timezone.localdate()
    window = visits = None
    if booking.available():
        window = booking.window_for(patient)
        visits = booking.mark_stale([a for a in booking.appointments_of(patient) if a.is_booked])
    areas = treated_areas(patient)
    return render(request, "portal/home.html", {
        "nav": "home", "patient": patient, "screening": latest_screening(patient), "latest": latest,
        "recent": latest is not None and (today - latest.treated_on) <= dt.timedelta(days=14),
        "window": window, "visits": visits, "areas": areas,
        "migraine": "migraine" in areas, "dystonia": "cervical_dystonia" in areas,
    })


@portal_view
def learn_index(request: HttpRequest) -> HttpResponse:
    access.patient_of(request.user)  # the portal is for patients; no patient data is read here
    pages = education.pages()
    cat = load_catalogue()
    groups = [
        ("Looks", [pages[k] for k in cat.indications if k in pages and pages[k].kind == "cosmetic"]),
        ("Medical treatments", [pages[k] for k in cat.indications if k in pages and pages[k].kind == "therapeutic"]),
    ]
    return render(request, "portal/learn_index.html", {"nav": "learn", "groups": groups})


@portal_view
def learn(request: HttpRequest, indication: str) -> HttpResponse:
    access.patient_of(request.user)
    page = education.page_for(indication)
    if page is None:
        raise Http404("No such page.")
    return render(request, "portal/learn.html", {"nav": "learn", "page": page})
