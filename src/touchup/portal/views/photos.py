"""The photo diary: the patient takes the views for their treated areas with the phone's
camera; the clinic's photo service checks, cleans and keeps them (or says why not) and
analyses each against the patient's first photo of that view (the baseline)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Photo

from .. import access
from ..photo_guide import SHOTS, TIPS, shots_for
from ..services.diaries import treated_areas
from .common import portal_view

MAX_UPLOAD = 25 * 1024 * 1024


@portal_view
@require_http_methods(["GET", "POST"])
def photos(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    shots = shots_for(treated_areas(patient))
    errors: list[str] = []
    chosen = request.POST.get("view") or request.GET.get("view") or (shots[0].view if shots else "")
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
                return redirect("portal:photos")
    access.read(request.user, patient, "photos")
    mine = list(Photo.objects.filter(patient=patient).order_by("-taken_on", "-pk")[:24])
    return render(request, "portal/photos.html", {
        "nav": "photos", "shots": shots, "tips": TIPS, "chosen": chosen, "errors": errors, "photos": mine,
        "names": {k: s.name for k, s in SHOTS.items()},
    }, status=400 if errors else 200)
