"""Uploading a photo over the API (multipart): the same gate and the same service as the staff
capture page, real JPEG, PNG and HEIC bytes, the new photo answered as GET /api/photos/{id}
answers it, refused files and fields named with nothing left on disk or in the database,
a duplicate refused as a 409 naming the photo on file."""

import datetime as dt
import hashlib
import json
import re

import pytest
from django.utils import timezone
from PIL import Image

from tests.photos import images
from tests.photos.conftest import stored_files
from touchup.clinic import tokens
from touchup.clinic.models import AuditEvent, Photo, Treatment

from .helpers import Api, Multipart, counts, fields_named


def today() -> dt.date:
    return timezone.localdate()


def form(data: bytes | None = None, **fields) -> Multipart:
    body = Multipart(photo=images.jpeg() if data is None else data, view="frown", consent_clinical=True)
    body.update(fields)
    return body


def upload(client, patient, body: Multipart):
    return client.post(f"/patients/{patient.public_id}/photos", body)


def queued_analyses():
    from django_tasks_db.models import DBTaskResult

    return sorted(r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(
        task_path="touchup.jobs.photo_analysis.analyze_photo"))


def nothing_kept(media, before):
    """No file under the media directory, no photo row, no upload audited, no row of any kind."""
    assert stored_files(media) == []
    assert not Photo.objects.exists()
    assert not AuditEvent.objects.filter(action="photo.upload").exists()
    assert queued_analyses() == []
    assert counts() == before


# --- it works -------------------------------------------------------------------------


def test_a_phone_jpeg_is_kept_clean_and_answered_as_the_photo_reads(api_clinician, patient, media, clinician):
    original = images.jpeg(images.face_rgb()[:400], orientation=6)  # EXIF: held upright, with GPS
    r = upload(api_clinician, patient, form(original, taken_on=today().isoformat(), consent_marketing=True))
    assert r.status_code == 201, r.json()
    body = r.json()
    photo = Photo.objects.get()
    assert body["id"] == str(photo.public_id) and body["patient_id"] == str(patient.public_id)
    assert (body["view"], body["taken_on"], body["state"], body["is_baseline"]) == (
        "frown", today().isoformat(), "kept", True)
    assert body["consent"] == body["consent_at_upload"] == {"clinical": True, "marketing": True}
    assert (body["width"], body["height"], body["uploaded_by"]) == (400, 512, "alice")  # orientation applied
    assert body["analysis"] == {"status": "pending", "problems": [], "regions": {}, "error": None}
    assert body["removal"] is None and body["consent_history"] == [] and body["treatment_id"] is None
    # The same schema and values as reading it back.
    assert api_clinician.get(f"/photos/{photo.public_id}").json() == body
    # Stored clean, through the service: one file, no EXIF/GPS, hashed, never named in the answer.
    [stored] = stored_files(media)
    data = stored.read_bytes()
    assert photo.sha256 == hashlib.sha256(original).hexdigest()
    assert photo.file_sha256 == hashlib.sha256(data).hexdigest()
    assert b"Exif" not in data and b"PhoneMaker" not in data
    assert photo.file.name not in r.content.decode() and stored.stem not in r.content.decode()
    assert queued_analyses() == [photo.pk]
    event = AuditEvent.objects.get(action="photo.upload")
    assert event.actor == clinician and event.object_id == str(photo.public_id) and event.ip == "198.51.100.7"
    assert "Dana" not in str(event.detail)
    assert AuditEvent.objects.filter(action="patient.view", actor=clinician, outcome="ok").exists()


def test_a_png_is_kept_as_jpeg_and_the_second_of_a_view_is_not_the_baseline(api_manager, patient, media):
    first = upload(api_manager, patient, form(images.png()))
    second = upload(api_manager, patient, form(images.jpeg(images.shifted(dx=4)), consent_clinical="on"))
    assert (first.status_code, second.status_code) == (201, 201), (first.json(), second.json())
    assert first.json()["is_baseline"] and not second.json()["is_baseline"]
    assert first.json()["consent"] == {"clinical": True, "marketing": False}  # marketing: not unless given
    assert first.json()["uploaded_by"] == "mona"  # a manager keeps photos, as on the capture page
    with Image.open(stored_files(media)[0]) as im:
        assert im.format == "JPEG"
    assert len(stored_files(media)) == 2


def test_an_iphone_heic_is_checked_kept_as_a_clean_jpeg_and_analysed(api_clinician, patient, media):
    # A phone-sized, not smiling face as an iPhone HEIC held upright (irot and EXIF
    # orientation 6, GPS): the quality check and the analysis both read the stored JPEG.
    from touchup.jobs.photo_analysis import analyze_photo

    original = images.heic_phone_photo()
    r = upload(api_clinician, patient, form(original, keep_only_if_usable=True))
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["width"], body["height"]) == (1536, 1800)  # upright, turned once
    photo = Photo.objects.get()
    [stored] = stored_files(media)
    data = stored.read_bytes()
    assert photo.sha256 == hashlib.sha256(original).hexdigest()
    assert photo.file_sha256 == hashlib.sha256(data).hexdigest()
    assert data[:3] == b"\xff\xd8\xff" and b"Exif" not in data and b"PhoneMaker" not in data
    assert queued_analyses() == [photo.pk]

    analyze_photo.call(photo.pk, only_if_pending=True)
    analysed = api_clinician.get(f"/photos/{photo.public_id}").json()
    assert analysed["analysis"]["status"] == "done", analysed["analysis"]
    assert analysed["analysis"]["problems"] == []
    assert analysed["analysis"]["regions"]["glabella"]["wrinkle_index"] is not None


def test_taken_on_defaults_to_today_and_the_photo_joins_the_cycle(api_clinician, patient, signed, media):
    r = upload(api_clinician, patient, form())
    assert r.status_code == 201, r.json()
    assert r.json()["taken_on"] == today().isoformat()
    assert r.json()["treatment_id"] == str(signed.public_id)  # the latest treatment on or before it


def test_a_treatment_of_the_patient_may_be_named(api_clinician, patient, clinician, signed, media):
    older = Treatment.objects.create(
        patient=patient, clinic=patient.clinic, clinician=clinician, treated_on=today() - dt.timedelta(days=90),
        product="onabotulinumtoxinA", indication="glabellar_lines")
    r = upload(api_clinician, patient, form(treatment_id=str(older.public_id)))
    assert r.status_code == 201, r.json()
    assert r.json()["treatment_id"] == str(older.public_id)


def test_a_token_uploads_and_a_session_upload_needs_csrf(clinician, patient, media):
    secret = tokens.token_create(actor=clinician, name="camera").secret
    assert upload(Api(token=secret), patient, form()).status_code == 201
    before = counts()
    r = upload(Api(clinician, csrf=True), patient, form(images.jpeg(images.shifted(dx=4))))
    assert r.status_code == 403 and counts() == before and len(stored_files(media)) == 1


# --- refused files: 422 on "photo", nothing left ------------------------------------------


@pytest.mark.parametrize(("data", "words"), [
    (images.png_bomb(), "megapixels"),
    (images.truncated(), "truncated"),
    (images.polyglot(), "ZIP archive"),
    (images.NOT_AN_IMAGE, "not a JPEG, PNG or HEIC"),
    (images.jpeg(comment=b"<script>alert(1)</script>"), "script"),
    (b"", "empty"),
    (images.heic_bomb(), "megapixels"),
    (images.heic_truncated(), "HEIC photo is cut short (truncated)"),
    (images.heic_polyglot(), "ZIP archive"),
])
def test_bad_files_are_refused_on_the_photo_field_and_leave_nothing(api_clinician, patient, media, data, words):
    before = counts()
    r = upload(api_clinician, patient, form(data))
    assert r.status_code == 422, r.json()
    [error] = r.json()["detail"]
    assert error["field"] == "photo" and words.lower() in error["message"].lower()
    nothing_kept(media, before)


def test_more_than_25_mb_is_refused(api_clinician, patient, media):
    before = counts()
    r = upload(api_clinician, patient, form(images.jpeg() + b"\x00" * (25 * 1024 * 1024)))
    assert r.status_code == 422 and r.json()["detail"] == [
        {"field": "photo", "message": "The file is larger than 25 MB; it was not stored."}]
    nothing_kept(media, before)


# --- refused fields: 422 naming the field, nothing left -------------------------------------


def later(days):
    return (today() + dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(("change", "field"), [
    ({"photo": None}, "photo"),
    ({"view": None}, "view"),
    ({"view": "profile"}, "view"),
    ({"consent_clinical": None}, "consent_clinical"),
    ({"consent_clinical": False}, "consent_clinical"),
    ({"consent_clinical": "maybe"}, "consent_clinical"),
    ({"consent_marketing": "perhaps"}, "consent_marketing"),
    ({"taken_on": later(1)}, "taken_on"),
    ({"taken_on": "1950-01-01"}, "taken_on"),
    ({"taken_on": "yesterday"}, "taken_on"),
    ({"taken_on": "2026-02-30"}, "taken_on"),
    ({"treatment_id": "not-a-uuid"}, "treatment_id"),
    ({"treatment_id": "00000000-0000-4000-8000-000000000000"}, "treatment_id"),
])
def test_bad_fields_are_named_and_leave_nothing(api_clinician, patient, media, change, field):
    before = counts()
    r = upload(api_clinician, patient, form(**change))
    assert r.status_code == 422, r.json()
    assert fields_named(r) == {field}, r.json()
    nothing_kept(media, before)


def test_another_patients_or_clinics_treatment_is_refused_on_its_field(
        api_clinician, patient, signed, clinician, clinic_a, clinic_b, other_clinician, media, denied):
    from touchup.clinic.services.patients import patient_create

    robin = patient_create(actor=clinician, clinic=clinic_a, given_name="Robin", family_name="Second",
                           birth_date=dt.date(1979, 8, 1), sex="male")
    theirs = Treatment.objects.create(
        patient=patient_create(actor=other_clinician, clinic=clinic_b, given_name="Bea", family_name="Other",
                               birth_date=dt.date(1980, 1, 1), sex="female"),
        clinic=clinic_b, clinician=other_clinician, treated_on=today(), product="onabotulinumtoxinA",
        indication="glabellar_lines")
    before = counts()
    with denied():
        not_robins = upload(api_clinician, robin, form(treatment_id=str(signed.public_id)))
        not_ours = upload(api_clinician, patient, form(treatment_id=str(theirs.public_id)))
    assert not_robins.status_code == 422 and not_robins.json()["detail"] == [
        {"field": "treatment_id", "message": "belongs to another patient"}]
    assert not_ours.status_code == 422 and fields_named(not_ours) == {"treatment_id"}
    nothing_kept(media, before)
    assert AuditEvent.objects.filter(outcome="denied", action="treatment.not_found").exists()


# --- duplicates ---------------------------------------------------------------------------


def test_the_same_file_again_is_a_409_naming_the_photo_on_file(api_clinician, patient, media):
    data = images.jpeg()
    first = upload(api_clinician, patient, form(data))
    assert first.status_code == 201
    before, files = counts(), stored_files(media)
    again = upload(api_clinician, patient, form(data, view="at_rest"))
    assert again.status_code == 409, again.json()
    assert again.json()["photo_id"] == first.json()["id"]
    assert "already on file" in again.json()["detail"] and "not stored twice" in again.json()["detail"]
    assert counts() == before and stored_files(media) == files and Photo.objects.count() == 1


# --- the gate -------------------------------------------------------------------------------


def test_another_clinic_gets_404_audited_and_nothing_kept(api_other, patient, other_clinician, media, denied):
    before = counts()
    with denied():
        r = upload(api_other, patient, form())
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    nothing_kept(media, before)
    assert list(AuditEvent.objects.filter(outcome="denied", actor=other_clinician)
                .values_list("action", flat=True)) == ["patient.not_found"]


def test_an_unknown_patient_is_the_same_404(api_clinician, media, denied):
    with denied():
        r = api_clinician.post("/patients/00000000-0000-4000-8000-000000000000/photos", form())
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    assert stored_files(media) == []


def test_the_front_desk_gets_403_audited_and_nothing_kept(api_front_desk, patient, front_desk, media, denied):
    before = counts()
    with denied():
        r = upload(api_front_desk, patient, form())
    assert r.status_code == 403 and r.json() == {"detail": "Your role (Front desk) cannot do this."}
    nothing_kept(media, before)
    assert AuditEvent.objects.filter(outcome="denied", actor=front_desk, action="access.role").exists()


def test_anonymous_callers_get_401_and_nothing_kept(anon, patient, media):
    before = counts()
    r = upload(anon, patient, form())
    assert r.status_code == 401 and r.json() == {"detail": "Authentication required."}
    nothing_kept(media, before)


def test_the_openapi_document_describes_the_upload(api_clinician):
    schema = api_clinician.get("/openapi.json").json()
    op = schema["paths"]["/api/patients/{patient_id}/photos"]["post"]
    content = op["requestBody"]["content"]
    assert list(content) == ["multipart/form-data"]
    form_schema = content["multipart/form-data"]["schema"]
    assert set(form_schema["required"]) >= {"photo", "view", "consent_clinical"}
    assert form_schema["properties"]["photo"]["format"] == "binary"
    assert {"201", "401", "403", "404", "409", "422"} <= set(op["responses"])
    # Every reference in the document resolves.
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(schema))
    assert refs and set(refs) <= set(schema["components"]["schemas"])


def test_keep_only_if_usable_runs_the_quality_check_first(api_clinician, patient, media):
    before = counts()
    # The small library portrait: the face is too small for a reliable index.
    r = upload(api_clinician, patient, form(keep_only_if_usable=True))
    assert r.status_code == 422, r.json()
    [error] = r.json()["detail"]
    assert error["field"] == "photo" and "was not kept" in error["message"] and "too small" in error["message"]
    # The check itself is audited (it may read the view's baseline); nothing else is left.
    assert AuditEvent.objects.filter(action="photo.check", patient_id_ref=patient.pk).count() == 1
    nothing_kept(media, {**before, "audit_ok": before["audit_ok"] + 1})
    # Without the flag the same file is kept; its analysis will list the problem.
    assert upload(api_clinician, patient, form()).status_code == 201


def test_keep_only_if_usable_checks_the_expression_the_view_asks_for(api_clinician, patient, media):
    # The astronaut at phone size is sharp and big enough, and smiles broadly: refused as a
    # frown photo, with the sentence saying what to do, and kept as a smile-and-squint one.
    smiling = images.jpeg(images.usable_face())
    before = counts()
    r = upload(api_clinician, patient, form(smiling, view="frown", keep_only_if_usable=True))
    assert r.status_code == 422, r.json()
    [error] = r.json()["detail"]
    assert error["field"] == "photo"
    assert "The mouth is smiling; for this view relax the mouth (no smile)." in error["message"]
    nothing_kept(media, {**before, "audit_ok": before["audit_ok"] + 1})
    r = upload(api_clinician, patient, form(smiling, view="smile_squint", keep_only_if_usable=True))
    assert r.status_code == 201, r.json()
