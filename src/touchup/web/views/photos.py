"""Photos: capture (camera or file), the quality check before keeping, the gated file
view, a photo's page (analysis, consent and its history, baseline, removal), comparisons
and the per-area timeline.

Every photo and every byte of one goes through the gate (access.photo_for /
access.patient_for), which audits the read; the file view answers with no-store.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_permissions_policy.decorators import permissions_policy_override

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Patient, Photo, PhotoView
from touchup.clinic.services import photos as photo_services
from touchup.core import photo_rules
from touchup.core.dates import day_text

from .. import photo_timeline
from ..clinical import name_of
from .common import show_invalid

VIEW_HINTS = {
    PhotoView.AT_REST: "Face relaxed, eyes open, looking at the lens.",
    PhotoView.FROWN: "Frown as hard as you can (glabella).",
    PhotoView.BROWS_RAISED: "Raise the eyebrows as high as you can (forehead).",
    PhotoView.SMILE_SQUINT: "Smile broadly and squint (crow's feet).",
    PhotoView.NECK_TENSED: "Clench the teeth and tense the neck (platysma bands).",
}


PHOTO_ACCEPT = "image/jpeg,image/png,image/heic,image/heif,.heic,.heif"


class PhotoUploadForm(forms.Form):
    view = forms.ChoiceField(choices=PhotoView.choices, widget=forms.RadioSelect)
    taken_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Taken on")
    treatment = forms.ChoiceField(required=False, label="Treatment cycle")
    photo = forms.FileField(
        label="Photo (JPEG, PNG or HEIC, up to 25 MB)",
        # HEIC by type and by extension: some browsers give a phone's HEIC no type at all.
        widget=forms.ClearableFileInput(attrs={"accept": PHOTO_ACCEPT, "capture": "user"}),
    )
    consent_clinical = forms.BooleanField(
        required=False, label="The patient consents to this photo being kept for their clinical record",
    )
    consent_marketing = forms.BooleanField(
        required=False, label="The patient also consents to its use in the clinic's marketing",
    )
    keep_only_if_usable = forms.BooleanField(
        required=False, initial=True, label="Keep it only if the quality check finds no problem",
    )

    def __init__(self, *args: Any, patient: Patient, **kwargs: Any):
        super().__init__(*args, **kwargs)
        cycles = patient.treatments.order_by("-treated_on", "-pk")[:30]
        self.fields["treatment"].choices = [("", "The latest treatment before the photo (automatic)")] + [
            (str(t.public_id), f"{day_text(t.treated_on)} · {name_of('indication', t.indication)}") for t in cycles
        ]


def _views_with_baselines(patient: Patient) -> list[dict[str, Any]]:
    baselines = {p.view: p for p in patient.photos.filter(is_baseline=True)}
    return [
        {"key": key, "name": name, "hint": VIEW_HINTS[key], "baseline": baselines.get(key)}
        for key, name in PhotoView.choices
    ]


def _capture_page(request: HttpRequest, patient: Patient, form: PhotoUploadForm, **extra: Any) -> HttpResponse:
    ctx = {
        "nav": "patients", "patient": patient, "form": form,
        "views": _views_with_baselines(patient), "selected_view": form["view"].value() or PhotoView.AT_REST,
    }
    ctx.update(extra)
    return render(request, "web/photos/capture.html", ctx, status=400 if form.errors else 200)


# The live camera (capture.js, getUserMedia): the one page allowed to turn it on; every
# other page answers camera=() (settings.PERMISSIONS_POLICY).
camera_allowed = permissions_policy_override({**settings.PERMISSIONS_POLICY, "camera": "self"})


@camera_allowed
@require_http_methods(["GET", "POST"])
def photo_capture(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="clinical.view")
    if request.method == "GET":
        view = request.GET.get("view")
        form = PhotoUploadForm(patient=patient, initial={
            "view": view if view in PhotoView.values else PhotoView.AT_REST,
            "taken_on": timezone.localdate(), "keep_only_if_usable": True,
        })
        return _capture_page(request, patient, form)
    form = PhotoUploadForm(request.POST, request.FILES, patient=patient)
    problems: list[str] = []
    if form.is_valid():
        data = form.cleaned_data
        treatment = None
        if data["treatment"]:
            treatment = patient.treatments.filter(public_id=data["treatment"]).first()
            if treatment is None:
                form.add_error("treatment", "No such treatment for this patient.")
        if not form.errors:
            try:
                photo = photo_services.photo_upload(
                    actor=request.user, patient=patient, view=data["view"], upload=data["photo"],
                    taken_on=data["taken_on"], treatment=treatment,
                    consent_clinical=data["consent_clinical"], consent_marketing=data["consent_marketing"],
                    keep_only_if_usable=data["keep_only_if_usable"],
                )
            except photo_services.QualityRefused as exc:
                problems = exc.problems
                form.add_error("photo", "The quality check found problems, so the photo was not kept. "
                               "Retake it, or untick “Keep it only if…” to keep it anyway.")
            except photo_services.DuplicatePhoto as exc:
                messages.info(request, exc.message)
                return redirect("photo", public_id=exc.existing.public_id)
            except InvalidInput as exc:
                show_invalid(form, exc)
            else:
                messages.success(request, f"Photo kept ({photo.get_view_display().lower()}). It is being analysed.")
                return redirect("photo", public_id=photo.public_id)
    return _capture_page(request, patient, form, problems=problems)


@require_POST
def photo_check(request: HttpRequest, public_id) -> HttpResponse:
    """The check before keeping: decode and quality against the baseline. Keeps nothing."""
    patient = access.patient_for(request.user, public_id, need="clinical.view", audit_read=False)
    view = request.POST.get("view", "")
    try:
        data = photo_services.read_upload(request.FILES.get("photo"))
        check = photo_services.photo_check(actor=request.user, patient=patient, view=view, data=data)
    except InvalidInput as exc:
        return render(request, "web/photos/_check.html", {"error": exc.message, "field": exc.field}, status=400)
    return render(request, "web/photos/_check.html", {"check": check})


def photo_file(request: HttpRequest, public_id) -> HttpResponse:
    """The photo's bytes: gated, audited, never cached, never a public URL."""
    thumb = request.GET.get("size") == "thumb"
    photo = access.photo_for(request.user, public_id, purpose="thumbnail" if thumb else "file", patient_may=True)
    data = photo_services.thumbnail_jpeg(photo) if thumb else photo_services.photo_bytes(photo)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "no-store, private"
    response["Pragma"] = "no-cache"
    response["Content-Disposition"] = f'inline; filename="photo-{photo.public_id}.jpg"'
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def photo_aligned(request: HttpRequest, public_id, onto) -> HttpResponse:
    """Photo `public_id` aligned onto photo `onto` (same patient, same view), for comparing."""
    photo = access.photo_for(request.user, public_id, purpose="compare")
    base = access.photo_for(request.user, onto, purpose="compare")
    if base.patient_id != photo.patient_id or base.view != photo.view:
        raise Http404("Only photos of the same patient and view are aligned.")
    if not (photo.consent_clinical and base.consent_clinical):
        raise Http404("The patient withdrew clinical use of one of these photos.")
    data, aligned = photo_services.aligned_jpeg(photo, base)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "no-store, private"
    response["Pragma"] = "no-cache"
    response["X-Touchup-Aligned"] = "yes" if aligned else "no"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


CONSENT_CHANGES = {
    # value posted -> (consent, given, what the button says)
    "clinical:no": ("clinical", False, "Clinical use withdrawn"),
    "clinical:yes": ("clinical", True, "Clinical use given again"),
    "marketing:yes": ("marketing", True, "Marketing use given"),
    "marketing:no": ("marketing", False, "Marketing use withdrawn"),
}


class ConsentChangeForm(forms.Form):
    """A consent change staff record on the patient's instruction."""

    change = forms.ChoiceField(choices=[(k, v[2]) for k, v in CONSENT_CHANGES.items()],
                               error_messages={"required": "Choose the change the patient asked for."})
    channel = forms.ChoiceField(
        label="How did the patient tell you?", widget=forms.RadioSelect,
        choices=[(k, photo_rules.CHANNELS[k].capitalize()) for k in photo_rules.STAFF_CHANNELS],
        error_messages={"required": "Say how the patient gave the instruction."},
    )


class PhotoRemoveForm(forms.Form):
    reason = forms.ChoiceField(
        label="Why is it removed?", widget=forms.RadioSelect,
        choices=[(k, r.label) for k, r in photo_rules.REMOVAL_REASONS.items()],
        error_messages={"required": "Choose why the photo is removed."},
    )
    note = forms.CharField(
        required=False, max_length=photo_rules.NOTE_MAX_CHARS, label="Note",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed for “Other”. Kept with the removal for the clinic; never shown to the patient.",
    )


def _consent_offers(photo: Photo) -> list[tuple[str, str]]:
    """The two changes that make sense now: the opposite of each consent as it stands."""
    return [
        ("clinical:no", "Withdraw clinical use") if photo.consent_clinical else ("clinical:yes", "Give clinical use again"),
        ("marketing:no", "Withdraw marketing use") if photo.consent_marketing else ("marketing:yes", "Give marketing use"),
    ]


def _detail_page(request: HttpRequest, photo: Photo, *, status: int = 200, **forms_: Any) -> HttpResponse:
    user = request.user
    others = (photo.patient.photos.measurable().filter(view=photo.view).exclude(pk=photo.pk)
              .order_by("-taken_on", "-pk"))
    history = list(photo.consent_changes.select_related("changed_by"))
    first_marketing = next((c for c in history if c.consent == "marketing"), None)
    return render(request, "web/photos/detail.html", {
        "nav": "patients", "photo": photo, "patient": photo.patient,
        "others": others if photo.consent_clinical and not photo.is_removed else [],
        "regions": _region_rows(photo), "measured_areas": _measured(photo),
        "consent_history": history,
        "marketing_at_upload": first_marketing.given_before if first_marketing else photo.consent_marketing,
        "channels": photo_rules.CHANNELS, "consents": photo_rules.CONSENTS,
        "removal_reason": photo_rules.REMOVAL_REASONS.get(photo.removal_reason),
        "may_consent": access.can(user, "photo.consent"), "may_remove": access.can(user, "photo.remove"),
        "may_baseline": access.can(user, "photo.baseline"), "may_reanalyse": access.can(user, "photo.reanalyse"),
        "consent_form": forms_.get("consent_form") or ConsentChangeForm(), "consent_offers": _consent_offers(photo),
        "remove_form": forms_.get("remove_form") or PhotoRemoveForm(),
    }, status=status)


def photo_detail(request: HttpRequest, public_id) -> HttpResponse:
    photo = access.photo_for(request.user, public_id, removed_ok=True)
    return _detail_page(request, photo)


def photo_status(request: HttpRequest, public_id) -> HttpResponse:
    """The analysis panel, polled by htmx while the analysis is pending."""
    photo = access.photo_for(request.user, public_id, purpose="status")
    return render(request, "web/photos/_analysis.html", {
        "photo": photo, "regions": _region_rows(photo), "measured_areas": _measured(photo),
        "may_reanalyse": access.can(request.user, "photo.reanalyse"),
    })


@require_POST
def photo_reanalyse(request: HttpRequest, public_id) -> HttpResponse:
    """Try the analysis again (after it failed): a clinician's request, audited."""
    photo = access.photo_for(request.user, public_id, need="photo.reanalyse", purpose="reanalyse", removed_ok=True)
    try:
        queued = photo_services.photo_analyse_again(actor=request.user, photo=photo)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        if queued:
            messages.success(request, "The photo is being analysed again; the result appears here when it is ready.")
        else:
            messages.info(request, "The analysis of this photo is already under way.")
    return redirect("photo", public_id=photo.public_id)


@require_POST
def photo_consent(request: HttpRequest, public_id) -> HttpResponse:
    """A consent change recorded by staff on the patient's instruction."""
    photo = access.photo_for(request.user, public_id, need="photo.consent", purpose="consent", removed_ok=True)
    form = ConsentChangeForm(request.POST)
    if form.is_valid():
        consent, given, done = CONSENT_CHANGES[form.cleaned_data["change"]]
        was_baseline = photo.is_baseline
        try:
            change = photo_services.photo_set_consent(actor=request.user, photo=photo, consent=consent, given=given,
                                                      channel=form.cleaned_data["channel"])
        except InvalidInput as exc:
            if exc.field != "photo":
                show_invalid(form, exc)
                return _detail_page(request, photo, consent_form=form, status=400)
            messages.error(request, exc.message)
        else:
            if change is None:
                messages.info(request, f"{photo_rules.CONSENTS[consent]} already stood so; nothing changed.")
            else:
                messages.success(request, f"{done}, recorded {photo_rules.CHANNELS[change.channel]} on the "
                                          "patient's instruction."
                                 + _consent_consequence(photo, consent, given, was_baseline))
        return redirect("photo", public_id=photo.public_id)
    return _detail_page(request, photo, consent_form=form, status=400)


def _consent_consequence(photo: Photo, consent: str, given: bool, was_baseline: bool) -> str:
    if consent != "clinical":
        return ""
    if given:
        return " The photo is being analysed again."
    text = " The photo stays in the record but is no longer measured; its wrinkle index values were removed."
    if was_baseline:
        text += " " + _baseline_now(photo)
    return text


def _baseline_now(photo: Photo) -> str:
    """What the view's baseline is after `photo` stopped being it."""
    new = photo_services.baseline_of(photo.patient, photo.view)
    view = photo.get_view_display().lower()
    if new is None:
        return (f"The {view} view has no baseline now: the next {view} photo kept with clinical consent "
                "becomes it.")
    return (f"The {view} baseline is now the photo of {day_text(new.taken_on)}; the other {view} photos are "
            "being analysed again against it.")


@require_POST
def photo_baseline(request: HttpRequest, public_id) -> HttpResponse:
    photo = access.photo_for(request.user, public_id, need="photo.baseline", purpose="baseline", removed_ok=True)
    try:
        photo_services.photo_set_baseline(actor=request.user, photo=photo)
    except InvalidInput as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "This photo is now the baseline of its view; the other photos of the view are "
                                  "being analysed again against it.")
    return redirect("photo", public_id=photo.public_id)


@require_POST
def photo_remove(request: HttpRequest, public_id) -> HttpResponse:
    """Remove a photo taken in error or on the patient's erasure request (with a reason)."""
    photo = access.photo_for(request.user, public_id, need="photo.remove", purpose="remove", removed_ok=True)
    form = PhotoRemoveForm(request.POST)
    if form.is_valid():
        was_baseline = photo.is_baseline
        try:
            photo = photo_services.photo_remove(actor=request.user, photo=photo, reason=form.cleaned_data["reason"],
                                                note=form.cleaned_data["note"])
        except InvalidInput as exc:
            if exc.field != "photo":
                show_invalid(form, exc)
                return _detail_page(request, photo, remove_form=form, status=400)
            messages.error(request, exc.message)
            return redirect("photo", public_id=photo.public_id)
        text = (f"Photo removed ({photo_rules.REMOVAL_REASONS[photo.removal_reason].label.lower()}): the file "
                f"was deleted and its wrinkle index values removed. It is listed as removed under the photos.")
        if was_baseline:
            text += " " + _baseline_now(photo)
        messages.success(request, text)
        return redirect("photos", public_id=photo.patient.public_id)
    return _detail_page(request, photo, remove_form=form, status=400)


def photo_list(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="clinical.view")
    photos = list(patient.photos.kept().select_related("treatment").order_by("-taken_on", "-pk"))
    groups = [
        {"key": key, "name": name, "photos": [p for p in photos if p.view == key]}
        for key, name in PhotoView.choices
    ]
    # Removed photos are listed only here, as the history of what was removed (no file).
    removed = list(patient.photos.removed().select_related("removed_by").order_by("-removed_at", "-pk"))
    return render(request, "web/photos/list.html", {
        "nav": "patients", "patient": patient, "groups": groups, "count": len(photos), "removed": removed,
        "reasons": {k: r.label for k, r in photo_rules.REMOVAL_REASONS.items()},
    })


def photo_compare(request: HttpRequest, public_id) -> HttpResponse:
    """Two photos of the same view, side by side and with a slider."""
    patient = access.patient_for(request.user, public_id, need="clinical.view")
    # Compared: photos that may be used clinically (not removed, clinical consent standing).
    photos = list(patient.photos.measurable().order_by("taken_on", "pk"))
    by_id = {str(p.public_id): p for p in photos}
    a = by_id.get(request.GET.get("a", ""))
    b = by_id.get(request.GET.get("b", ""))
    error = ""
    if a is None and b is None and photos:
        # Start with the view's baseline against the latest photo of that view.
        latest = photos[-1]
        same = [p for p in photos if p.view == latest.view]
        a = next((p for p in same if p.is_baseline), same[0])
        b = latest
    if (request.GET.get("a") and a is None) or (request.GET.get("b") and b is None):
        error = "One of the chosen photos is not on this patient's record, or its clinical use was withdrawn."
        a = b = None
    if a is not None and b is not None and a.view != b.view:
        error = "Only photos of the same view can be compared."
        b = None
    return render(request, "web/photos/compare.html", {
        "nav": "patients", "patient": patient, "photos": photos, "a": a, "b": b, "error": error,
    }, status=400 if error else 200)


def photo_timeline_page(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="clinical.view")
    charts = photo_timeline.area_charts(patient)
    unshown = [c.name for c in charts if not c.shown]
    return render(request, "web/photos/timeline.html",
                  {"nav": "patients", "patient": patient, "charts": charts, "unshown": unshown})


def _measured(photo: Photo) -> list[str]:
    return [name_of("area", a) for a in photo_rules.VIEW_AREAS[photo.view]]


def _region_rows(photo: Photo) -> list[dict[str, Any]]:
    """Each region the analysis measured, named as the timeline names its area, the view's
    own area(s) first. `series`: the value is the one the wrinkle index timeline and the
    forecast hold (the view measures that area, VIEW_AREAS, and the photo was usable); the
    other regions of the same photo are shown for reference only, so the page never shows
    a value the timeline has not got without saying so."""
    analysis = photo.analysis or {}
    regions = analysis.get("regions") or {}
    usable = bool(analysis.get("face_found")) and bool((analysis.get("quality") or {}).get("usable"))
    own = photo_rules.VIEW_AREAS.get(photo.view, ())
    rows = []
    for key, area, side in REGION_ROWS:
        if key not in regions:
            continue
        name = name_of("area", area) + (f", {side}" if side else "")
        rows.append({"key": key, "name": name, "value": regions.get(key), "own": area in own,
                     "series": area in own and usable and not side and bool(regions.get(key))})
    return sorted(rows, key=lambda r: not r["own"])


# The analysis's regions (DESIGN.md `photo analyze`) and the area each belongs to.
REGION_ROWS = (("forehead", "forehead", ""), ("glabella", "glabella", ""),
               ("crows_feet_left", "crows_feet", "left"), ("crows_feet_right", "crows_feet", "right"),
               ("crows_feet", "crows_feet", ""), ("platysma", "platysma", ""))
