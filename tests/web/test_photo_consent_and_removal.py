"""The staff photo page: consent changes recorded on the patient's instruction (with their
history), removal with a reason, and who may do which (gate, roles, POST only, CSRF)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.photos import images
from tests.photos.conftest import media, stored_files  # noqa: F401 - fixture
from touchup.clinic.models import AuditEvent, Photo, PhotoConsentChange
from touchup.clinic.services import photos as svc


@pytest.fixture
def kept(media, clinician, patient):
    return svc.photo_upload(actor=clinician, patient=patient, view="frown", upload=images.jpeg(),
                            consent_clinical=True)


@pytest.fixture
def second(kept, clinician, patient):
    return svc.photo_upload(actor=clinician, patient=patient, view="frown", upload=images.jpeg(images.shifted(dx=5)),
                            consent_clinical=True)


def remove(client, photo, **data):
    return client.post(reverse("photo_remove", args=[photo.public_id]), data)


def test_a_consent_change_on_the_patients_instruction_is_recorded_and_shown(as_clinician, patient, kept, second):
    r = as_clinician.post(reverse("photo_consent", args=[second.public_id]),
                          {"change": "clinical:no", "channel": "phone"})
    assert r.status_code == 302
    page = as_clinician.get(r["Location"]).content.decode()
    assert "Clinical use withdrawn, recorded by phone on the patient&#x27;s instruction" in page
    assert "no longer measured" in page
    assert "alice, on the patient's instruction by phone" in page  # the history row
    assert "data-not-measured" in page and "Give clinical use again" in page
    second.refresh_from_db()
    assert not second.consent_clinical
    change = PhotoConsentChange.objects.get()
    assert (change.consent, change.given_after, change.channel) == ("clinical", False, "phone")
    listing = as_clinician.get(reverse("photos", args=[patient.public_id])).content.decode()
    assert "Clinical use withdrawn · not measured" in listing
    # Not offered for comparison any more.
    compare = as_clinician.get(reverse("photo_compare", args=[patient.public_id]),
                               {"a": kept.public_id, "b": second.public_id})
    assert compare.status_code == 400
    aligned = as_clinician.get(reverse("photo_aligned", args=[second.public_id, kept.public_id]))
    assert aligned.status_code == 404


def test_a_consent_change_needs_to_say_how_the_patient_asked(as_clinician, kept):
    r = as_clinician.post(reverse("photo_consent", args=[kept.public_id]), {"change": "marketing:yes"})
    assert r.status_code == 400
    assert "Say how the patient gave the instruction." in r.content.decode()
    r = as_clinician.post(reverse("photo_consent", args=[kept.public_id]), {"channel": "phone"})
    assert r.status_code == 400 and "Choose the change the patient asked for." in r.content.decode()
    assert not PhotoConsentChange.objects.exists()


def test_removing_a_photo_from_its_page(as_clinician, patient, kept, second, media, django_capture_on_commit_callbacks):
    assert "Remove this photo" in as_clinician.get(reverse("photo", args=[kept.public_id])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = remove(as_clinician, kept, reason="wrong_patient")
    assert r.status_code == 302 and r["Location"] == reverse("photos", args=[patient.public_id])
    page = as_clinician.get(r["Location"]).content.decode()
    assert "Photo removed (taken in error: wrong patient)" in page
    assert "The frown baseline is now the photo of" in page
    assert "Removed photos" in page and reverse("photo", args=[kept.public_id]) in page
    assert reverse("photo_file", args=[kept.public_id]) not in page
    assert len(stored_files(media)) == 1
    # The tombstone: no picture, who and why.
    tomb = as_clinician.get(reverse("photo", args=[kept.public_id])).content.decode()
    assert "data-removed" in tomb and "Taken in error: wrong patient" in tomb
    assert reverse("photo_file", args=[kept.public_id]) not in tomb and "Remove this photo" not in tomb
    assert as_clinician.get(reverse("photo_file", args=[kept.public_id])).status_code == 404


@pytest.mark.parametrize(("data", "words"), [
    ({}, "Choose why the photo is removed."),
    ({"reason": "other", "note": ""}, "Say why the photo is removed."),
])
def test_a_removal_without_a_reason_is_explained_and_changes_nothing(as_clinician, kept, media, data, words):
    r = remove(as_clinician, kept, **data)
    assert r.status_code == 400
    html = r.content.decode()
    assert words in html and "<details open" in html
    assert Photo.objects.get(pk=kept.pk).removed_at is None and len(stored_files(media)) == 1


def test_removing_twice_says_so(as_clinician, kept, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        remove(as_clinician, kept, reason="duplicate")
    r = remove(as_clinician, kept, reason="duplicate")
    assert r.status_code == 302
    assert "was removed on" in as_clinician.get(r["Location"]).content.decode()
    assert AuditEvent.objects.filter(action="photo.remove").count() == 1


# --- the gate -------------------------------------------------------------------------------


def test_front_desk_may_not_change_consent_or_remove(as_front_desk, kept, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert remove(as_front_desk, kept, reason="duplicate").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        r = as_front_desk.post(reverse("photo_consent", args=[kept.public_id]),
                               {"change": "clinical:no", "channel": "phone"})
    assert r.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert as_front_desk.post(reverse("photo_baseline", args=[kept.public_id])).status_code == 403
    kept.refresh_from_db()
    assert kept.removed_at is None and kept.consent_clinical and len(stored_files(media)) == 1
    assert AuditEvent.objects.filter(action="access.role", outcome="denied").count() == 3


def test_a_manager_may_remove_and_record_consent_but_not_choose_the_baseline(as_manager, kept, second):
    page = as_manager.get(reverse("photo", args=[second.public_id])).content.decode()
    assert "Remove this photo" in page and "Record the change" in page
    assert "Make this the baseline" not in page
    assert as_manager.post(reverse("photo_baseline", args=[second.public_id])).status_code == 403
    assert not Photo.objects.get(pk=second.pk).is_baseline
    r = as_manager.post(reverse("photo_consent", args=[second.public_id]), {"change": "marketing:yes", "channel": "in_writing"})
    assert r.status_code == 302
    assert remove(as_manager, second, reason="erasure_request").status_code == 302
    assert Photo.objects.get(pk=second.pk).removal_reason == "erasure_request"


def test_another_clinic_gets_404_and_nothing_changes(as_other_clinician, kept, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert remove(as_other_clinician, kept, reason="duplicate").status_code == 404
    assert AuditEvent.objects.filter(action="photo.not_found", outcome="denied",
                                     detail__id=str(kept.public_id)).exists()
    assert Photo.objects.get(pk=kept.pk).removed_at is None and len(stored_files(media)) == 1


def test_a_patient_account_cannot_remove_or_record_on_staff_pages(client, django_user_model, patient, kept, media):
    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    assert client.login(username="dana", password=PASSWORD)
    assert remove(client, kept, reason="erasure_request").status_code == 403
    r = client.post(reverse("photo_consent", args=[kept.public_id]), {"change": "clinical:no", "channel": "phone"})
    assert r.status_code == 403
    assert Photo.objects.get(pk=kept.pk).removed_at is None and len(stored_files(media)) == 1


def test_changes_are_post_only_and_need_the_csrf_token(clinician, kept, media):
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.login(username=clinician.username, password=PASSWORD)
    for name in ("photo_remove", "photo_consent", "photo_baseline"):
        assert csrf_client.get(reverse(name, args=[kept.public_id])).status_code == 405
    assert csrf_client.post(reverse("photo_remove", args=[kept.public_id]), {"reason": "duplicate"}).status_code == 403
    assert Photo.objects.get(pk=kept.pk).removed_at is None and len(stored_files(media)) == 1


def test_a_removed_photo_is_never_served(as_clinician, client, django_user_model, patient, kept,
                                         django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        remove(as_clinician, kept, reason="erasure_request")
    for url in (reverse("photo_file", args=[kept.public_id]), reverse("photo_file", args=[kept.public_id]) + "?size=thumb",
                reverse("photo_status", args=[kept.public_id])):
        with django_capture_on_commit_callbacks(execute=True):
            assert as_clinician.get(url).status_code == 404
    assert AuditEvent.objects.filter(action="photo.removed", outcome="denied").count() == 3
