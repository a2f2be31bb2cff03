"""Between visits: the wearing-off check-in per area, the headache and symptom diaries."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Observation, PhotoView
from touchup.core.catalogue import load_catalogue
from touchup.core.photo_rules import AREA_VIEW

from .. import access
from ..forms import CheckinForm, HeadacheForm, SymptomForm, show_invalid
from ..models import Hit6Score
from ..services.diaries import record_checkin, record_headache_diary, record_symptom_diary, treated_areas
from .common import portal_view
from .photos import photos_url


def _recent(patient) -> dict:
    """The patient's own latest entries, for the "Your recent entries" card."""
    return {
        "recent": list(Observation.objects.filter(patient=patient, source="patient").order_by("-observed_on", "-pk")[:10]),
        "area_names": {k: a.name for k, a in load_catalogue().areas.items()},
        "hit6": list(Hit6Score.objects.filter(patient=patient).order_by("-observed_on")[:5]),
    }


def _context(request, patient, **forms):
    areas = treated_areas(patient)
    cat = load_catalogue()
    checkins = forms.pop("checkins", {})
    return {
        "nav": "diary",
        "checkins": [(a, cat.areas[a].name if a in cat.areas else a,
                      checkins.get(a) or CheckinForm(initial={"area": a}, prefix=f"c-{a}")) for a in areas],
        "migraine": "migraine" in areas, "dystonia": "cervical_dystonia" in areas,
        "headache": forms.get("headache") or HeadacheForm(prefix="h"),
        "symptom": forms.get("symptom") or SymptomForm(prefix="s"),
        **_recent(patient),
    }


@portal_view
def diary(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    access.read(request.user, patient, "diary")
    return render(request, "portal/diary.html", _context(request, patient))


def _done(request, patient, page_forms: dict, ok_message, fragment, ctx, *, recent: bool = True):
    """Answer a diary post: the form's fragment (HTMX), else the diary page again, with
    `page_forms` carrying the posted form and its errors (built only when shown).
    `recent`: the page has the "Your recent entries" card to update."""
    if getattr(request, "htmx", False):
        response = render(request, fragment, ctx)
        if ok_message and recent:
            # The new entry joins "Your recent entries" (swapped out of band), as it
            # does on the page a no-JavaScript save reloads.
            access.read(request.user, patient, "diary")
            response.content += render_to_string("portal/_recent.html", {**_recent(patient), "oob": True},
                                                 request=request).encode()
        return response
    if ok_message:
        messages.success(request, ok_message)
        return redirect("portal:diary")
    return render(request, "portal/diary.html", _context(request, patient, **page_forms))


@portal_view
@require_POST
def checkin(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    area = request.POST.get("area", "")
    form = CheckinForm(request.POST, prefix=f"c-{area}")
    saved = None
    if form.is_valid():
        try:
            saved = record_checkin(actor=request.user, patient=patient, area=form.cleaned_data["area"],
                                   wearing_off=form.cleaned_data["wearing_off"] == "yes",
                                   observed_on=form.cleaned_data["observed_on"])
        except InvalidInput as exc:
            show_invalid(form, exc)
    if saved is None and area not in treated_areas(patient) and not getattr(request, "htmx", False):
        # No form on the page to carry the error: say it at the top instead.
        messages.error(request, "Check-in not saved: choose one of your treated areas.")
        return redirect("portal:diary")
    name = load_catalogue().areas[area].name if area in load_catalogue().areas else area
    msg = f"Thank you: your check-in for {name} is saved." if saved else ""
    # Asked on the photo diary (the wear-off watch's link): stay there. The only other
    # place is the diary, so nothing else is accepted (no open redirect).
    back = "photos" if request.POST.get("back") == "photos" else ""
    # The views the watch asked for come back with it, known views only (photos_url
    # builds the address; nothing posted is echoed into it).
    ask = [v for v in dict.fromkeys(request.POST.get("ask", "").split(",")) if v in PhotoView.values]
    if back and saved and not getattr(request, "htmx", False):
        messages.success(request, msg)
        return redirect(photos_url(AREA_VIEW.get(area, ""), ask))
    frag_ctx = {"area": area, "name": name, "form": CheckinForm(initial={"area": area}, prefix=f"c-{area}") if saved
                else form, "saved": msg, "back": back, "ask": ",".join(ask)}
    return _done(request, patient, {"checkins": {area: form}}, msg, "portal/_checkin.html", frag_ctx,
                 recent=not back)


def _diary_post(request: HttpRequest, form_class, prefix: str, record, context_key: str, fragment: str,
                thanks: str) -> HttpResponse:
    """One diary form posted: validate, record through the service, answer with the page
    (no JavaScript) or the form's fragment (HTMX), blank again after a save."""
    patient = access.patient_of(request.user)
    form = form_class(request.POST, prefix=prefix)
    saved = None
    if form.is_valid():
        try:
            saved = record(actor=request.user, patient=patient, **form.cleaned_data)
        except InvalidInput as exc:
            show_invalid(form, exc)
    msg = thanks if saved else ""
    frag_ctx = {"form": form_class(prefix=prefix) if saved else form, "saved": msg}
    return _done(request, patient, {context_key: form}, msg, fragment, frag_ctx)


@portal_view
@require_POST
def headache(request: HttpRequest) -> HttpResponse:
    return _diary_post(request, HeadacheForm, "h", record_headache_diary, "headache", "portal/_headache.html",
                       "Thank you: your headache diary is saved.")


@portal_view
@require_POST
def symptoms(request: HttpRequest) -> HttpResponse:
    return _diary_post(request, SymptomForm, "s", record_symptom_diary, "symptom", "portal/_symptoms.html",
                       "Thank you: your symptom diary is saved.")
