"""The patient gives or withdraws the clinical and marketing use of each of their own
photos in the portal; another patient's photo is 404 (audited), staff are refused, and
changes are POST only with the CSRF token."""

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.photos import images
from tests.photos.conftest import media, stored_files  # noqa: F401 - fixture
from touchup.clinic.models import AuditEvent, Observation, Photo, PhotoConsentChange
from touchup.clinic.services import photos as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(dana, clinician, media):
    photo = svc.photo_upload(actor=clinician, patient=dana, view="frown", consent_clinical=True,
                             upload=images.jpeg(images.usable_face()))
    svc.photo_record_analysis(photo_id=photo.pk, result={
        "face_found": True, "quality": {"usable": True, "problems": []},
        "regions": {"glabella": {"wrinkle_index": 0.3, "grade": 1}}})
    return photo


@pytest.fixture
def theirs(erin, clinician, media):
    return svc.photo_upload(actor=clinician, patient=erin, view="frown", consent_clinical=True,
                            upload=images.jpeg(images.shifted(dx=7)))


def consent(client, photo, consent, given):
    return client.post(f"/portal/photos/{photo.public_id}/consent/", {"consent": consent, "given": given})


def test_the_patient_allows_and_withdraws_marketing_use(as_dana, dana, mine):
    page = as_dana.get("/portal/photos/").content.decode()
    assert f"/portal/photos/{mine.public_id}/" in page
    page = as_dana.get(f"/portal/photos/{mine.public_id}/").content.decode()
    assert "Allow marketing use" in page and "Stop using this photo for my treatment" in page
    assert AuditEvent.objects.filter(action="portal.view", detail__page="photo", object_id=str(mine.public_id)).exists()

    r = consent(as_dana, mine, "marketing", "yes")
    assert r.status_code == 302 and r["Location"] == f"/portal/photos/{mine.public_id}/"
    page = as_dana.get(r["Location"]).content.decode()
    assert "may use this photo in its marketing" in page and "Withdraw marketing use" in page
    assert "marketing use given by you." in " ".join(page.split())
    assert consent(as_dana, mine, "marketing", "no").status_code == 302
    mine.refresh_from_db()
    assert not mine.consent_marketing
    assert [(c.consent, c.given_after, c.channel, c.changed_by_id) for c in PhotoConsentChange.objects.all()] == [
        ("marketing", True, "portal", dana.user_id), ("marketing", False, "portal", dana.user_id)]


def test_withdrawing_clinical_use_keeps_the_photo_but_stops_measuring_it(
        as_dana, dana, mine, media, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    assert Observation.objects.filter(photo=mine).exists()
    with django_capture_on_commit_callbacks(execute=True):
        r = consent(as_dana, mine, "clinical", "no")
    assert r.status_code == 302
    page = as_dana.get(r["Location"]).content.decode()
    assert "no longer use this photo for your treatment" in page and "Use it for my treatment again" in page
    mine.refresh_from_db()
    assert not mine.consent_clinical and mine.removed_at is None and len(stored_files(media)) == 1
    assert not Observation.objects.filter(photo=mine).exists()
    assert DBTaskResult.objects.filter(task_path="touchup.maintenance.tasks.recompute_forecasts").exists()
    assert "Not used for your treatment" in as_dana.get("/portal/photos/").content.decode()
    # Still her photo to see.
    assert as_dana.get(f"/photos/{mine.public_id}/file/").status_code == 200


def test_a_repeat_changes_nothing_and_a_bad_post_is_explained(as_dana, mine):
    r = consent(as_dana, mine, "marketing", "no")
    assert r.status_code == 302 and "already your choice" in as_dana.get(r["Location"]).content.decode()
    r = consent(as_dana, mine, "research", "yes")
    assert r.status_code == 400 and "Choose one of the buttons" in r.content.decode()
    assert not PhotoConsentChange.objects.exists()


def test_another_patients_photo_is_404_and_unchanged(as_dana, theirs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert as_dana.get(f"/portal/photos/{theirs.public_id}/").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert consent(as_dana, theirs, "clinical", "no").status_code == 404
    theirs.refresh_from_db()
    assert theirs.consent_clinical and not PhotoConsentChange.objects.exists()
    denied = AuditEvent.objects.filter(action="portal.photo.not_found", outcome="denied")
    assert denied.count() == 2 and all(e.detail["id"] == str(theirs.public_id) for e in denied)


def test_staff_cannot_use_the_patients_consent_page(client, clinician, mine):
    assert client.login(username=clinician.username, password=PASSWORD)
    assert client.get(f"/portal/photos/{mine.public_id}/").status_code == 403
    assert consent(client, mine, "marketing", "yes").status_code == 403
    assert not Photo.objects.get(pk=mine.pk).consent_marketing


def test_changes_are_post_only_and_need_the_csrf_token(dana, mine):
    c = Client(enforce_csrf_checks=True)
    assert c.login(username="dana", password=PASSWORD)
    assert c.get(f"/portal/photos/{mine.public_id}/consent/").status_code == 405
    assert consent(c, mine, "marketing", "yes").status_code == 403
    assert not Photo.objects.get(pk=mine.pk).consent_marketing


def test_a_removed_photo_is_listed_as_removed_and_not_reachable(
        as_dana, dana, mine, clinician, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_remove(actor=clinician, photo=mine, reason="erasure_request")
    page = as_dana.get("/portal/photos/").content.decode()
    assert "Removed photos" in page and "as you asked" in page
    assert f"/photos/{mine.public_id}/file/" not in page
    with django_capture_on_commit_callbacks(execute=True):
        assert as_dana.get(f"/portal/photos/{mine.public_id}/").status_code == 404
        assert as_dana.get(f"/photos/{mine.public_id}/file/").status_code == 404
        assert consent(as_dana, mine, "marketing", "yes").status_code == 404
