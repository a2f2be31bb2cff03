"""Photos: check, keep, consent, baseline, removal, and the analysis result.

A photo is judged by its bytes (touchup.vision.decode): anything that is not a complete,
plain JPEG, PNG or HEIC within the limits is refused with the decoder's reason, and nothing is
left behind, neither a file nor a row. What is stored is a clean re-encoded JPEG under a
random name (orientation applied, EXIF and GPS gone), through Django's storage API, so
the same code writes to the local disk or to S3-compatible storage.

The file is written before the row because storage is not transactional; if the row's
transaction fails, the file is removed again. The analysis runs later in a worker
(touchup.jobs.photo_analysis), which hands its result to `photo_record_analysis`.

After a photo is kept (the rules are touchup.core.photo_rules):
- `photo_set_consent`: the patient (portal) or staff on the patient's instruction give or
  withdraw clinical or marketing use; every change is a PhotoConsentChange row. Withdrawn
  clinical use keeps the photo in the record but removes its measurements (the forecast
  is recomputed) and, for a baseline, hands the baseline on.
- `photo_remove`: staff remove a photo taken in error or on the patient's erasure request;
  the row stays as a tombstone, the measurements go, and the stored file is deleted once
  the transaction has committed.
- `photo_set_baseline`: every other photo of the view is analysed again against it.
A view that has photos which may be measured always has a baseline: when it loses its
baseline, the earliest of them takes over (`touchup.core.photo_rules.next_baseline`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from touchup.core import photo_rules
from touchup.core.dates import day_text
from touchup.vision.decode import MAX_BYTES, DecodedImage, ImageRejected, clean_jpeg, decode_image

from .. import audit
from ..errors import InvalidInput
from ..models import (
    AnalysisStatus,
    Observation,
    ObservationKind,
    Patient,
    Photo,
    PhotoConsentChange,
    PhotoView,
    Treatment,
)

logger = logging.getLogger(__name__)

# Region of the analysis result → observation area (DESIGN.md areas).
REGION_AREAS = {"forehead": "forehead", "glabella": "glabella", "crows_feet": "crows_feet", "platysma": "platysma"}

PHOTO_DIR = "photos"


class DuplicatePhoto(InvalidInput):
    """The very same file is already on this patient's record."""

    def __init__(self, existing: Photo):
        super().__init__(
            "photo",
            f"This exact photo is already on file ({existing.get_view_display().lower()}, "
            f"taken {day_text(existing.taken_on)}); it was not stored twice.",
        )
        self.existing = existing


class QualityRefused(InvalidInput):
    """The quality check found problems and the photo was to be kept only if it passed."""

    def __init__(self, problems: list[str]):
        super().__init__("photo", "The photo was not kept: " + "; ".join(problems))
        self.problems = problems


@dataclass
class QualityCheck:
    face_found: bool
    usable: bool
    problems: list[str] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    baseline: Photo | None = None


# --- reading and decoding ----------------------------------------------------------------


def read_upload(upload: IO[bytes] | bytes | None) -> bytes:
    """The uploaded bytes, refusing more than 25 MB without reading further."""
    if upload is None:
        raise InvalidInput("photo", "Choose a photo to upload.")
    if isinstance(upload, (bytes, bytearray)):
        data = bytes(upload)
    else:
        if hasattr(upload, "seek"):
            upload.seek(0)
        data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidInput("photo", f"The file is larger than {MAX_BYTES // 1048576} MB; it was not stored.")
    return data


def decode(data: bytes) -> DecodedImage:
    try:
        return decode_image(data)
    except ImageRejected as exc:
        raise InvalidInput("photo", exc.reason) from None


def _view(view: str) -> str:
    if view not in PhotoView.values:
        raise InvalidInput("view", f"must be one of {', '.join(PhotoView.values)}")
    return view


def _taken_on(patient: Patient, value: Any) -> dt.date:
    if value in (None, ""):
        return timezone.localdate()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidInput("taken_on", "must be a date (YYYY-MM-DD)") from None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        raise InvalidInput("taken_on", "must be a date (YYYY-MM-DD)")
    if value > timezone.localdate():
        raise InvalidInput("taken_on", "is in the future")
    if value < patient.birth_date:
        raise InvalidInput("taken_on", "is before the patient's date of birth")
    return value


def cycle_for(patient: Patient, taken_on: dt.date) -> Treatment | None:
    """The treatment cycle a photo follows: the latest treatment on or before its day (a
    photo on a treatment day is that cycle's starting point, taken before injecting)."""
    return patient.treatments.filter(treated_on__lte=taken_on).order_by("-treated_on", "-pk").first()


def baseline_of(patient: Patient, view: str, *, excluding: Photo | None = None) -> Photo | None:
    qs = Photo.objects.filter(patient=patient, view=view, is_baseline=True)
    if excluding is not None:
        qs = qs.exclude(pk=excluding.pk)
    return qs.first()


def photo_bytes(photo: Photo) -> bytes:
    """The stored JPEG, checked against the hash taken when it was stored."""
    with default_storage.open(photo.file.name, "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != photo.file_sha256:
        raise OSError(f"stored photo {photo.public_id} does not match its SHA-256")
    return data


# --- analysis (touchup.vision) -----------------------------------------------------------

# Baselines ready for use (decoded, landmarks found; the canvas and eye openings are kept
# on first use), a few per process: a backlog of one patient's uploads, the capture page's
# checks and the comparisons read the same baseline again and again, and preparing it is a
# decode, a landmark pass and a warp (about a third of an analysis against a baseline).
# Keyed by row and content hash, so a replaced file is never served from here; held in
# memory only, and the oldest goes when a fifth comes.
_PREPARED: OrderedDict[tuple[int, str], Any] = OrderedDict()
_PREPARED_KEPT = 4
_prepared_lock = threading.Lock()


def prepared_photo(photo: Photo) -> Any:
    """`photo` as touchup.vision.analyze.Prepared, from the per-process cache or the file."""
    from touchup.vision.analyze import prepare_bytes

    key = (photo.pk, photo.file_sha256)
    with _prepared_lock:
        hit = _PREPARED.get(key)
        if hit is not None:
            _PREPARED.move_to_end(key)
            return hit
    prepared = prepare_bytes(photo_bytes(photo))  # outside the lock: it takes tens of ms
    with _prepared_lock:
        _PREPARED[key] = prepared
        while len(_PREPARED) > _PREPARED_KEPT:
            _PREPARED.popitem(last=False)
    return prepared


def analyse(data: bytes, baseline: Photo | None, view: str | None = None) -> dict[str, Any]:
    """Run the vision analysis of one photo file against a stored baseline photo; raises
    InvalidInput (field "photo") for a file that is not a readable photo. With `view` (the
    photo's view; the baseline is of the same view) the expression that view asks for is
    checked too: a wrong one is one more quality problem (touchup.vision.expression)."""
    # Imported late: the landmark model loads with it, and only workers and checks need it.
    from touchup.vision.analyze import analyze_bytes

    try:
        return analyze_bytes(data, baseline=prepared_photo(baseline) if baseline is not None else None,
                             view=view)
    except ImageRejected as exc:
        raise InvalidInput("photo", exc.reason) from None


def thumbnail_jpeg(photo: Photo, width: int = 480) -> bytes:
    """A small copy for lists, decoded at a fraction of its size straight from the JPEG."""
    import cv2

    reduce = next((r for r in (8, 4, 2) if photo.width / r >= width), 1)
    rgb = decode_image(photo_bytes(photo), reduce=reduce).rgb
    if rgb.shape[1] > width:
        rgb = cv2.resize(rgb, (width, round(rgb.shape[0] * width / rgb.shape[1])), interpolation=cv2.INTER_AREA)
    ok, out = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:  # pragma: no cover - only on out-of-memory
        raise RuntimeError("JPEG encoding failed")
    return out.tobytes()


def aligned_jpeg(photo: Photo, onto: Photo) -> tuple[bytes, bool]:
    """`photo` warped onto `onto`'s frame by the vision package's baseline fit (stable
    landmarks only: eye corners, nasal bridge, alar base), for comparing the two. Returns
    (JPEG, True), or the photo as stored and False when either face is not found."""
    import cv2

    from touchup.vision.align import to_baseline
    from touchup.vision.analyze import prepare_bytes

    data = photo_bytes(photo)
    moving, fixed = prepare_bytes(data), prepared_photo(onto)
    if moving.landmarks is None or fixed.landmarks is None:
        return data, False
    matrix = to_baseline(moving.landmarks, fixed.landmarks)
    h, w = fixed.rgb.shape[:2]
    warped = cv2.warpAffine(np.ascontiguousarray(moving.rgb), matrix, (w, h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    ok, out = cv2.imencode(".jpg", cv2.cvtColor(warped, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:  # pragma: no cover - only on out-of-memory
        raise RuntimeError("JPEG encoding failed")
    return out.tobytes(), True


def photo_check(*, actor: Any, patient: Patient, view: str, data: bytes,
                img: DecodedImage | None = None) -> QualityCheck:
    """The quality check shown before a photo is kept. Stores nothing but the audit event
    (the patient's baseline photo is read to judge the pose). `img`: `data` already
    decoded by the caller."""
    view = _view(view)
    img = img or decode(data)  # refuses exactly what photo_upload refuses, with the same words
    if img.format == "heic":
        # Judged on the JPEG that would be stored, which the worker analyses too: libheif
        # has no reduced-size decode, so analysing the HEIC would decode it in full again
        # (about 0.5 s for 12 MP, against tens of ms for the JPEG at the scale it needs).
        data = clean_jpeg(img)
    baseline = baseline_of(patient, view)
    result = analyse(data, baseline, view)
    quality = result.get("quality") or {}
    with transaction.atomic():
        audit.record("photo.check", actor=actor, patient=patient, detail={"view": view,
                     "baseline": str(baseline.public_id) if baseline else None})
    problems = list(quality.get("problems") or [])
    face_found = bool(result.get("face_found"))
    if not face_found and not problems:
        problems = ["No face was found in the photo."]
    return QualityCheck(
        face_found=face_found, usable=bool(quality.get("usable")) and face_found,
        problems=problems, quality=quality, baseline=baseline,
    )


# --- writes ------------------------------------------------------------------------------


def photo_upload(
    *,
    actor: Any,
    patient: Patient,
    view: str,
    upload: IO[bytes] | bytes | None,
    taken_on: Any = None,
    treatment: Treatment | None = None,
    consent_clinical: bool = False,
    consent_marketing: bool = False,
    keep_only_if_usable: bool = False,
) -> Photo:
    """Check, clean and keep one photo; enqueue its analysis. Refusals raise InvalidInput
    (DuplicatePhoto, QualityRefused) and leave nothing on disk or in the database."""
    view = _view(view)
    taken_on = _taken_on(patient, taken_on)
    if not consent_clinical:
        raise InvalidInput("consent_clinical", "The patient's consent to clinical use is needed to keep a photo.")
    if treatment is not None and treatment.patient_id != patient.pk:
        raise InvalidInput("treatment", "belongs to another patient")
    data = read_upload(upload)
    img = decode(data)
    existing = Photo.objects.kept().filter(patient=patient, sha256=img.sha256).first()
    if existing is not None:
        raise DuplicatePhoto(existing)
    if keep_only_if_usable:
        check = photo_check(actor=actor, patient=patient, view=view, data=data, img=img)
        if check.problems:
            raise QualityRefused(check.problems)
    clean = clean_jpeg(img)
    name = default_storage.save(f"{PHOTO_DIR}/{secrets.token_hex(16)}.jpg", ContentFile(clean))
    try:
        with transaction.atomic():
            # The first photo of a view is its baseline (and so is a photo kept while the
            # view has none: every earlier one was removed or lost clinical consent).
            first_of_view = baseline_of(patient, view) is None
            photo = Photo.objects.create(
                patient=patient, treatment=treatment or cycle_for(patient, taken_on), view=view,
                taken_on=taken_on, uploaded_by=actor, file=name, sha256=img.sha256,
                file_sha256=hashlib.sha256(clean).hexdigest(), width=img.width, height=img.height,
                consent_clinical=True, consent_marketing=bool(consent_marketing),
                # The first photo of a view is the reference the later ones are aligned to.
                is_baseline=first_of_view,
                # Its analysis is owed from this commit on, whatever becomes of the task.
                **_analysis_owed(timezone.now()),
            )
            audit.record("photo.upload", actor=actor, patient=patient, obj=photo, detail={
                "view": view, "sha256": img.sha256, "baseline": first_of_view,
                "consent_marketing": photo.consent_marketing,
            })
            _keep_cycle_current(photo, patient, taken_on)
            # The row says the analysis is owed; the task is queued with this commit, and
            # again by the worker's sweep if it does not finish in time.
            _enqueue_analysis(photo.pk)
    except IntegrityError:
        default_storage.delete(name)
        existing = Photo.objects.kept().filter(patient=patient, sha256=img.sha256).first()
        if existing is not None:  # the same file, uploaded twice at the same moment
            raise DuplicatePhoto(existing) from None
        raise
    except BaseException:
        default_storage.delete(name)
        raise
    return photo


def _keep_cycle_current(photo: Photo, patient: Patient, taken_on: dt.date) -> None:
    """The photo's treatment was read before this transaction held the audit head, and a
    draft discarded since then is gone: the foreign-key check at the commit would fail (a
    500 for whoever was uploading). The photo goes with the cycle its day has now, as a
    discard leaves the photos it unlinks. Looking once is enough: a discard records its event
    before it deletes the row, so while this transaction holds the head none can commit,
    and one that does after this commit unlinks this photo with the rest."""
    if photo.treatment_id is None or Treatment.objects.filter(pk=photo.treatment_id).exists():
        return
    photo.treatment = cycle_for(patient, taken_on)
    photo.save(update_fields=["treatment"])


def sweep_orphan_files(*, older_than: dt.timedelta = dt.timedelta(hours=1)) -> list[str]:
    """Delete stored photo files that no row refers to: what a crash between writing the
    file and committing its row leaves behind. Files younger than `older_than` may belong
    to an upload still in progress and are left alone. Returns the names removed."""
    try:
        _dirs, names = default_storage.listdir(PHOTO_DIR)
    except FileNotFoundError:
        return []
    cutoff = timezone.now() - older_than
    removed = []
    for base in names:
        name = f"{PHOTO_DIR}/{base}"
        if Photo.objects.filter(file=name).exists():
            continue
        if default_storage.get_modified_time(name) > cutoff:
            continue
        default_storage.delete(name)
        removed.append(name)
    return removed


# --- after keeping: consent, baseline, removal --------------------------------------------


def _lock_view(photo: Photo) -> Photo:
    """Lock the rows of every photo of `photo`'s patient and view, so changes to one view's
    baseline and measurements happen one after the other, and return `photo` as it is now."""
    rows = list(
        Photo.objects.select_for_update().filter(patient_id=photo.patient_id, view=photo.view).order_by("pk")
    )
    current = next((p for p in rows if p.pk == photo.pk), None)
    if current is None:  # pragma: no cover - photos are never deleted, only removed
        raise InvalidInput("photo", "This photo is no longer on the record.")
    current.patient = photo.patient
    return current


def _refuse_removed(photo: Photo, what: str) -> None:
    if photo.removed_at is not None:
        raise InvalidInput(
            "photo", f"This photo was removed on {day_text(timezone.localtime(photo.removed_at))}; {what}."
        )


def _drop_measurements(photo: Photo) -> list[str]:
    """Delete the observations measured on `photo`; returns their areas."""
    rows = list(Observation.objects.filter(photo=photo).values_list("pk", "area"))
    if rows:
        Observation.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    return sorted({area for _, area in rows})


def _enqueue_analysis(photo_pk: int) -> None:
    """Queue the analysis of one photo so that it runs only on committed data. The database
    task backend writes the job in the caller's transaction (queued exactly when the change
    commits); any other backend (Redis at scale) is handed the job once the transaction has
    committed, or its worker could read the photo and baseline as they were before. The
    photo row already says the analysis is owed (`_analysis_owed`, same transaction), so a
    hand-over that fails after the commit is logged, not raised: the sweep queues it."""
    from django_tasks_db import DatabaseBackend

    from touchup.jobs.photo_analysis import analyze_photo

    if isinstance(analyze_photo.get_backend(), DatabaseBackend):
        analyze_photo.enqueue(photo_pk, only_if_pending=True)
    else:
        transaction.on_commit(lambda: _hand_over_analysis(photo_pk))


def _hand_over_analysis(photo_pk: int) -> bool:
    """Queue the task now; False (logged with the row id only) when the queue refuses it."""
    from touchup.jobs.photo_analysis import analyze_photo

    try:
        analyze_photo.enqueue(photo_pk, only_if_pending=True)
    except Exception as exc:  # noqa: BLE001 - any backend's failure (Redis down, say)
        logger.warning("analyze_photo for photo row %s not queued (the sweep will retry): %s", photo_pk,
                       type(exc).__name__)
        return False
    return True


def _analysis_owed(now: dt.datetime) -> dict[str, Any]:
    """The fields that make a photo's analysis owed from `now` (a new request: the sweep's
    back-off and the count of started runs begin again)."""
    return {"analysis_status": AnalysisStatus.PENDING, "analysis_requested_at": now,
            "analysis_retry_at": now + ANALYSIS_RETRY_AFTER, "analysis_attempts": 0}


_OWED_FIELDS = ["analysis_status", "analysis_requested_at", "analysis_retry_at", "analysis_attempts"]


def _nothing_owed(photo: Photo) -> None:
    """Set on `photo` (the caller saves "analysis_retry_at", "analysis_attempts"): no analysis is
    owed any more, so the sweep leaves it."""
    photo.analysis_retry_at = None
    photo.analysis_attempts = 0


def _measure_again(actor: Any, photos: list[Photo], *, why: str) -> None:
    """Queue the analysis of `photos` again; each result replaces the photo's measurements
    when the worker stores it."""
    now = timezone.now()
    for p in photos:
        for name, value in _analysis_owed(now).items():
            setattr(p, name, value)
        p.save(update_fields=_OWED_FIELDS)
        _enqueue_analysis(p.pk)
    if photos:
        audit.record("photo.reanalyse", actor=actor, patient=photos[0].patient, detail={
            "view": photos[0].view, "why": why, "photos": [str(p.public_id) for p in photos],
        })


def _hand_on_baseline(actor: Any, patient: Patient, view: str, *, why: str) -> Photo | None:
    """The view has no baseline (it was removed or lost clinical consent, or had none):
    the earliest photo of the view that may be measured becomes it, and the view's photos
    are analysed again against it. None when no photo of the view may be measured."""
    kept = list(Photo.objects.kept().filter(patient=patient, view=view))
    key = photo_rules.next_baseline(
        photo_rules.BaselineCandidate(p.pk, p.taken_on, p.pk, p.consent_clinical) for p in kept
    )
    new = next((p for p in kept if p.pk == key), None)
    if new is not None:
        new.is_baseline = True
        new.save(update_fields=["is_baseline"])
    audit.record("photo.baseline", actor=actor, patient=patient, obj=new, detail={
        "view": view, "automatic": True, "why": why, "baseline": str(new.public_id) if new else None,
    })
    if new is not None:
        for p in kept:
            p.patient = patient
        _measure_again(actor, [p for p in kept if p.consent_clinical], why="baseline")
    return new


@transaction.atomic
def photo_set_consent(
    *, actor: Any, photo: Photo, consent: str, given: bool, channel: str,
) -> PhotoConsentChange | None:
    """Give or withdraw one consent ("clinical" or "marketing") on one photo.

    `channel` says how: "portal" when the patient changes it themself, else how they told
    the staff member ("in_person", "phone", "in_writing"). Returns the change, or None
    when the consent already stood so (then nothing is written).

    Withdrawn clinical use: the photo stays in the record, is marked, and is no longer
    measured: its wrinkle_index observations are deleted (the forecast is recomputed) and
    a baseline hands over to the earliest photo of the view that may still be measured.
    Clinical use given again: the photo is analysed again (and becomes the baseline if
    its view has none)."""
    if consent not in photo_rules.CONSENTS:
        raise InvalidInput("consent", "must be clinical or marketing")
    by_patient = photo.patient.user_id is not None and getattr(actor, "pk", None) == photo.patient.user_id
    if by_patient and channel != photo_rules.PATIENT_CHANNEL:
        raise InvalidInput("channel", "A patient changes their own consent in the portal.")
    if not by_patient and channel not in photo_rules.STAFF_CHANNELS:
        raise InvalidInput("channel", "Say how the patient gave the instruction: in person, by phone or in writing.")
    photo = _lock_view(photo)
    _refuse_removed(photo, "there is nothing left to consent to")
    field_name = f"consent_{consent}"
    before, given = bool(getattr(photo, field_name)), bool(given)
    if before == given:
        return None
    effects = photo_rules.consent_effects(consent, given, is_baseline=photo.is_baseline)
    setattr(photo, field_name, given)
    dropped = _drop_measurements(photo) if effects.stop_measuring else []
    if effects.stop_measuring:
        _nothing_owed(photo)  # a photo that may not be measured is not analysed either
    if effects.leave_baseline:
        photo.is_baseline = False
    photo.save(update_fields=[field_name, "is_baseline", "analysis_retry_at", "analysis_attempts"])
    change = PhotoConsentChange.objects.create(
        photo=photo, consent=consent, given_before=before, given_after=given, channel=channel,
        changed_by=actor, changed_at=timezone.now(),
    )
    audit.record("photo.consent", actor=actor, patient=photo.patient, obj=photo, detail={
        "consent": consent, "from": before, "to": given, "channel": channel,
        "observations_removed": dropped, "was_baseline": effects.leave_baseline,
    })
    if effects.leave_baseline:
        _hand_on_baseline(actor, photo.patient, photo.view, why="clinical_consent_withdrawn")
    if effects.measure_again:
        if baseline_of(photo.patient, photo.view) is None:
            _hand_on_baseline(actor, photo.patient, photo.view, why="clinical_consent_given")
        else:
            _measure_again(actor, [photo], why="clinical_consent_given")
    if dropped:
        from touchup.maintenance.services.forecasts import request_recompute

        request_recompute(photo.patient)
    return change


@transaction.atomic
def photo_set_baseline(*, actor: Any, photo: Photo) -> Photo:
    """Make this photo the reference of its view. Every photo of the view that may be
    measured is analysed again (the others against it, itself on its own); each new
    result replaces that photo's measurements."""
    photo = _lock_view(photo)
    _refuse_removed(photo, "it cannot be the baseline")
    if not photo.consent_clinical:
        raise InvalidInput("photo", "The patient withdrew clinical use of this photo, so it cannot be the baseline.")
    if photo.is_baseline:
        return photo
    old = baseline_of(photo.patient, photo.view, excluding=photo)
    if old is not None:
        old.is_baseline = False
        old.save(update_fields=["is_baseline"])
    photo.is_baseline = True
    photo.save(update_fields=["is_baseline"])
    audit.record("photo.baseline", actor=actor, patient=photo.patient, obj=photo, detail={
        "view": photo.view, "automatic": False, "previous": str(old.public_id) if old else None,
    })
    same_view = list(Photo.objects.measurable().filter(patient=photo.patient, view=photo.view).order_by("taken_on", "pk"))
    for p in same_view:
        p.patient = photo.patient
    _measure_again(actor, same_view, why="baseline")
    return photo


def photo_remove(*, actor: Any, photo: Photo, reason: str, note: str = "") -> Photo:
    """Remove a photo taken in error or on the patient's erasure request.

    In one transaction: the photo's measurements are deleted (the forecast recomputed),
    the row becomes a tombstone (removed_at, removed_by, reason, note; no file name, no
    analysis), a baseline hands over to the earliest photo of the view that may still be
    measured, and the removal is audited (the reason code, never the note). The stored
    file is deleted through the storage API only after that transaction has committed;
    if the deletion fails then, the file is unreferenced and `sweep_orphan_files` deletes
    it. On any error nothing has changed."""
    rule = photo_rules.REMOVAL_REASONS.get(reason or "")
    if rule is None:
        raise InvalidInput("reason", "Choose why the photo is removed.")
    note = (note or "").strip()
    if rule.needs_note and not note:
        raise InvalidInput("note", "Say why the photo is removed.")
    if len(note) > photo_rules.NOTE_MAX_CHARS:
        raise InvalidInput("note", f"Keep the note under {photo_rules.NOTE_MAX_CHARS} characters.")
    with transaction.atomic():
        photo = _lock_view(photo)
        _refuse_removed(photo, "nothing changed")
        name, was_baseline = photo.file.name, photo.is_baseline
        dropped = _drop_measurements(photo)
        photo.removed_at = timezone.now()
        photo.removed_by = actor
        photo.removal_reason = reason
        photo.removal_note = note
        photo.file = ""
        photo.analysis = None
        photo.is_baseline = False
        _nothing_owed(photo)
        photo.save(update_fields=["removed_at", "removed_by", "removal_reason", "removal_note", "file",
                                  "analysis", "is_baseline", "analysis_retry_at", "analysis_attempts"])
        audit.record("photo.remove", actor=actor, patient=photo.patient, obj=photo, detail={
            "reason": reason, "view": photo.view, "sha256": photo.sha256,
            "observations_removed": dropped, "was_baseline": was_baseline,
        })
        if was_baseline:
            _hand_on_baseline(actor, photo.patient, photo.view, why="baseline_removed")
        if dropped:
            from touchup.maintenance.services.forecasts import request_recompute

            request_recompute(photo.patient)
        photo_pk = photo.pk
        transaction.on_commit(lambda: _delete_stored_file(name, photo_pk))
    return photo


def _delete_stored_file(name: str, photo_pk: int) -> None:
    if not name:
        return
    try:
        default_storage.delete(name)
    except Exception:  # noqa: BLE001 - the row is removed; the orphan sweep deletes the file later
        # Ids only in the log (the stored name is random): no patient data.
        logger.warning("stored file of removed photo id %s not deleted now; sweep_orphan_files will", photo_pk,
                       exc_info=True)


# --- the analysis result -------------------------------------------------------------------

_UNCHECKED: Any = object()


@transaction.atomic
def photo_record_analysis(
    *, photo_id: int, result: dict[str, Any] | None, error: str = "", baseline_id: Any = _UNCHECKED,
) -> Photo:
    """Store the analysis on the photo and, per measured area, its wrinkle index.

    Observations are written only for the areas the photo's view measures and only when
    the photo was usable; they replace the photo's earlier ones (a re-run never adds a
    second value, and an analysis against a new baseline replaces the old measurement).
    Nothing is stored for a photo removed or without clinical consent by now, nor for a
    result measured against a baseline that is no longer the view's (`baseline_id`: the
    row id of the baseline the job used, None for none): the change of baseline queued
    the analysis that counts."""
    # The photo row only (of=self): with select_related, PostgreSQL would lock the patient row
    # FOR UPDATE too, and a reading of the patient committing meanwhile, holding the audit
    # head, waited at its foreign-key check for it while this waited for the head.
    photo = Photo.objects.select_for_update(of=("self",)).select_related("patient").get(pk=photo_id)
    stale = ""
    if photo.removed_at is not None:
        stale = "removed"
    elif not photo.consent_clinical:
        stale = "no_clinical_consent"
    elif baseline_id is not _UNCHECKED:
        current = None if photo.is_baseline else baseline_of(photo.patient, photo.view, excluding=photo)
        if (current.pk if current is not None else None) != baseline_id:
            stale = "baseline_changed"
    if stale:
        if stale != "baseline_changed":  # (a newer request is owed then: it stays for the sweep)
            _nothing_owed(photo)
            photo.save(update_fields=["analysis_retry_at", "analysis_attempts"])
        audit.record("photo.analysis", patient=photo.patient, obj=photo, detail={"status": "discarded", "why": stale})
        return photo
    dropped = _drop_measurements(photo)
    written: list[str] = []
    if result is None:
        photo.analysis = {"error": error or "The analysis failed."}
        photo.analysis_status = AnalysisStatus.FAILED
    else:
        photo.analysis = result
        photo.analysis_status = AnalysisStatus.DONE
        usable = bool(result.get("face_found")) and bool((result.get("quality") or {}).get("usable"))
        regions = result.get("regions") or {}
        if usable:
            for region, area in REGION_AREAS.items():
                measured = regions.get(region)
                if area not in photo_rules.VIEW_AREAS[photo.view] or not measured:
                    continue  # a region that is not visible is null: no value, never a guess
                Observation.objects.create(
                    patient=photo.patient, area=area, observed_on=photo.taken_on,
                    kind=ObservationKind.WRINKLE_INDEX, value=float(measured["wrinkle_index"]),
                    source="photo", photo=photo,
                )
                written.append(area)
    _nothing_owed(photo)  # this result (or failure) is what was owed: the sweep leaves the photo
    photo.save(update_fields=["analysis", "analysis_status", "analysis_retry_at", "analysis_attempts"])
    audit.record("photo.analysis", patient=photo.patient, obj=photo, detail={
        "status": photo.analysis_status, "observations": written, "replaced": dropped,
    })
    if written or dropped:  # the measurements changed: the patient's forecast learns from them
        from touchup.maintenance.services.forecasts import request_recompute

        # After the audit event, as signing, readings and removals ask for it: the request
        # row taken before the audit head, while a reading of the same patient held the head
        # and waited for the row, was a deadlock on PostgreSQL (tests/maintenance/test_lock_order.py).
        request_recompute(photo.patient)
    return photo


# --- an analysis is never lost (docs/photos.md) --------------------------------------------

# A photo still owed its analysis this long after the last hand-over is queued again by
# the worker's sweep: its task was never handed over (the process died after the commit,
# Redis was down), or died with its worker (django-tasks' database backend leaves such a
# task RUNNING for good; RQ marks it failed). An analysis takes a second or less, so this
# leaves room for an ordinary queue's wait; a duplicate costs one query (see the task).
ANALYSIS_RETRY_AFTER = dt.timedelta(minutes=5)
# The wait doubles with the request's age (5, 10, 20, 40 minutes...) up to this, so a long
# backlog is not queued over and over.
ANALYSIS_RETRY_AFTER_MAX = dt.timedelta(hours=1)
# Runs started that never finished: a photo that takes its worker down this many times
# (out of memory in the landmark model, say) is recorded as failed rather than retried for
# ever. Only started runs count: a photo merely waiting in a queue, or whose hand-over was
# lost, is never its own fault, so it is queued again for as long as it waits.
ANALYSIS_MAX_STARTS = 3
ANALYSIS_GAVE_UP = ("The analysis did not finish: it stopped {n} times before storing a result (the worker running "
                    "it was stopped). Try the analysis again; if it keeps failing, upload the photo again.")


def analysis_started(photo_id: int) -> bool:
    """The task's first step: count a started run of the photo's owed analysis (committed
    before the analysis, so a worker killed mid-run leaves the count). False when no
    analysis is owed: another run has stored it, or the photo was removed or withdrawn."""
    return bool(Photo.objects.filter(pk=photo_id, analysis_retry_at__isnull=False)
                .update(analysis_attempts=F("analysis_attempts") + 1))


def analysis_not_owed(photo_id: int) -> None:
    """The task found nothing to analyse (photo removed or without clinical consent)."""
    Photo.objects.filter(pk=photo_id).filter(Q(removed_at__isnull=False) | Q(consent_clinical=False)).update(
        analysis_retry_at=None, analysis_attempts=0)


@dataclass
class SweepCounts:
    queued: int = 0  # handed to the queue again
    failed: int = 0  # given up after ANALYSIS_MAX_STARTS runs that never finished

    def __bool__(self) -> bool:
        return bool(self.queued or self.failed)


def requeue_stalled_analyses(*, now: dt.datetime | None = None, batch: int = 500) -> SweepCounts:
    """The worker's sweep: queue again every photo analysis still owed when its
    `analysis_retry_at` has passed, or record it failed once ANALYSIS_MAX_STARTS runs have
    started without finishing. Several workers may sweep at once: each photo is taken by
    one of them with a compare-and-set UPDATE that moves its retry_at (as reminders are
    claimed), committed before the task is handed over. Reads the partial index of owed
    analyses only for what is due: one query when nothing is. Run it outside a transaction."""
    now = now or timezone.now()
    counts = SweepCounts()
    rows = Photo.objects.filter(analysis_retry_at__isnull=False)
    while True:
        due = list(rows.filter(analysis_retry_at__lte=now).order_by("analysis_retry_at")
                   .values_list("pk", "analysis_requested_at", "analysis_attempts")[:batch])
        for pk, requested_at, started in due:
            if started >= ANALYSIS_MAX_STARTS:
                if _give_up(pk, now):
                    counts.failed += 1
                continue
            # Twice the request's age, so 5, 10, 20, 40 minutes... apart, at most an hour.
            age = now - (requested_at or now)
            wait = min(max(age, ANALYSIS_RETRY_AFTER), ANALYSIS_RETRY_AFTER_MAX)
            if rows.filter(pk=pk, analysis_retry_at__lte=now).update(analysis_retry_at=now + wait):
                if not _hand_over_analysis(pk):
                    return counts  # the queue is down: the rest wait for the next sweep
                counts.queued += 1
        # Every row read is now due later or no longer owed (taken here or by another
        # worker), so the next batch holds only rows not seen yet.
        if len(due) < batch:
            break
    return counts


def _give_up(photo_id: int, now: dt.datetime) -> bool:
    """Record the owed analysis failed (with the reason the photo page shows), if it is
    still due and still at the limit under the row lock; False when another worker or a
    result got there first."""
    with transaction.atomic():
        photo = (Photo.objects.select_for_update()
                 .filter(pk=photo_id, analysis_retry_at__lte=now, analysis_attempts__gte=ANALYSIS_MAX_STARTS).first())
        if photo is None:
            return False
        # Ids only in the log: no patient data.
        logger.warning("analysis of photo row %s given up after %s runs that did not finish", photo_id,
                       photo.analysis_attempts)
        photo_record_analysis(photo_id=photo_id, result=None,
                              error=ANALYSIS_GAVE_UP.format(n=photo.analysis_attempts))
    return True


def photo_analyse_again(*, actor: Any, photo: Photo) -> bool:
    """A clinician asks for the photo to be analysed again (after a failure): owed and
    queued as a new request, audited as `photo.reanalyse` (why "asked"). False, with
    nothing written, when its analysis is already under way."""
    with transaction.atomic():
        photo = _lock_view(photo)
        _refuse_removed(photo, "there is nothing to analyse")
        if not photo.consent_clinical:
            raise InvalidInput("photo", "The patient withdrew clinical use of this photo, so it is not analysed.")
        if photo.analysis_retry_at is not None:
            return False
        _measure_again(actor, [photo], why="asked")
    return True
