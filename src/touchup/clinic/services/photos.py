"""Photos: check, keep, consent, baseline, and the analysis result.

A photo is judged by its bytes (touchup.vision.decode): anything that is not a complete,
plain JPEG or PNG within the limits is refused with the decoder's reason, and nothing is
left behind, neither a file nor a row. What is stored is a clean re-encoded JPEG under a
random name (orientation applied, EXIF and GPS gone), through Django's storage API, so
the same code writes to the local disk or to S3-compatible storage.

The file is written before the row because storage is not transactional; if the row's
transaction fails, the file is removed again. The analysis runs later in a worker
(touchup.jobs.photo_analysis), which hands its result to `photo_record_analysis`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from touchup.vision.decode import MAX_BYTES, DecodedImage, ImageRejected, clean_jpeg, decode_image

from .. import audit
from ..errors import InvalidInput
from ..models import AnalysisStatus, Observation, ObservationKind, Patient, Photo, PhotoView, Treatment

# Which areas each view measures. Only the view made for an area writes that area's
# wrinkle index: a resting glabella and a frowning one are different numbers, and mixing
# them in one series would make the wear-off forecast read noise as change. The at-rest
# photo is analysed and shown, but feeds no series.
VIEW_AREAS: dict[str, tuple[str, ...]] = {
    PhotoView.AT_REST: (),
    PhotoView.FROWN: ("glabella",),
    PhotoView.BROWS_RAISED: ("forehead",),
    PhotoView.SMILE_SQUINT: ("crows_feet",),
    PhotoView.NECK_TENSED: ("platysma",),
}

# Region of the analysis result → observation area (DESIGN.md areas).
REGION_AREAS = {"forehead": "forehead", "glabella": "glabella", "crows_feet": "crows_feet", "platysma": "platysma"}

PHOTO_DIR = "photos"


class DuplicatePhoto(InvalidInput):
    """The very same file is already on this patient's record."""

    def __init__(self, existing: Photo):
        super().__init__(
            "photo",
            f"This exact photo is already on file ({existing.get_view_display().lower()}, "
            f"taken {existing.taken_on:%d %b %Y}); it was not stored twice.",
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


def analyse(data: bytes, baseline: Photo | None) -> dict[str, Any]:
    """Run the vision analysis of one photo file against a stored baseline photo; raises
    InvalidInput (field "photo") for a file that is not a readable photo."""
    # Imported late: the landmark model loads with it, and only workers and checks need it.
    from touchup.vision.analyze import analyze_bytes

    try:
        return analyze_bytes(data, baseline=photo_bytes(baseline) if baseline is not None else None)
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
    moving, fixed = prepare_bytes(data), prepare_bytes(photo_bytes(onto))
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


def photo_check(*, actor: Any, patient: Patient, view: str, data: bytes) -> QualityCheck:
    """The quality check shown before a photo is kept. Stores nothing but the audit event
    (the patient's baseline photo is read to judge the pose)."""
    view = _view(view)
    decode(data)  # refuses exactly what photo_upload refuses, with the same words
    baseline = baseline_of(patient, view)
    result = analyse(data, baseline)
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
    existing = Photo.objects.filter(patient=patient, sha256=img.sha256).first()
    if existing is not None:
        raise DuplicatePhoto(existing)
    if keep_only_if_usable:
        check = photo_check(actor=actor, patient=patient, view=view, data=data)
        if check.problems:
            raise QualityRefused(check.problems)
    clean = clean_jpeg(img)
    name = default_storage.save(f"{PHOTO_DIR}/{secrets.token_hex(16)}.jpg", ContentFile(clean))
    try:
        with transaction.atomic():
            first_of_view = not Photo.objects.filter(patient=patient, view=view).exists()
            photo = Photo.objects.create(
                patient=patient, treatment=treatment or cycle_for(patient, taken_on), view=view,
                taken_on=taken_on, uploaded_by=actor, file=name, sha256=img.sha256,
                file_sha256=hashlib.sha256(clean).hexdigest(), width=img.width, height=img.height,
                consent_clinical=True, consent_marketing=bool(consent_marketing),
                # The first photo of a view is the reference the later ones are aligned to.
                is_baseline=first_of_view,
            )
            audit.record("photo.upload", actor=actor, patient=patient, obj=photo, detail={
                "view": view, "sha256": img.sha256, "baseline": first_of_view,
                "consent_marketing": photo.consent_marketing,
            })
            # The database task backend writes the job in this same transaction, so a
            # kept photo always has its analysis queued (a Redis backend at scale would
            # want transaction.on_commit here instead).
            from touchup.jobs.photo_analysis import analyze_photo

            analyze_photo.enqueue(photo.pk)
    except IntegrityError:
        default_storage.delete(name)
        existing = Photo.objects.filter(patient=patient, sha256=img.sha256).first()
        if existing is not None:  # the same file, uploaded twice at the same moment
            raise DuplicatePhoto(existing) from None
        raise
    except BaseException:
        default_storage.delete(name)
        raise
    return photo


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


@transaction.atomic
def photo_set_consent(*, actor: Any, photo: Photo, consent_marketing: bool) -> Photo:
    """Marketing consent is given or withdrawn per photo; clinical use is why it exists."""
    photo.consent_marketing = bool(consent_marketing)
    photo.save(update_fields=["consent_marketing"])
    audit.record("photo.consent", actor=actor, patient=photo.patient, obj=photo,
                 detail={"consent_marketing": photo.consent_marketing})
    return photo


@transaction.atomic
def photo_set_baseline(*, actor: Any, photo: Photo) -> Photo:
    """Make this photo the reference of its view (later analyses align to it)."""
    old = baseline_of(photo.patient, photo.view, excluding=photo)
    if old is not None:
        old.is_baseline = False
        old.save(update_fields=["is_baseline"])
    photo.is_baseline = True
    photo.save(update_fields=["is_baseline"])
    audit.record("photo.baseline", actor=actor, patient=photo.patient, obj=photo,
                 detail={"previous": str(old.public_id) if old else None})
    return photo


@transaction.atomic
def photo_record_analysis(*, photo_id: int, result: dict[str, Any] | None, error: str = "") -> Photo:
    """Store the analysis on the photo and, once, its wrinkle index per measured area.

    Observations are written only for the areas the photo's view measures, only when the
    photo was usable, and only on the first completed analysis (a re-run does not add a
    second value for the same day)."""
    photo = Photo.objects.select_for_update().select_related("patient").get(pk=photo_id)
    first = photo.analysis_status != AnalysisStatus.DONE
    written: list[str] = []
    if result is None:
        photo.analysis = {"error": error or "The analysis failed."}
        photo.analysis_status = AnalysisStatus.FAILED
    else:
        photo.analysis = result
        photo.analysis_status = AnalysisStatus.DONE
        usable = bool(result.get("face_found")) and bool((result.get("quality") or {}).get("usable"))
        regions = result.get("regions") or {}
        if first and usable:
            for region, area in REGION_AREAS.items():
                measured = regions.get(region)
                if area not in VIEW_AREAS[photo.view] or not measured:
                    continue  # a region that is not visible is null: no value, never a guess
                Observation.objects.create(
                    patient=photo.patient, area=area, observed_on=photo.taken_on,
                    kind=ObservationKind.WRINKLE_INDEX, value=float(measured["wrinkle_index"]),
                    source="photo",
                )
                written.append(area)
    photo.save(update_fields=["analysis", "analysis_status"])
    if written:  # new measurements: the patient's forecast learns from them
        from touchup.maintenance.services.forecasts import request_recompute

        request_recompute(photo.patient)
    audit.record("photo.analysis", patient=photo.patient, obj=photo, detail={
        "status": photo.analysis_status, "observations": written,
    })
    return photo
