"""Keeping a photo: accepted by content, cleaned, stored under a random name, audited,
analysis queued; refused files leave nothing behind."""

import datetime as dt
import hashlib
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import AuditEvent, Photo, Treatment
from touchup.clinic.services import photos as svc

from . import images
from .conftest import stored_files


def upload(actor, patient, data, **kw):
    kw.setdefault("view", "frown")
    kw.setdefault("consent_clinical", True)
    return svc.photo_upload(actor=actor, patient=patient, upload=io.BytesIO(data), **kw)


def test_a_phone_jpeg_is_stored_clean_rotated_and_audited(media, clinician, patient):
    # 512 x 400 landscape with EXIF orientation 6: the phone was held upright.
    original = images.jpeg(images.face_rgb()[:400], orientation=6)
    photo = upload(clinician, patient, original, taken_on=dt.date.today())

    assert (photo.width, photo.height) == (400, 512)  # orientation applied
    assert photo.sha256 == hashlib.sha256(original).hexdigest()
    files = stored_files(media)
    assert len(files) == 1
    stored = files[0].read_bytes()
    assert photo.file_sha256 == hashlib.sha256(stored).hexdigest()
    assert svc.photo_bytes(photo) == stored
    # Nothing of the camera's metadata survives: no EXIF at all, so no GPS.
    assert b"Exif" not in stored and b"PhoneMaker" not in stored
    with Image.open(io.BytesIO(stored)) as im:
        assert im.format == "JPEG" and im.size == (400, 512)
        assert not im.getexif()
    # A random name: nothing about the patient in the path.
    assert "Dana" not in photo.file.name and "Example" not in photo.file.name
    assert photo.file.name.startswith("photos/") and len(files[0].stem) == 32

    assert photo.is_baseline  # the first photo of a view is its baseline
    assert photo.analysis_status == "pending"
    event = AuditEvent.objects.get(action="photo.upload")
    assert event.object_id == str(photo.public_id) and event.patient_id_ref == patient.pk
    assert event.detail["sha256"] == photo.sha256
    assert "Dana" not in str(event.detail)


def test_an_iphone_heic_is_stored_as_a_clean_upright_jpeg(media, clinician, patient):
    # 512 x 400 as shot, held upright: irot and EXIF orientation 6, with GPS in its EXIF.
    original = images.heic(images.face_rgb()[:400], orientation=6)
    assert original[4:12] == b"ftypheic" and b"PhoneMaker" in original
    photo = upload(clinician, patient, original, taken_on=dt.date.today())

    assert (photo.width, photo.height) == (400, 512)  # turned once, not twice
    # The same convention as for a JPEG: sha256 of the bytes as uploaded, file_sha256 of
    # the clean copy that is stored.
    assert photo.sha256 == hashlib.sha256(original).hexdigest()
    [stored] = stored_files(media)
    data = stored.read_bytes()
    assert photo.file_sha256 == hashlib.sha256(data).hexdigest() and svc.photo_bytes(photo) == data
    assert data[:3] == b"\xff\xd8\xff" and stored.suffix == ".jpg"
    assert b"Exif" not in data and b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (400, 512) and not im.getexif()
        upright = np.asarray(im.convert("RGB")).astype(int)
    # Upright: the face as it was before being laid on its side.
    assert np.abs(upright - np.rot90(images.face_rgb()[:400], k=-1)).mean() < 6
    assert photo.analysis_status == "pending"
    assert AuditEvent.objects.get(action="photo.upload").detail["sha256"] == photo.sha256


def test_upload_queues_the_analysis_in_the_same_transaction(media, clinician, patient):
    from django_tasks_db.models import DBTaskResult

    photo = upload(clinician, patient, images.jpeg())
    job = DBTaskResult.objects.get()
    assert job.task_path == "touchup.jobs.photo_analysis.analyze_photo"
    assert job.args_kwargs == {"args": [photo.pk], "kwargs": {"only_if_pending": True}}
    # ...and the row says it is owed, in case that task is lost (docs/photos.md).
    assert photo.analysis_status == "pending" and photo.analysis_attempts == 0
    assert photo.analysis_retry_at == photo.analysis_requested_at + svc.ANALYSIS_RETRY_AFTER


def test_png_is_accepted_and_stored_as_jpeg(media, clinician, patient):
    photo = upload(clinician, patient, images.png())
    assert svc.photo_bytes(photo)[:3] == b"\xff\xd8\xff"


def test_the_second_photo_of_a_view_is_not_the_baseline(media, clinician, patient):
    first = upload(clinician, patient, images.jpeg())
    second = upload(clinician, patient, images.jpeg(images.shifted(dx=4)))
    other_view = upload(clinician, patient, images.jpeg(images.shifted(dx=8)), view="smile_squint")
    assert first.is_baseline and not second.is_baseline and other_view.is_baseline
    svc.photo_set_baseline(actor=clinician, photo=second)
    first.refresh_from_db()
    assert not first.is_baseline and Photo.objects.get(pk=second.pk).is_baseline


def test_the_photo_joins_the_latest_cycle_before_it(media, clinician, patient):
    draft = Treatment.objects.create(
        patient=patient, clinic=patient.clinic, clinician=clinician, treated_on=dt.date.today() - dt.timedelta(days=30),
        product="onabotulinumtoxinA", indication="glabellar_lines",
    )
    later = upload(clinician, patient, images.jpeg(), taken_on=dt.date.today())
    earlier = upload(clinician, patient, images.jpeg(images.shifted(dx=3)), taken_on=dt.date.today() - dt.timedelta(days=40))
    assert later.treatment == draft
    assert earlier.treatment is None


def test_duplicate_upload_is_refused_clearly_and_stores_nothing_new(media, clinician, patient):
    data = images.jpeg()
    first = upload(clinician, patient, data)
    with pytest.raises(svc.DuplicatePhoto) as exc:
        upload(clinician, patient, data, view="at_rest")
    assert exc.value.existing == first
    assert "already on file" in exc.value.message
    assert Photo.objects.count() == 1 and len(stored_files(media)) == 1


@pytest.mark.parametrize(("data", "words"), [
    (images.NOT_AN_IMAGE, "not a JPEG, PNG or HEIC"),
    (images.polyglot(), "ZIP archive"),
    (images.truncated(), "truncated"),
    (images.png_bomb(), "megapixels"),
    (images.jpeg(comment=b"<script>alert(1)</script>"), "script"),
    (b"", "empty"),
    (images.heic_polyglot(), "ZIP archive"),
    (images.heic_truncated(), "HEIC photo is cut short (truncated)"),
    (images.heic_bomb(), "30000 x 30000 pixels, more than the 40 megapixels"),
])
def test_bad_files_are_refused_with_the_reason_and_leave_nothing(media, clinician, patient, data, words):
    with pytest.raises(InvalidInput) as exc:
        upload(clinician, patient, data)
    assert exc.value.field == "photo"
    assert words.lower() in exc.value.message.lower()
    assert stored_files(media) == []
    assert not Photo.objects.exists()
    assert not AuditEvent.objects.filter(action="photo.upload").exists()


def test_more_than_25_mb_is_refused_without_reading_it_all(media, clinician, patient):
    big = images.jpeg() + b"\x00" * (25 * 1024 * 1024)
    with pytest.raises(InvalidInput, match="larger than 25 MB"):
        upload(clinician, patient, big)
    assert stored_files(media) == []


@pytest.mark.parametrize(("kw", "field"), [
    ({"consent_clinical": False}, "consent_clinical"),
    ({"view": "profile"}, "view"),
    ({"taken_on": dt.date.today() + dt.timedelta(days=1)}, "taken_on"),
    ({"taken_on": "yesterday"}, "taken_on"),
    ({"taken_on": dt.date(1950, 1, 1)}, "taken_on"),
])
def test_bad_fields_name_the_field(media, clinician, patient, kw, field):
    with pytest.raises(InvalidInput) as exc:
        upload(clinician, patient, images.jpeg(), **kw)
    assert exc.value.field == field
    assert stored_files(media) == [] and not Photo.objects.exists()


def test_another_patients_treatment_is_refused(media, clinician, patient, clinic_a):
    from touchup.clinic.services.patients import patient_create

    other = patient_create(actor=clinician, clinic=clinic_a, given_name="Eve", family_name="Other",
                           birth_date=dt.date(1990, 1, 1), sex="female")
    t = Treatment.objects.create(patient=other, clinic=clinic_a, clinician=clinician, treated_on=dt.date.today(),
                                 product="onabotulinumtoxinA", indication="glabellar_lines")
    with pytest.raises(InvalidInput) as exc:
        upload(clinician, patient, images.jpeg(), treatment=t)
    assert exc.value.field == "treatment"


def test_a_photo_named_for_a_draft_discarded_since_is_kept_with_its_days_cycle(media, clinician, patient):
    """The caller read the draft before another tab discarded it: the photo is kept (as the
    discard keeps the photos it unlinks), not refused by the foreign key at the commit."""
    from touchup.clinic.services.treatments import treatment_discard

    earlier = Treatment.objects.create(patient=patient, clinic=patient.clinic, clinician=clinician,
                                       treated_on=dt.date.today() - dt.timedelta(days=90),
                                       product="onabotulinumtoxinA", indication="glabellar_lines",
                                       status="signed", signed_at=dt.datetime.now(dt.UTC))
    draft = Treatment.objects.create(patient=patient, clinic=patient.clinic, clinician=clinician,
                                     treated_on=dt.date.today(), product="onabotulinumtoxinA",
                                     indication="glabellar_lines")
    stale = Treatment.objects.get(pk=draft.pk)
    treatment_discard(actor=clinician, treatment=draft)
    photo = upload(clinician, patient, images.jpeg(), treatment=stale)
    assert Photo.objects.get(pk=photo.pk).treatment_id == earlier.pk


@pytest.mark.django_db(transaction=True)
def test_the_file_is_removed_when_the_database_refuses_the_row(media, clinician, patient):
    # An uploader whose row does not exist: the foreign key fails when the transaction
    # commits, after the file was written. The file must go again. (A treatment that does
    # not exist is not refused: see _keep_cycle_current.)
    from django.contrib.auth import get_user_model
    from django.db import IntegrityError

    ghost = get_user_model()(pk=987654, username="ghost")
    with pytest.raises(IntegrityError):
        upload(ghost, patient, images.jpeg())
    assert stored_files(media) == []
    assert not Photo.objects.exists()


def test_marketing_consent_is_given_and_withdrawn_per_photo(media, clinician, patient):
    photo = upload(clinician, patient, images.jpeg(), consent_marketing=False)
    assert photo.consent_clinical and not photo.consent_marketing
    svc.photo_set_consent(actor=clinician, photo=photo, consent="marketing", given=True, channel="in_person")
    assert Photo.objects.get(pk=photo.pk).consent_marketing
    svc.photo_set_consent(actor=clinician, photo=photo, consent="marketing", given=False, channel="phone")
    assert not Photo.objects.get(pk=photo.pk).consent_marketing
    assert AuditEvent.objects.filter(action="photo.consent").count() == 2


def test_a_tampered_stored_file_is_not_served(media, clinician, patient):
    photo = upload(clinician, patient, images.jpeg())
    path = stored_files(media)[0]
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(OSError, match="does not match"):
        svc.photo_bytes(photo)
    assert default_storage.exists(photo.file.name)


def test_orphan_files_left_by_a_crash_are_swept(media, clinician, patient):
    import os
    import time

    kept = upload(clinician, patient, images.jpeg())
    old_orphan = media / "photos" / ("a" * 32 + ".jpg")
    new_orphan = media / "photos" / ("b" * 32 + ".jpg")
    old_orphan.write_bytes(images.jpeg())
    new_orphan.write_bytes(images.jpeg())
    two_hours_ago = time.time() - 7200
    os.utime(old_orphan, (two_hours_ago, two_hours_ago))
    os.utime(media / kept.file.name, (two_hours_ago, two_hours_ago))

    assert svc.sweep_orphan_files() == [f"photos/{old_orphan.name}"]
    # The kept photo and an upload possibly still in flight stay.
    assert sorted(p.name for p in stored_files(media)) == sorted([new_orphan.name, (media / kept.file.name).name])
