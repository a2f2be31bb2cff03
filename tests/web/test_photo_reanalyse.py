"""A failed analysis on the staff photo page: the reason, and "Try the analysis again" for
clinicians (gate, roles, POST only, CSRF, audited) which queues it as a new request."""

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.photos import images
from tests.photos.conftest import media  # noqa: F401 - fixture
from touchup.clinic.models import AuditEvent, Observation, Photo
from touchup.clinic.services import photos as svc
from touchup.jobs.photo_analysis import analyze_photo

TASK = "touchup.jobs.photo_analysis.analyze_photo"


@pytest.fixture
def failed(media, clinician, patient):
    """A kept photo whose analysis failed for real: its stored file no longer matches its hash."""
    photo = svc.photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                             upload=images.jpeg(images.neutral_face()))
    good = svc.photo_bytes(photo)
    with default_storage.open(photo.file.name, "wb") as fh:
        fh.write(good[:-100])  # a truncated copy
    with pytest.raises(OSError):
        analyze_photo.call(photo.pk, only_if_pending=True)
    with default_storage.open(photo.file.name, "wb") as fh:
        fh.write(good)  # (the storage is back for what follows)
    photo.refresh_from_db()
    assert photo.analysis_status == "failed" and photo.analysis_retry_at is None
    return photo


def reanalyse(client, photo):
    return client.post(reverse("photo_reanalyse", args=[photo.public_id]))


def _tasks():
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(task_path=TASK, status="READY")


def test_a_clinician_sees_why_and_tries_the_analysis_again(as_clinician, clinician, failed):
    page = as_clinician.get(reverse("photo", args=[failed.public_id])).content.decode()
    assert "The analysis failed: OSError: the analysis could not run." in page
    assert "Try the analysis again" in page and reverse("photo_reanalyse", args=[failed.public_id]) in page
    _tasks().delete()

    r = reanalyse(as_clinician, failed)
    assert r.status_code == 302 and r["Location"] == reverse("photo", args=[failed.public_id])
    page = as_clinician.get(r["Location"]).content.decode()
    assert "The photo is being analysed again" in page and "data-analysis-pending" in page
    assert "Try the analysis again" not in page
    row = Photo.objects.get(pk=failed.pk)
    assert (row.analysis_status, row.analysis_attempts) == ("pending", 0) and row.analysis_retry_at is not None
    [task] = _tasks()
    assert task.args_kwargs == {"args": [failed.pk], "kwargs": {"only_if_pending": True}}
    event = AuditEvent.objects.get(action="photo.reanalyse")
    assert event.actor_id == clinician.pk and event.detail["why"] == "asked"
    assert event.detail["photos"] == [str(failed.public_id)]
    assert AuditEvent.objects.filter(action="photo.view", detail__purpose="reanalyse").exists()

    # Asked twice (two tabs): nothing more is queued.
    r = reanalyse(as_clinician, failed)
    assert "already under way" in as_clinician.get(r["Location"]).content.decode()
    assert _tasks().count() == 1 and AuditEvent.objects.filter(action="photo.reanalyse").count() == 1

    assert analyze_photo.call(failed.pk, only_if_pending=True) == "done"
    assert Observation.objects.filter(photo=failed).count() == 1
    page = as_clinician.get(reverse("photo", args=[failed.public_id])).content.decode()
    assert "Good quality." in page


def test_the_sweeps_reason_and_the_button_in_the_polled_panel(as_clinician, failed):
    Photo.objects.filter(pk=failed.pk).update(analysis={"error": svc.ANALYSIS_GAVE_UP.format(n=3)})
    panel = as_clinician.get(reverse("photo_status", args=[failed.public_id])).content.decode()
    assert "it stopped 3 times before storing a result" in panel
    assert "Try the analysis again" in panel and "csrfmiddlewaretoken" in panel
    assert "hx-get" not in panel  # no more polling


def test_a_manager_sees_the_reason_but_may_not_ask_again(as_manager, failed, django_capture_on_commit_callbacks):
    page = as_manager.get(reverse("photo", args=[failed.public_id])).content.decode()
    assert "The analysis failed" in page and "Try the analysis again" not in page
    with django_capture_on_commit_callbacks(execute=True):  # (a refusal is audited after the rollback)
        assert reanalyse(as_manager, failed).status_code == 403
    assert Photo.objects.get(pk=failed.pk).analysis_status == "failed"
    assert AuditEvent.objects.filter(action="access.role", outcome="denied",
                                     detail__permission="photo.reanalyse").exists()


def test_front_desk_another_clinic_and_a_patient_may_not(as_front_desk, failed, client, django_user_model, patient,
                                                          other_clinician, django_capture_on_commit_callbacks):
    assert reanalyse(as_front_desk, failed).status_code == 403
    as_front_desk.logout()
    assert client.login(username=other_clinician.username, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):  # (a refusal is audited after the rollback)
        assert reanalyse(client, failed).status_code == 404
    assert AuditEvent.objects.filter(action="photo.not_found", outcome="denied",
                                     detail__id=str(failed.public_id)).exists()
    client.logout()
    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    assert client.login(username="dana", password=PASSWORD)
    assert reanalyse(client, failed).status_code == 403
    assert Photo.objects.get(pk=failed.pk).analysis_status == "failed"
    assert not AuditEvent.objects.filter(action="photo.reanalyse").exists()


def test_post_only_with_the_csrf_token(clinician, failed):
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.login(username=clinician.username, password=PASSWORD)
    assert csrf_client.get(reverse("photo_reanalyse", args=[failed.public_id])).status_code == 405
    assert reanalyse(csrf_client, failed).status_code == 403
    assert Photo.objects.get(pk=failed.pk).analysis_status == "failed"


def test_a_photo_withdrawn_from_clinical_use_is_not_analysed_again(as_clinician, clinician, failed):
    svc.photo_set_consent(actor=clinician, photo=failed, consent="clinical", given=False, channel="phone")
    r = reanalyse(as_clinician, failed)
    assert r.status_code == 302
    assert "withdrew clinical use of this photo, so it is not analysed" in as_clinician.get(r["Location"]).content.decode()
    assert not AuditEvent.objects.filter(action="photo.reanalyse").exists()
