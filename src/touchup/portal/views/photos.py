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
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Photo
from touchup.core import photo_rules
from touchup.core.catalogue import load_catalogue

from .. import access
from ..forms import CheckinForm
from ..photo_guide import SHOTS, TIPS, ask_phrase, shots_for
from ..services.diaries import treated_areas
from .common import portal_view

MAX_UPLOAD = 25 * 1024 * 1024


def patient_words(problems: list[str]) -> list[str]:
    """The quality problems as a patient reads them: the measured sentences (pixels,
    degrees, percentages) are for the staff capture page; a problem the vision check gives
    plain words for (touchup.vision.quality.Problem.for_patient) shows those instead."""
    return list(dict.fromkeys(getattr(p, "for_patient", None) or str(p) for p in problems))


@portal_view
@require_http_methods(["GET", "POST"])
def photos(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    areas = treated_areas(patient)
    shots = shots_for(areas)
    errors: list[str] = []
    # The wear-off watch asks for several views in one message (`?ask=frown,brows_raised`):
    # the page takes them in turn, each one's link a tap away, the first not yet sent today
    # chosen. Views no longer treated drop out, as an old link's view does below.
    asked = _asked(request.POST.get("ask") or request.GET.get("ask") or "", shots)
    sent_today = _sent_today(patient) if asked else set()
    chosen = request.POST.get("view") or request.GET.get("view") or ""
    if request.method == "GET" and chosen not in {s.view for s in shots}:
        chosen = next((v for v in asked if v not in sent_today), asked[0] if asked else "")
        chosen = chosen or (shots[0].view if shots else "")  # an old link, or an area no longer treated
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
                errors += ["The photo was not kept. Please take it again:"] + patient_words(exc.problems)
            except photo_services.DuplicatePhoto as exc:
                errors.append(exc.message)
            except InvalidInput as exc:
                errors.append(exc.message)
            else:
                thanks = f"Thank you: your photo ({SHOTS[chosen].name.lower()}) is saved."
                # On to the next view asked for, else back to the same one, with the
                # check-ins still there to answer.
                following = next((v for v in asked if v not in sent_today | {chosen}), "")
                if following:
                    thanks += f" Next: {SHOTS[following].name.lower()}."
                messages.success(request, thanks)
                return redirect(photos_url(following or chosen, asked))
    access.read(request.user, patient, "photos")
    mine = list(Photo.objects.kept().filter(patient=patient).order_by("-taken_on", "-pk")[:24])
    removed = list(Photo.objects.removed().filter(patient=patient).order_by("-removed_at", "-pk")[:24])
    # Each photo says which kind it is ("Frown", "Face at rest"): the list has one reference
    # per kind, and two undistinguished "reference" entries read as a mistake.
    for p in mine + removed:
        p.view_name = SHOTS[p.view].name if p.view in SHOTS else p.view
    return render(request, "portal/photos.html", {
        "nav": "photos", "shots": shots, "tips": TIPS, "chosen": chosen, "errors": errors, "photos": mine,
        "removed": removed,
        "reasons": REMOVED_BECAUSE, "checkins": _checkins_for(asked or [chosen], areas),
        "asked": [(SHOTS[v], v in sent_today, photos_url(v, asked)) for v in asked] if len(asked) > 1 else [],
        "asked_phrase": ask_phrase(asked), "ask": ",".join(asked),
    }, status=400 if errors else 200)


def photos_url(view: str, asked: list[str] | tuple[str, ...] = ()) -> str:
    """The photo diary with `view` chosen (the wear-off watch's messages link here), and
    the views the watch asked for when it asked for several."""
    query = {"view": view} if view else {}
    if len(asked) > 1:
        query["ask"] = ",".join(asked)
    return f"{reverse('portal:photos')}?{urlencode(query, safe=',')}" if query else reverse("portal:photos")


def _asked(value: str, shots: list) -> list[str]:
    """The views of an `ask` list the patient takes (known and for a treated area), each
    once, in the list's order; anything else in it is ignored."""
    takes = {s.view for s in shots}
    return list(dict.fromkeys(v for v in value.split(",") if v in takes))


def _sent_today(patient) -> set[str]:
    """The views the patient has sent a kept photo of today (the day it was sent: a photo's
    own date may be the camera's)."""
    return set(Photo.objects.kept().filter(patient=patient, created_at__date=timezone.localdate())
               .values_list("view", flat=True))


def _checkins_for(views: list[str], areas: list[str]) -> list[tuple]:
    """The "is it wearing off?" check-in of each treated area the chosen view (or the views
    the watch asked for) measures, as the diary shows it: the wear-off watch's message
    links here for the photos, and the patient answers the question on the same page."""
    names = load_catalogue().areas
    return [(a, names[a].name if a in names else a, CheckinForm(initial={"area": a}, prefix=f"c-{a}"))
            for a in areas if photo_rules.AREA_VIEW.get(a) in views]


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
