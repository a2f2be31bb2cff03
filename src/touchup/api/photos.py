"""Follow-up photos over the API: a patient's photos, one photo's state, and what staff do
with a photo after it is kept (docs/photos.md "Consent, removal and the baseline"):
record a consent change on the patient's instruction, remove it, make it its view's baseline.

Staff clients upload a photo (multipart) as the staff capture page does: the same gate
(clinical.view on the patient) and the same service, `photo_upload`, which judges the
file by its bytes, cleans and stores it, records the consent and queues the analysis.

Reading is for clinical roles (clinical.view); consent changes and removals for
photo.consent / photo.remove (clinician, manager); the baseline for photo.baseline
(clinician). The rules are touchup.core.photo_rules, the writes
touchup.clinic.services.photos (one transaction each, with its audit event).

The API never serves a photo's bytes. A removed photo is a tombstone: it is listed only
when asked for, and read as `"state": "removed"` with who, when and why, never its note,
file or analysis. A photo whose clinical use was withdrawn is read as
`"state": "clinical_use_withdrawn"` without its analysis (it is not measured).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from django.http import Http404, HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from touchup.clinic import access
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.models import Photo, PhotoView
from touchup.clinic.services import photos as photo_services
from touchup.core import photo_rules

from .schemas import OBJECT_ERRORS, DetailOut, IsoDate, Page, PageParams, page, text

router = Router(tags=["photos"])

ConsentKey = Literal[tuple(photo_rules.CONSENTS)]  # type: ignore[valid-type]
StaffChannel = Literal[photo_rules.STAFF_CHANNELS]  # type: ignore[valid-type]
RemovalReason = Literal[tuple(photo_rules.REMOVAL_REASONS)]  # type: ignore[valid-type]
ViewKey = Literal[tuple(PhotoView.values)]  # type: ignore[valid-type]

STATES = ("kept", "clinical_use_withdrawn", "removed")


# --- in ------------------------------------------------------------------------------


class PhotoFilters(PageParams):
    view: ViewKey | None = None  # type: ignore[valid-type]
    include_removed: bool = Field(False, description="Also list removed photos (tombstones: no file, no analysis)")


class PhotoUploadIn(Schema):
    """The form fields next to the file (multipart/form-data), as on the staff capture page."""

    view: ViewKey = Field(description="at_rest | frown | brows_raised | smile_squint | neck_tensed")  # type: ignore[valid-type]
    taken_on: IsoDate | None = Field(None, description="YYYY-MM-DD; today when left out. Not in the future, "
                                     "not before the patient's birth")
    consent_clinical: bool = Field(description="The patient consents to the photo being kept for their "
                                   "clinical record: must be true, or nothing is kept")
    consent_marketing: bool = Field(False, description="The patient also consents to its use in the "
                                    "clinic's marketing")
    treatment_id: uuid.UUID | None = Field(None, description="The patient's treatment cycle it follows; "
                                           "when left out, the latest treatment on or before taken_on")
    keep_only_if_usable: bool = Field(False, description="Run the quality check first (face found, "
                                      "sharpness, exposure, pose, face size, the expression the view asks for; a "
                                      "few seconds) and keep the "
                                      "photo only if it finds no problem: otherwise a 422 on `photo` lists "
                                      "the problems and nothing is kept")


class ConsentIn(Schema):
    consent: ConsentKey = Field(description="clinical | marketing")  # type: ignore[valid-type]
    given: bool = Field(strict=True, description="true: given; false: withdrawn")
    channel: StaffChannel = Field(  # type: ignore[valid-type]
        description="How the patient gave the instruction: in_person | phone | in_writing "
        "(a patient changes their own consent in the portal)"
    )


class RemovalIn(Schema):
    reason: RemovalReason = Field(  # type: ignore[valid-type]
        description="wrong_patient | wrong_view | duplicate | erasure_request | other"
    )
    note: text(photo_rules.NOTE_MAX_CHARS) = Field(  # type: ignore[valid-type]
        "", description="Needed for reason 'other'. Kept with the clinic; never sent back, audited or logged."
    )


# --- out -----------------------------------------------------------------------------


class ConsentOut(Schema):
    clinical: bool
    marketing: bool


class ConsentChangeOut(Schema):
    consent: str
    given_before: bool
    given_after: bool
    channel: str = Field(description="portal (the patient) | in_person | phone | in_writing")
    changed_by: str
    changed_at: dt.datetime


class RemovalOut(Schema):
    removed_at: dt.datetime
    removed_by: str
    reason: str
    reason_label: str


class RegionOut(Schema):
    wrinkle_index: float
    grade: int | None = None


class AnalysisOut(Schema):
    status: str = Field(description="pending | done | failed")
    problems: list[str] = Field(description="Quality problems found")
    regions: dict[str, RegionOut | None] = Field(description="Per region; null where it was not visible")
    error: str | None = Field(description="Why a failed analysis failed")


class PhotoSummaryOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    view: str
    taken_on: dt.date
    state: Literal[STATES] = Field(  # type: ignore[valid-type]
        description="kept | clinical_use_withdrawn (kept in the record, not measured) | removed (a tombstone)"
    )
    is_baseline: bool
    consent: ConsentOut


class PhotoOut(PhotoSummaryOut):
    treatment_id: uuid.UUID | None = Field(description="The treatment cycle it follows")
    uploaded_by: str
    created_at: dt.datetime
    width: int
    height: int
    consent_at_upload: ConsentOut
    consent_history: list[ConsentChangeOut] = Field(description="Every change, oldest first")
    analysis: AnalysisOut | None = Field(description="Null when removed or when clinical use is withdrawn")
    removal: RemovalOut | None = Field(description="Who removed it, when and why; null while kept")


class DuplicateOut(Schema):
    detail: str
    photo_id: uuid.UUID = Field(description="The photo already on file with exactly these bytes")


class ConsentResultOut(Schema):
    changed: bool = Field(description="False when the consent already stood so (nothing was written)")
    photo: PhotoOut


class ReanalyseOut(Schema):
    queued: bool = Field(description="False when an analysis was already under way (nothing was written)")
    photo: PhotoOut


def _state(p: Photo) -> str:
    if p.removed_at is not None:
        return "removed"
    return "kept" if p.consent_clinical else "clinical_use_withdrawn"


def summary_out(p: Photo) -> dict[str, Any]:
    return {
        "id": p.public_id, "patient_id": p.patient.public_id, "view": p.view, "taken_on": p.taken_on,
        "state": _state(p), "is_baseline": p.is_baseline,
        "consent": {"clinical": p.consent_clinical, "marketing": p.consent_marketing},
    }


def _analysis(p: Photo) -> dict[str, Any] | None:
    if _state(p) != "kept":
        return None
    analysis = p.analysis or {}
    regions = analysis.get("regions") or {}
    return {
        "status": p.analysis_status, "problems": p.problems,
        "regions": {
            k: ({"wrinkle_index": v["wrinkle_index"], "grade": v.get("grade")}
                if isinstance(v, dict) and v.get("wrinkle_index") is not None else None)
            for k, v in regions.items()
        },
        "error": analysis.get("error"),
    }


def photo_out(p: Photo) -> dict[str, Any]:
    history = list(p.consent_changes.select_related("changed_by").order_by("changed_at", "pk"))
    at_upload = {}
    for key in photo_rules.CONSENTS:
        first = next((c for c in history if c.consent == key), None)
        at_upload[key] = first.given_before if first else getattr(p, f"consent_{key}")
    removal = None
    if p.removed_at is not None:
        rule = photo_rules.REMOVAL_REASONS.get(p.removal_reason)
        removal = {
            "removed_at": p.removed_at, "removed_by": p.removed_by.get_username(), "reason": p.removal_reason,
            "reason_label": rule.label if rule else p.removal_reason,
        }  # never the note
    return {
        **summary_out(p), "treatment_id": p.treatment.public_id if p.treatment_id else None,
        "uploaded_by": p.uploaded_by.get_username(), "created_at": p.created_at,
        "width": p.width, "height": p.height,
        "consent_at_upload": at_upload,
        "consent_history": [
            {"consent": c.consent, "given_before": c.given_before, "given_after": c.given_after,
             "channel": c.channel, "changed_by": c.changed_by.get_username(), "changed_at": c.changed_at}
            for c in history
        ],
        "analysis": _analysis(p), "removal": removal,
    }


def _as_it_is_now(photo: Photo) -> Photo:
    """The photo re-read after a service changed it (the service locks and changes its own copy)."""
    return Photo.objects.select_related("patient", "treatment", "uploaded_by", "removed_by").get(pk=photo.pk)


@contextlib.contextmanager
def _state_conflicts() -> Iterator[None]:
    """The services refuse a change the photo's state forbids (removed, clinical use
    withdrawn) as InvalidInput on "photo"; the API answers those as it answers every
    clash with an object's state: 409."""
    try:
        yield
    except InvalidInput as exc:
        if exc.field == "photo":
            raise Conflict(exc.message) from None
        raise


# --- routes --------------------------------------------------------------------------


@router.get("/patients/{patient_id}/photos", response={200: Page[PhotoSummaryOut], **OBJECT_ERRORS})
def list_photos(request: HttpRequest, patient_id: uuid.UUID, params: Query[PhotoFilters]) -> dict[str, Any]:
    """The patient's photos, newest first; removed ones only with include_removed."""
    patient = access.patient_for(request.user, patient_id, need="clinical.view")
    qs = Photo.objects.filter(patient=patient).select_related("patient")
    if not params.include_removed:
        qs = qs.kept()
    if params.view:
        qs = qs.filter(view=params.view)
    return page(qs.order_by("-taken_on", "-pk"), params, summary_out)


@router.post("/patients/{patient_id}/photos",
             response={201: PhotoOut, 409: DuplicateOut, **OBJECT_ERRORS})
def upload_photo(
    request: HttpRequest, patient_id: uuid.UUID, photo: File[UploadedFile], fields: Form[PhotoUploadIn],
) -> Status[Any]:
    """Keep a photo (multipart/form-data: the file as `photo`, JPEG, PNG or HEIC up to 25 MB,
    and the fields below), as the staff capture page does. The file is judged by its bytes;
    what is stored is a clean JPEG (orientation applied, EXIF and GPS gone). The answer is
    the new photo with its analysis pending. A file that is not a complete, plain JPEG, PNG
    or HEIC within the limits is a 422 on `photo` and nothing is kept; the very same file
    already on the patient's record is a 409 naming that photo."""
    patient = access.patient_for(request.user, patient_id, need="clinical.view")
    treatment = None
    if fields.treatment_id is not None:
        try:
            treatment = access.treatment_for(request.user, fields.treatment_id)
        except Http404:
            raise InvalidInput("treatment_id", "no such treatment in this clinic") from None
        if treatment.patient_id != patient.pk:
            raise InvalidInput("treatment_id", "belongs to another patient")
    try:
        kept = photo_services.photo_upload(
            actor=request.user, patient=patient, view=fields.view, upload=photo, taken_on=fields.taken_on,
            treatment=treatment, consent_clinical=fields.consent_clinical,
            consent_marketing=fields.consent_marketing, keep_only_if_usable=fields.keep_only_if_usable,
        )
    except photo_services.DuplicatePhoto as exc:
        return Status(409, {"detail": exc.message, "photo_id": exc.existing.public_id})
    return Status(201, photo_out(_as_it_is_now(kept)))


@router.get("/photos/{photo_id}", response={200: PhotoOut, **OBJECT_ERRORS})
def get_photo(request: HttpRequest, photo_id: uuid.UUID) -> dict[str, Any]:
    """One photo: its state, consents and their history, analysis, or its removal (audited).
    The file itself is not served by the API."""
    photo = access.photo_for(request.user, photo_id, purpose="api", removed_ok=True)
    return photo_out(_as_it_is_now(photo))


@router.post("/photos/{photo_id}/consent", response={200: ConsentResultOut, 409: DetailOut, **OBJECT_ERRORS})
def change_consent(request: HttpRequest, photo_id: uuid.UUID, payload: ConsentIn) -> dict[str, Any]:
    """Record a consent change the patient asked for, and how they asked. Withdrawn clinical
    use removes the photo's measurements (the forecast is recomputed) and hands a baseline
    on; given again, the photo is analysed again. 409 for a removed photo."""
    photo = access.photo_for(request.user, photo_id, need="photo.consent", purpose="consent", removed_ok=True)
    with _state_conflicts():
        change = photo_services.photo_set_consent(
            actor=request.user, photo=photo, consent=payload.consent, given=payload.given, channel=payload.channel,
        )
    return {"changed": change is not None, "photo": photo_out(_as_it_is_now(photo))}


@router.post("/photos/{photo_id}/remove", response={200: PhotoOut, 409: DetailOut, **OBJECT_ERRORS})
def remove_photo(request: HttpRequest, photo_id: uuid.UUID, payload: RemovalIn) -> dict[str, Any]:
    """Remove a photo taken in error or on the patient's erasure request. The row stays as a
    tombstone, its measurements go, the file is deleted once the removal has committed, and
    a baseline hands on. The answer is the tombstone (without the note). 409 if already removed."""
    photo = access.photo_for(request.user, photo_id, need="photo.remove", purpose="remove", removed_ok=True)
    with _state_conflicts():
        photo_services.photo_remove(actor=request.user, photo=photo, reason=payload.reason, note=payload.note)
    return photo_out(_as_it_is_now(photo))


@router.post("/photos/{photo_id}/baseline", response={200: PhotoOut, 409: DetailOut, **OBJECT_ERRORS})
def make_baseline(request: HttpRequest, photo_id: uuid.UUID) -> dict[str, Any]:
    """Make this photo its view's baseline; every measurable photo of the view is analysed
    again against it. 409 for a removed photo or one whose clinical use was withdrawn."""
    photo = access.photo_for(request.user, photo_id, need="photo.baseline", purpose="baseline", removed_ok=True)
    with _state_conflicts():
        photo_services.photo_set_baseline(actor=request.user, photo=photo)
    return photo_out(_as_it_is_now(photo))


@router.post("/photos/{photo_id}/reanalyse", response={200: ReanalyseOut, 409: DetailOut, **OBJECT_ERRORS})
def reanalyse_photo(request: HttpRequest, photo_id: uuid.UUID) -> dict[str, Any]:
    """Analyse the photo again (after a failed analysis; clinicians): queued as a new
    request, the result arrives as GET reads it. `queued` is false when an analysis is
    already under way (nothing changes). 409 for a removed photo or one whose clinical
    use was withdrawn."""
    photo = access.photo_for(request.user, photo_id, need="photo.reanalyse", purpose="reanalyse", removed_ok=True)
    with _state_conflicts():
        queued = photo_services.photo_analyse_again(actor=request.user, photo=photo)
    return {"queued": queued, "photo": photo_out(_as_it_is_now(photo))}
