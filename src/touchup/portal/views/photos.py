"""The photo diary: the patient takes the views for their treated areas with the phone's
camera; the clinic's photo service checks, cleans and keeps them (or says why not) and
analyses each against the patient's first photo of that view (the baseline). On each
photo's page the patient gives or withdraws its clinical and marketing use."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Photo
from touchup.core import photo_rules
from touchup.core.catalogue import load_catalogue

from .. import access
from ..forms import CheckinForm
from ..photo_guide import SHOTS, TIPS, shots_for
from ..services.diaries import treated_areas
from .common import portal_view

MAX_UPLOAD = 25 * 1024 * 1024


@portal_view
@require_http_methods(["GET", "POST"])
def photos(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    areas = treated_areas(patient)
    shots = shots_for(areas)
    errors: list[str] = []
    chosen = request.POST.get("view") or request.GET.get("view") or ""
    if request.method == "GET" and chosen not in {s.view for s in shots}:
        chosen = shots[0].view if shots else ""  # an old link, or an area no longer treated
    if request.method == "POST":
        from touchup.clinic.services import photos as photo_services

        upload = request.FILES.get("photo")
        if chosen not in {s.view for s in shots}:
            errors.append("Choose which photo this is.")
        elif upload is None:
            errors.append("Choose a photo to send (take one with your camera).")
        elif upload.size > MAX_UPLOAD:
            errors.append("That file is too large (more than 25 MB).")
        elif request.POST.get("consent") != "yes":
            errors.append("Tick the box to let the clinic keep the photo in your record.")
        else:
            try:
                photo_services.photo_upload(actor=request.user, patient=patient, view=chosen, upload=upload,
                                            consent_clinical=True, keep_only_if_usable=True)
            except photo_services.QualityRefused as exc:
                errors += ["The photo was not kept. Please take it again:"] + list(exc.problems)
            except photo_services.DuplicatePhoto as exc:
                errors.append(exc.message)
            except InvalidInput as exc:
                errors.append(exc.message)
            else:
                messages.success(request, f"Thank you: your photo ({SHOTS[chosen].name.lower()}) is saved.")
                # Back to the same view, with its check-in still there to answer.
                return redirect(photos_url(chosen))
    access.read(request.user, patient, "photos")
    mine = list(Photo.objects.kept().filter(patient=patient).order_by("-taken_on", "-pk")[:24])
    removed = list(Photo.objects.removed().filter(patient=patient).order_by("-removed_at", "-pk")[:24])
    return render(request, "portal/photos.html", {
        "nav": "photos", "shots": shots, "tips": TIPS, "chosen": chosen, "errors": errors, "photos": mine,
        "removed": removed, "names": {k: s.name for k, s in SHOTS.items()},
        "reasons": REMOVED_BECAUSE, "checkins": _checkins_for(chosen, areas),
    }, status=400 if errors else 200)


def photos_url(view: str) -> str:
    """The photo diary with `view` chosen (the wear-off watch's messages link here)."""
    return f"{reverse('portal:photos')}?{urlencode({'view': view})}" if view else reverse("portal:photos")


def _checkins_for(view: str, areas: list[str]) -> list[tuple]:
    """The "is it wearing off?" check-in of each treated area the chosen view measures, as
    the diary shows it: the wear-off watch's message links here for a photo, and the
    patient answers the question on the same page."""
    names = load_catalogue().areas
    return [(a, names[a].name if a in names else a, CheckinForm(initial={"area": a}, prefix=f"c-{a}"))
            for a in areas if photo_rules.AREA_VIEW.get(a) == view]


# Why a photo was removed, in the patient's words (touchup.core.photo_rules.REMOVAL_REASONS).
REMOVED_BECAUSE = {
    "wrong_patient": "taken in error", "wrong_view": "taken in error", "duplicate": "a duplicate",
    "erasure_request": "as you asked", "other": "see your clinic",
}


# What the patient's buttons post: (consent, given) and what the page then says.
CHANGES = {
    ("clinical", False): "Your clinic will no longer use this photo for your treatment. It stays in your record.",
    ("clinical", True): "Your clinic may use this photo for your treatment again.",
    ("marketing", True): "Your clinic may use this photo in its marketing.",
    ("marketing", False): "Your clinic will not use this photo in its marketing.",
}


def _photo_page(request: HttpRequest, photo: Photo, *, error: str = "") -> HttpResponse:
    return render(request, "portal/photo.html", {
        "nav": "photos", "photo": photo, "name": SHOTS[photo.view].name if photo.view in SHOTS else photo.view,
        "history": list(photo.consent_changes.all()), "error": error,
    }, status=400 if error else 200)


@portal_view
@require_GET
def photo(request: HttpRequest, public_id) -> HttpResponse:
    return _photo_page(request, access.own_photo(request.user, public_id))


@portal_view
@require_POST
def photo_consent(request: HttpRequest, public_id) -> HttpResponse:
    """The patient gives or withdraws one consent on one of their own photos."""
    from touchup.clinic.services import photos as photo_services

    photo = access.own_photo(request.user, public_id)
    consent, given = request.POST.get("consent", ""), request.POST.get("given", "")
    if consent not in photo_rules.CONSENTS or given not in ("yes", "no"):
        return _photo_page(request, photo, error="Choose one of the buttons below to change what the photo is used for.")
    try:
        change = photo_services.photo_set_consent(actor=request.user, photo=photo, consent=consent,
                                                  given=given == "yes", channel=photo_rules.PATIENT_CHANNEL)
    except InvalidInput as exc:
        return _photo_page(request, photo, error=exc.message)
    if change is None:
        messages.info(request, "That was already your choice; nothing changed.")
    else:
        messages.success(request, CHANGES[(consent, given == "yes")])
    return redirect("portal:photo", public_id=photo.public_id)
