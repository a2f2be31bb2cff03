"""Photos over the API: reading a photo and a patient's photos (removed ones as tombstones,
withdrawn clinical use as not measured), consent changes, removal and the baseline, with
the gate, the roles, field-named errors and nothing half-written."""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.photos.conftest import stored_files
from touchup.clinic import tokens
from touchup.clinic.models import AuditEvent, Observation, Photo, PhotoConsentChange

from .helpers import Api, counts, fields_named

NOTE = "Filed under Dana by mistake, belongs to Ms Q. Zebedee"


def consent(client, photo, **body):
    return client.post(f"/photos/{photo.public_id}/consent",
                       {"consent": "marketing", "given": True, "channel": "phone", **body})


def remove(client, photo, **body):
    return client.post(f"/photos/{photo.public_id}/remove", {"reason": "duplicate", **body})


def queued_analyses():
    from django_tasks_db.models import DBTaskResult

    return sorted(r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(
        task_path="touchup.jobs.photo_analysis.analyze_photo"))


def queued_recomputes():
    from django_tasks_db.models import DBTaskResult

    return sorted(r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(
        task_path="touchup.maintenance.tasks.recompute_forecasts"))


def clear_queue():
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


# --- reading ----------------------------------------------------------------------------


def test_a_photo_is_read_with_its_state_consents_and_analysis(api_manager, photo, later_photo, manager):
    r = api_manager.get(f"/photos/{photo.public_id}")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["id"] == str(photo.public_id) and body["patient_id"] == str(photo.patient.public_id)
    assert (body["view"], body["state"], body["is_baseline"]) == ("frown", "kept", True)
    assert body["consent"] == body["consent_at_upload"] == {"clinical": True, "marketing": False}
    assert body["consent_history"] == [] and body["removal"] is None
    assert body["analysis"]["status"] == "done"
    assert body["analysis"]["regions"]["glabella"] == {"wrinkle_index": 0.31, "grade": 1}
    assert body["analysis"]["regions"]["forehead"] is None  # not visible: null, never a guess
    assert (body["width"], body["height"], body["uploaded_by"]) == (photo.width, photo.height, "alice")
    # No file, no storage name: the API never serves a photo's bytes.
    assert "file" not in body and photo.file.name not in r.content.decode()
    event = AuditEvent.objects.filter(action="photo.view", actor=manager).latest("id")
    assert event.object_id == str(photo.public_id) and event.detail == {"purpose": "api"}


def test_a_patients_photos_are_listed_newest_first(api_clinician, patient, photo, later_photo):
    r = api_clinician.get(f"/patients/{patient.public_id}/photos")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["count"] == 2
    assert [p["id"] for p in body["items"]] == [str(later_photo.public_id), str(photo.public_id)]
    assert [p["is_baseline"] for p in body["items"]] == [False, True]
    assert api_clinician.get(f"/patients/{patient.public_id}/photos", view="smile_squint").json()["count"] == 0
    r = api_clinician.get(f"/patients/{patient.public_id}/photos", view="sideways")
    assert r.status_code == 422 and fields_named(r) == {"view"}


def test_a_removed_photo_is_read_as_a_tombstone_and_listed_only_when_asked(
        api_clinician, patient, photo, later_photo, denied):
    with denied():
        assert remove(api_clinician, later_photo, reason="other", note=NOTE).status_code == 200
    r = api_clinician.get(f"/photos/{later_photo.public_id}")
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "removed" and body["analysis"] is None and not body["is_baseline"]
    assert body["removal"]["reason"] == "other" and body["removal"]["removed_by"] == "alice"
    assert body["removal"]["reason_label"] == "Other (say why)" and body["removal"]["removed_at"]
    assert NOTE not in r.content.decode() and "Zebedee" not in r.content.decode()

    listed = api_clinician.get(f"/patients/{patient.public_id}/photos").json()
    assert [p["id"] for p in listed["items"]] == [str(photo.public_id)]
    listed = api_clinician.get(f"/patients/{patient.public_id}/photos", include_removed="true").json()
    assert [(p["id"], p["state"]) for p in listed["items"]] == [
        (str(later_photo.public_id), "removed"), (str(photo.public_id), "kept")]


def test_withdrawn_clinical_use_is_read_as_not_measured(api_clinician, photo, later_photo):
    assert consent(api_clinician, later_photo, consent="clinical", given=False).status_code == 200
    body = api_clinician.get(f"/photos/{later_photo.public_id}").json()
    assert body["state"] == "clinical_use_withdrawn" and body["analysis"] is None
    assert body["consent"] == {"clinical": False, "marketing": False}
    assert body["consent_at_upload"] == {"clinical": True, "marketing": False}


# --- consent --------------------------------------------------------------------------------


def test_a_consent_change_is_recorded_with_how_it_was_given(api_clinician, photo, clinician):
    r = consent(api_clinician, photo, consent="marketing", given=True, channel="in_writing")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["changed"] is True
    assert body["photo"]["consent"] == {"clinical": True, "marketing": True}
    assert body["photo"]["consent_at_upload"] == {"clinical": True, "marketing": False}
    [row] = body["photo"]["consent_history"]
    assert (row["consent"], row["given_before"], row["given_after"], row["channel"], row["changed_by"]) == (
        "marketing", False, True, "in_writing", "alice")
    change = PhotoConsentChange.objects.get()
    assert (change.photo_id, change.channel, change.changed_by) == (photo.pk, "in_writing", clinician)
    event = AuditEvent.objects.get(action="photo.consent")
    assert event.actor == clinician and event.detail["channel"] == "in_writing" and event.detail["to"] is True

    # Asking for what already stands writes nothing, and says so.
    before = counts()
    r = consent(api_clinician, photo, consent="marketing", given=True, channel="phone")
    assert r.status_code == 200 and r.json()["changed"] is False
    assert len(r.json()["photo"]["consent_history"]) == 1
    assert counts() == before

    r = consent(api_clinician, photo, consent="marketing", given=False, channel="phone")
    assert [h["given_after"] for h in r.json()["photo"]["consent_history"]] == [True, False]
    assert r.json()["photo"]["consent_at_upload"] == {"clinical": True, "marketing": False}


def test_withdrawing_clinical_use_of_the_baseline_hands_it_on(
        api_manager, patient, photo, later_photo, django_capture_on_commit_callbacks):
    clear_queue()
    with django_capture_on_commit_callbacks(execute=True):
        r = consent(api_manager, photo, consent="clinical", given=False, channel="in_person")
    assert r.status_code == 200, r.json()
    body = r.json()["photo"]
    assert body["state"] == "clinical_use_withdrawn" and not body["is_baseline"] and body["analysis"] is None
    # Its measurement is gone and the forecast recomputes; the later photo is the baseline now.
    assert list(Observation.objects.values_list("photo_id", flat=True)) == [later_photo.pk]
    assert queued_recomputes() == [patient.pk]
    later = api_manager.get(f"/photos/{later_photo.public_id}").json()
    assert later["is_baseline"] and later["analysis"]["status"] == "pending"
    assert queued_analyses() == [later_photo.pk]
    # The photo stays in the record: given again, it is analysed again.
    clear_queue()
    r = consent(api_manager, photo, consent="clinical", given=True, channel="in_person")
    assert r.json()["photo"]["state"] == "kept" and r.json()["photo"]["analysis"]["status"] == "pending"
    assert queued_analyses() == [photo.pk]


@pytest.mark.parametrize(("change", "field"), [
    ({"consent": "research"}, "consent"),
    ({"consent": None}, "consent"),
    ({"given": "yes"}, "given"),
    ({"given": 1}, "given"),
    ({"given": "true"}, "given"),
    ({"given": None}, "given"),
    ({"channel": "portal"}, "channel"),
    ({"channel": "email"}, "channel"),
    ({"channel": ""}, "channel"),
    ({"channel": "phone\x00"}, "channel"),
])
def test_bad_consent_changes_name_the_field_and_write_nothing(api_clinician, photo, change, field):
    before = counts()
    r = consent(api_clinician, photo, **change)
    assert r.status_code == 422, r.json()
    assert fields_named(r) == {field}
    assert counts() == before
    photo.refresh_from_db()
    assert photo.consent_clinical and not photo.consent_marketing


@pytest.mark.parametrize("missing", ["consent", "given", "channel"])
def test_every_part_of_a_consent_change_is_needed(api_clinician, photo, missing):
    body = {"consent": "marketing", "given": True, "channel": "phone"}
    del body[missing]
    before = counts()
    r = api_clinician.post(f"/photos/{photo.public_id}/consent", body)
    assert r.status_code == 422 and fields_named(r) == {missing}
    assert counts() == before


# --- removal --------------------------------------------------------------------------------


def test_removal_leaves_a_tombstone_deletes_the_file_after_commit_and_hands_the_baseline_on(
        api_clinician, patient, photo, later_photo, media, clinician, django_capture_on_commit_callbacks):
    assert len(stored_files(media)) == 2
    clear_queue()
    with django_capture_on_commit_callbacks(execute=True):
        r = remove(api_clinician, photo, reason="wrong_view")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["state"] == "removed" and body["analysis"] is None and not body["is_baseline"]
    assert body["removal"]["reason"] == "wrong_view" and body["removal"]["reason_label"] == "Taken in error: wrong view"
    assert len(stored_files(media)) == 1  # its file is gone, the other photo's stays
    photo.refresh_from_db()
    assert photo.removed_by == clinician and photo.file.name == ""
    assert list(Observation.objects.values_list("photo_id", flat=True)) == [later_photo.pk]
    assert queued_recomputes() == [patient.pk]
    assert api_clinician.get(f"/photos/{later_photo.public_id}").json()["is_baseline"]
    event = AuditEvent.objects.get(action="photo.remove")
    assert event.actor == clinician and event.detail["reason"] == "wrong_view"
    # Never served again: the staff file view answers 404 for it.
    web = Client()
    web.force_login(clinician)
    assert web.get(reverse("photo_file", args=[photo.public_id])).status_code == 404


def test_the_removal_note_is_never_echoed_audited_or_logged(api_clinician, photo, caplog, denied):
    caplog.set_level(logging.DEBUG)
    with denied():
        too_long = remove(api_clinician, photo, reason="other", note=NOTE + "x" * 500)
        r = remove(api_clinician, photo, reason="other", note=NOTE)
    assert too_long.status_code == 422 and fields_named(too_long) == {"note"}
    assert r.status_code == 200, r.json()
    photo.refresh_from_db()
    assert photo.removal_note == NOTE  # kept with the clinic
    for response in (too_long, r, api_clinician.get(f"/photos/{photo.public_id}")):
        assert "Zebedee" not in response.content.decode()
    assert not any("Zebedee" in str(e.detail) for e in AuditEvent.objects.all())
    assert "Zebedee" not in caplog.text and not any("Zebedee" in str(rec.args) for rec in caplog.records)


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": None}, "reason"),
    ({"reason": ""}, "reason"),
    ({"reason": "bored"}, "reason"),
    ({"reason": "other"}, "note"),
    ({"reason": "other", "note": "   "}, "note"),
    ({"reason": "other", "note": "x" * 501}, "note"),
    ({"reason": "other", "note": "why\x00"}, "note"),
    ({"reason": "duplicate", "note": 5}, "note"),
])
def test_bad_removals_name_the_field_and_change_nothing(api_clinician, photo, media, body, field):
    before = counts()
    r = api_clinician.post(f"/photos/{photo.public_id}/remove", body)
    assert r.status_code == 422, r.json()
    assert fields_named(r) == {field}
    assert counts() == before
    photo.refresh_from_db()
    assert photo.removed_at is None and photo.is_baseline and photo.file.name
    assert len(stored_files(media)) == 1 and Observation.objects.filter(photo=photo).exists()


def test_a_removal_needs_a_reason(api_clinician, photo):
    before = counts()
    r = api_clinician.post(f"/photos/{photo.public_id}/remove", {})
    assert r.status_code == 422 and fields_named(r) == {"reason"}
    assert counts() == before


def test_a_removed_photo_is_a_conflict_for_every_change(api_clinician, photo, later_photo, denied):
    with denied():
        assert remove(api_clinician, later_photo, reason="erasure_request").status_code == 200
    before = counts()
    for r in (remove(api_clinician, later_photo),
              consent(api_clinician, later_photo),
              api_clinician.post(f"/photos/{later_photo.public_id}/baseline")):
        assert r.status_code == 409, r.json()
        assert "was removed on" in r.json()["detail"]
    assert counts() == before
    later_photo.refresh_from_db()
    assert later_photo.removal_reason == "erasure_request" and not later_photo.consent_marketing


# --- baseline -------------------------------------------------------------------------------


def test_a_clinician_makes_a_photo_the_baseline_and_the_view_is_analysed_again(
        api_clinician, photo, later_photo, clinician):
    clear_queue()
    r = api_clinician.post(f"/photos/{later_photo.public_id}/baseline")
    assert r.status_code == 200, r.json()
    assert r.json()["is_baseline"] and r.json()["analysis"]["status"] == "pending"
    assert not api_clinician.get(f"/photos/{photo.public_id}").json()["is_baseline"]
    assert queued_analyses() == sorted([photo.pk, later_photo.pk])
    event = AuditEvent.objects.filter(action="photo.baseline").latest("id")
    assert event.actor == clinician and event.object_id == str(later_photo.public_id)
    assert event.detail["automatic"] is False and event.detail["previous"] == str(photo.public_id)
    # Again: nothing changes, nothing is queued.
    clear_queue()
    before = counts()
    assert api_clinician.post(f"/photos/{later_photo.public_id}/baseline").status_code == 200
    assert counts() == before and queued_analyses() == []


def test_a_photo_without_clinical_use_cannot_be_the_baseline(api_clinician, photo, later_photo):
    assert consent(api_clinician, later_photo, consent="clinical", given=False).status_code == 200
    before = counts()
    r = api_clinician.post(f"/photos/{later_photo.public_id}/baseline")
    assert r.status_code == 409 and "withdrew clinical use" in r.json()["detail"]
    assert counts() == before


# --- the gate -------------------------------------------------------------------------------


def every_operation(client, patient, photo):
    return [
        client.get(f"/patients/{patient.public_id}/photos"),
        client.get(f"/photos/{photo.public_id}"),
        consent(client, photo),
        remove(client, photo),
        client.post(f"/photos/{photo.public_id}/baseline"),
    ]


def test_another_clinic_gets_404_for_everything_and_is_audited(
        api_other, patient, photo, later_photo, other_clinician, denied):
    before = counts()
    with denied():
        responses = every_operation(api_other, patient, later_photo)
    assert [r.status_code for r in responses] == [404] * 5
    assert all(r.json() == {"detail": "Not found."} for r in responses)
    assert counts() == before
    actions = list(AuditEvent.objects.filter(outcome="denied", actor=other_clinician).values_list("action", flat=True))
    assert actions == ["patient.not_found"] + ["photo.not_found"] * 4


def test_an_unknown_photo_is_the_same_404(api_clinician, denied):
    with denied():
        r = api_clinician.get("/photos/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    assert AuditEvent.objects.filter(outcome="denied", action="photo.not_found").exists()


def test_the_front_desk_gets_403_for_everything(api_front_desk, patient, photo, front_desk, denied):
    before = counts()
    with denied():
        responses = every_operation(api_front_desk, patient, photo)
    assert [r.status_code for r in responses] == [403] * 5
    assert responses[2].json() == {"detail": "Your role (Front desk) cannot do this."}
    assert counts() == before
    assert AuditEvent.objects.filter(outcome="denied", actor=front_desk, action="access.role").count() == 5


def test_a_manager_records_consent_and_removes_but_does_not_choose_the_baseline(
        api_manager, photo, later_photo, manager, denied):
    before = counts()
    with denied():
        r = api_manager.post(f"/photos/{later_photo.public_id}/baseline")
    assert r.status_code == 403 and counts() == before
    assert AuditEvent.objects.filter(outcome="denied", actor=manager, action="access.role").exists()
    assert consent(api_manager, later_photo).status_code == 200
    with denied():
        assert remove(api_manager, later_photo).status_code == 200


def test_anonymous_callers_get_401(anon, patient, photo):
    before = counts()
    responses = every_operation(anon, patient, photo)
    assert [r.status_code for r in responses] == [401] * 5
    assert counts() == before


def test_a_token_works_and_a_session_write_needs_csrf(clinician, photo):
    secret = tokens.token_create(actor=clinician, name="photos").secret
    assert consent(Api(token=secret), photo).json()["changed"] is True
    session = Api(clinician, csrf=True)
    before = counts()
    r = consent(session, photo, given=False)
    assert r.status_code == 403 and counts() == before


def test_a_password_login_session_reads_photos(clinician, patient, photo):
    """The staff pages' login works for reads without a CSRF token."""
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="alice", password=PASSWORD)
    r = client.get(f"/api/photos/{photo.public_id}")
    assert r.status_code == 200 and r.json()["state"] == "kept"
    assert Photo.objects.get(pk=photo.pk).is_baseline


# --- analysing again -------------------------------------------------------------------------


def test_a_clinician_has_a_failed_analysis_run_again_once(api_clinician, api_manager, api_other, later_photo,
                                                          clinician, denied):
    Photo.objects.filter(pk=later_photo.pk).update(analysis_status="failed", analysis={"error": "OSError: gone"},
                                                   analysis_retry_at=None)
    clear_queue()
    r = api_clinician.post(f"/photos/{later_photo.public_id}/reanalyse")
    assert r.status_code == 200, r.json()
    assert r.json()["queued"] is True and r.json()["photo"]["analysis"]["status"] == "pending"
    assert queued_analyses() == [later_photo.pk]
    event = AuditEvent.objects.filter(action="photo.reanalyse").latest("id")
    assert event.actor == clinician and event.detail["photos"] == [str(later_photo.public_id)]
    assert event.detail["why"] == "asked"
    # Asked again while it is under way: nothing more is queued or written.
    before = counts()
    r = api_clinician.post(f"/photos/{later_photo.public_id}/reanalyse")
    assert r.status_code == 200 and r.json()["queued"] is False
    assert queued_analyses() == [later_photo.pk] and counts() == before
    with denied():
        assert api_manager.post(f"/photos/{later_photo.public_id}/reanalyse").status_code == 403
        assert api_other.post(f"/photos/{later_photo.public_id}/reanalyse").status_code == 404


def test_a_removed_photo_is_not_analysed_again(api_clinician, later_photo):
    assert remove(api_clinician, later_photo).status_code == 200
    before = counts()
    r = api_clinician.post(f"/photos/{later_photo.public_id}/reanalyse")
    assert r.status_code == 409 and "nothing to analyse" in r.json()["detail"]
    assert counts() == before
