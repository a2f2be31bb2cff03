"""After a photo is kept: consent changes (kept for good, with their consequences), removal
(a tombstone, the file deleted only after commit, nothing half-done), and the baseline
(handed on, and the view analysed again against a new one)."""

import datetime as dt
import importlib

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.http import Http404

from tests.conftest import PASSWORD
from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import AuditEvent, Observation, Photo, PhotoConsentChange
from touchup.clinic.services import photos as svc
from touchup.clinic.services.observations import observation_record

from . import images
from .conftest import stored_files
from .test_analysis_result import result

ANALYSE = "touchup.jobs.photo_analysis.analyze_photo"
RECOMPUTE = "touchup.maintenance.tasks.recompute_forecasts"
TODAY = dt.date.today()


def keep(actor, patient, view="frown", *, days_ago=0, dx=0, **kw):
    return svc.photo_upload(actor=actor, patient=patient, view=view, consent_clinical=True,
                            upload=images.jpeg(images.shifted(dx=dx)), taken_on=TODAY - dt.timedelta(days=days_ago), **kw)


def measure(photo, value=0.3):
    """The worker's result for a frown photo: the glabella measured at `value`."""
    return svc.photo_record_analysis(photo_id=photo.pk, result=result(glabella={"wrinkle_index": value, "grade": 1}))


def queued(task_path):
    from django_tasks_db.models import DBTaskResult

    return sorted(r.args_kwargs["args"][0] for r in DBTaskResult.objects.filter(task_path=task_path))


def clear_queue():
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()


@pytest.fixture
def dana_account(django_user_model, patient):
    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    return user


# --- consent -------------------------------------------------------------------------------


def test_every_consent_change_is_kept_with_who_when_and_how(media, clinician, patient, dana_account):
    photo = keep(clinician, patient)
    first = svc.photo_set_consent(actor=dana_account, photo=photo, consent="marketing", given=True, channel="portal")
    second = svc.photo_set_consent(actor=clinician, photo=photo, consent="marketing", given=False, channel="phone")
    # Asking for what already stands writes nothing.
    assert svc.photo_set_consent(actor=clinician, photo=photo, consent="marketing", given=False,
                                 channel="phone") is None

    rows = list(PhotoConsentChange.objects.filter(photo=photo))
    assert rows == [first, second]
    assert [(r.consent, r.given_before, r.given_after, r.channel, r.changed_by) for r in rows] == [
        ("marketing", False, True, "portal", dana_account),
        ("marketing", True, False, "phone", clinician),
    ]
    assert rows[0].changed_at <= rows[1].changed_at
    events = list(AuditEvent.objects.filter(action="photo.consent").order_by("id"))
    assert [(e.actor, e.detail["from"], e.detail["to"], e.detail["channel"]) for e in events] == [
        (dana_account, False, True, "portal"), (clinician, True, False, "phone"),
    ]
    assert all(e.object_id == str(photo.public_id) and "Dana" not in str(e.detail) for e in events)
    photo.refresh_from_db()
    assert photo.consent_clinical and not photo.consent_marketing


@pytest.mark.parametrize(("who", "kw", "field"), [
    ("staff", {"consent": "marketing", "given": True, "channel": "portal"}, "channel"),
    ("staff", {"consent": "marketing", "given": True, "channel": ""}, "channel"),
    ("patient", {"consent": "marketing", "given": True, "channel": "phone"}, "channel"),
    ("staff", {"consent": "research", "given": True, "channel": "phone"}, "consent"),
])
def test_a_change_says_how_it_was_given(media, clinician, patient, dana_account, who, kw, field):
    photo = keep(clinician, patient)
    with pytest.raises(InvalidInput) as exc:
        svc.photo_set_consent(actor=clinician if who == "staff" else dana_account, photo=photo, **kw)
    assert exc.value.field == field
    assert not PhotoConsentChange.objects.exists()


def test_withdrawn_clinical_consent_removes_the_measurements_but_keeps_the_photo(
        media, clinician, patient, django_capture_on_commit_callbacks):
    photo = keep(clinician, patient)
    measure(photo, 0.31)
    graded = observation_record(actor=clinician, patient=patient, area="glabella", kind="fws_grade", value=2)
    assert Observation.objects.filter(photo=photo).count() == 1
    clear_queue()

    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_set_consent(actor=clinician, photo=photo, consent="clinical", given=False, channel="in_person")

    assert list(Observation.objects.all()) == [graded]  # the clinician's grade is not the photo's
    assert queued(RECOMPUTE) == [patient.pk]
    photo.refresh_from_db()
    assert not photo.consent_clinical and not photo.is_baseline and photo.removed_at is None
    # Kept in the record: the file is still there and still served to staff.
    assert svc.photo_bytes(photo) and len(stored_files(media)) == 1
    event = AuditEvent.objects.filter(action="photo.consent").latest("id")
    assert event.detail["observations_removed"] == ["glabella"] and event.detail["was_baseline"]
    # Not measured again: a late result of a queued analysis is not stored.
    measure(photo, 0.5)
    assert not Observation.objects.filter(kind="wrinkle_index").exists()
    assert AuditEvent.objects.filter(action="photo.analysis").latest("id").detail == {
        "status": "discarded", "why": "no_clinical_consent"}


def test_a_baseline_that_loses_clinical_consent_hands_over_to_the_earliest_measurable_photo(
        media, clinician, patient):
    base = keep(clinician, patient, days_ago=10)
    withdrawn = keep(clinician, patient, days_ago=8, dx=2)
    late = keep(clinician, patient, days_ago=5, dx=3)
    middle = keep(clinician, patient, days_ago=6, dx=4)
    other_view = keep(clinician, patient, "brows_raised", days_ago=9, dx=5)
    svc.photo_set_consent(actor=clinician, photo=withdrawn, consent="clinical", given=False, channel="in_writing")
    clear_queue()

    svc.photo_set_consent(actor=clinician, photo=base, consent="clinical", given=False, channel="phone")

    assert svc.baseline_of(patient, "frown") == middle
    assert queued(ANALYSE) == sorted([middle.pk, late.pk])  # the view, against its new baseline
    assert Photo.objects.get(pk=late.pk).analysis_status == "pending"
    assert Photo.objects.get(pk=other_view.pk).is_baseline
    event = AuditEvent.objects.filter(action="photo.baseline").latest("id")
    assert event.object_id == str(middle.public_id) and event.detail["automatic"]
    assert event.detail["why"] == "clinical_consent_withdrawn"


def test_without_a_measurable_photo_the_view_has_no_baseline_until_one_is_kept(media, clinician, patient):
    only = keep(clinician, patient, days_ago=3)
    svc.photo_set_consent(actor=clinician, photo=only, consent="clinical", given=False, channel="in_person")
    assert svc.baseline_of(patient, "frown") is None
    newer = keep(clinician, patient, days_ago=1, dx=3)
    assert newer.is_baseline  # the first photo kept with clinical consent is the baseline again
    clear_queue()
    # Clinical use given again: measured again, against the baseline as it now stands.
    svc.photo_set_consent(actor=clinician, photo=only, consent="clinical", given=True, channel="in_writing")
    only.refresh_from_db()
    assert only.consent_clinical and not only.is_baseline and only.analysis_status == "pending"
    assert queued(ANALYSE) == [only.pk]


def test_clinical_consent_given_again_in_a_view_without_baseline_makes_it_the_baseline(media, clinician, patient):
    only = keep(clinician, patient)
    svc.photo_set_consent(actor=clinician, photo=only, consent="clinical", given=False, channel="in_person")
    clear_queue()
    svc.photo_set_consent(actor=clinician, photo=only, consent="clinical", given=True, channel="in_person")
    assert svc.baseline_of(patient, "frown") == only and queued(ANALYSE) == [only.pk]


# --- removal -------------------------------------------------------------------------------


def test_removal_leaves_a_tombstone_and_deletes_the_file_only_after_commit(
        media, clinician, patient, django_capture_on_commit_callbacks):
    photo = keep(clinician, patient)
    measure(photo)
    (path,) = stored_files(media)
    clear_queue()

    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_remove(actor=clinician, photo=photo, reason="wrong_patient", note="Filed under Dana by mistake")
        assert path.exists()  # not committed yet: the file stays
    assert not path.exists() and stored_files(media) == []

    photo.refresh_from_db()
    assert photo.removed_at is not None and photo.removed_by == clinician
    assert (photo.removal_reason, photo.removal_note) == ("wrong_patient", "Filed under Dana by mistake")
    assert photo.file.name == "" and photo.analysis is None and not photo.is_baseline
    assert photo.sha256  # what was removed stays identifiable
    assert not Observation.objects.exists()
    assert queued(RECOMPUTE) == [patient.pk]
    assert not Photo.objects.kept().exists() and list(Photo.objects.removed()) == [photo]
    event = AuditEvent.objects.get(action="photo.remove")
    assert event.actor == clinician and event.object_id == str(photo.public_id)
    assert event.detail["reason"] == "wrong_patient" and event.detail["observations_removed"] == ["glabella"]
    assert "Dana" not in str(event.detail) and "mistake" not in str(event.detail)  # never the note
    # Never served again, not even to the clinic.
    with pytest.raises(Http404):
        access.photo_for(clinician, photo.public_id, purpose="file")
    assert access.photo_for(clinician, photo.public_id, removed_ok=True) == photo


def test_a_removal_rolled_back_with_its_transaction_changes_nothing(
        media, clinician, patient, django_capture_on_commit_callbacks):
    photo = keep(clinician, patient)
    measure(photo)
    (path,) = stored_files(media)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            svc.photo_remove(actor=clinician, photo=photo, reason="duplicate")
            raise RuntimeError("a later step of the same request failed")
    assert callbacks == []  # the file deletion was never going to run
    assert path.exists()
    photo.refresh_from_db()
    assert photo.removed_at is None and photo.is_baseline and photo.file.name
    assert Observation.objects.filter(photo=photo).count() == 1
    assert not AuditEvent.objects.filter(action="photo.remove").exists()


@pytest.mark.parametrize(("reason", "note", "field"), [
    ("", "", "reason"),
    ("bored", "", "reason"),
    ("other", "   ", "note"),
    ("other", "x" * 501, "note"),
])
def test_a_removal_needs_a_reason(media, clinician, patient, reason, note, field):
    photo = keep(clinician, patient)
    with pytest.raises(InvalidInput) as exc:
        svc.photo_remove(actor=clinician, photo=photo, reason=reason, note=note)
    assert exc.value.field == field
    photo.refresh_from_db()
    assert photo.removed_at is None and len(stored_files(media)) == 1


def test_a_removed_photo_is_not_removed_twice_nor_changed(media, clinician, patient,
                                                         django_capture_on_commit_callbacks):
    photo = keep(clinician, patient)
    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_remove(actor=clinician, photo=photo, reason="erasure_request")
    for change in (
        lambda: svc.photo_remove(actor=clinician, photo=photo, reason="duplicate"),
        lambda: svc.photo_set_consent(actor=clinician, photo=photo, consent="marketing", given=True,
                                      channel="phone"),
        lambda: svc.photo_set_baseline(actor=clinician, photo=photo),
    ):
        with pytest.raises(InvalidInput, match="was removed on"):
            change()
    photo.refresh_from_db()
    assert photo.removal_reason == "erasure_request" and not photo.consent_marketing
    assert AuditEvent.objects.filter(action="photo.remove").count() == 1


def test_removing_the_baseline_hands_it_on_and_measures_the_view_again(
        media, clinician, patient, django_capture_on_commit_callbacks):
    base = keep(clinician, patient, days_ago=5)
    second = keep(clinician, patient, days_ago=3, dx=2)
    third = keep(clinician, patient, days_ago=1, dx=4)
    clear_queue()
    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_remove(actor=clinician, photo=base, reason="wrong_view")
    assert svc.baseline_of(patient, "frown") == second
    assert queued(ANALYSE) == sorted([second.pk, third.pk])
    assert AuditEvent.objects.filter(action="photo.baseline").latest("id").detail["why"] == "baseline_removed"


def test_the_same_file_can_be_kept_again_once_removed(media, clinician, patient, django_capture_on_commit_callbacks):
    data = images.jpeg()
    wrong = svc.photo_upload(actor=clinician, patient=patient, view="at_rest", upload=data, consent_clinical=True)
    with pytest.raises(svc.DuplicatePhoto):
        svc.photo_upload(actor=clinician, patient=patient, view="frown", upload=data, consent_clinical=True)
    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_remove(actor=clinician, photo=wrong, reason="wrong_view")
    right = svc.photo_upload(actor=clinician, patient=patient, view="frown", upload=data, consent_clinical=True)
    assert right.sha256 == wrong.sha256 and right.is_baseline
    assert len(stored_files(media)) == 1


def test_a_file_the_storage_cannot_delete_now_is_swept_later(
        media, clinician, patient, monkeypatch, django_capture_on_commit_callbacks):
    photo = keep(clinician, patient)

    def refuse(self, name):
        raise OSError("the storage is unavailable")

    with monkeypatch.context() as m:
        m.setattr(FileSystemStorage, "delete", refuse)
        with django_capture_on_commit_callbacks(execute=True):
            svc.photo_remove(actor=clinician, photo=photo, reason="duplicate")
    photo.refresh_from_db()
    assert photo.removed_at is not None  # the removal stands
    (left,) = stored_files(media)
    # No row refers to the file any more, so the orphan sweep deletes it.
    assert svc.sweep_orphan_files(older_than=dt.timedelta(0)) == [f"photos/{left.name}"]
    assert stored_files(media) == [] and not default_storage.exists(f"photos/{left.name}")


# --- baseline and the analysis it drives ------------------------------------------------------


def test_a_new_baseline_has_the_views_photos_analysed_again(media, clinician, patient, django_capture_on_commit_callbacks):
    base = keep(clinician, patient, days_ago=6)
    follow = keep(clinician, patient, days_ago=4, dx=2)
    chosen = keep(clinician, patient, days_ago=2, dx=4)
    withdrawn = keep(clinician, patient, days_ago=1, dx=6)
    gone = keep(clinician, patient, days_ago=1, dx=8)
    keep(clinician, patient, "brows_raised", dx=10)
    svc.photo_set_consent(actor=clinician, photo=withdrawn, consent="clinical", given=False, channel="phone")
    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_remove(actor=clinician, photo=gone, reason="duplicate")
    clear_queue()

    svc.photo_set_baseline(actor=clinician, photo=chosen)

    base.refresh_from_db()
    chosen.refresh_from_db()
    assert chosen.is_baseline and not base.is_baseline
    assert queued(ANALYSE) == sorted([base.pk, follow.pk, chosen.pk])
    assert {p.analysis_status for p in Photo.objects.filter(pk__in=[base.pk, follow.pk, chosen.pk])} == {"pending"}
    event = AuditEvent.objects.filter(action="photo.reanalyse").latest("id")
    assert event.detail["why"] == "baseline" and len(event.detail["photos"]) == 3
    # Choosing the baseline again changes nothing and queues nothing.
    clear_queue()
    svc.photo_set_baseline(actor=clinician, photo=chosen)
    assert queued(ANALYSE) == []


def test_a_photo_without_clinical_consent_cannot_be_the_baseline(media, clinician, patient):
    keep(clinician, patient, days_ago=2)
    later = keep(clinician, patient, dx=3)
    svc.photo_set_consent(actor=clinician, photo=later, consent="clinical", given=False, channel="phone")
    with pytest.raises(InvalidInput, match="withdrew clinical use"):
        svc.photo_set_baseline(actor=clinician, photo=later)


def test_a_new_analysis_replaces_the_photos_measurement(media, clinician, patient):
    photo = keep(clinician, patient)
    measure(photo, 0.30)
    measure(photo, 0.25)
    assert list(Observation.objects.values_list("value", "photo_id")) == [(0.25, photo.pk)]
    # A failed re-analysis leaves no stale value behind either.
    svc.photo_record_analysis(photo_id=photo.pk, result=None, error="OSError: the analysis could not run.")
    assert not Observation.objects.exists()


def test_a_result_against_a_replaced_baseline_is_not_stored(media, clinician, patient):
    base = keep(clinician, patient, days_ago=4)
    follow = keep(clinician, patient, days_ago=2, dx=3)
    chosen = keep(clinician, patient, days_ago=1, dx=6)
    svc.photo_set_baseline(actor=clinician, photo=chosen)
    # A job that started before the change measured `follow` against the old baseline.
    r = result(glabella={"wrinkle_index": 0.4, "grade": 2})
    svc.photo_record_analysis(photo_id=follow.pk, result=r, baseline_id=base.pk)
    follow.refresh_from_db()
    assert follow.analysis_status == "pending" and not Observation.objects.exists()
    # The job queued by the change, against the new one, is stored.
    svc.photo_record_analysis(photo_id=follow.pk, result=r, baseline_id=chosen.pk)
    assert Observation.objects.get().photo_id == follow.pk


def test_old_measurements_are_linked_to_their_photo_by_the_migration(media, clinician, patient):
    photo = keep(clinician, patient)
    measure(photo, 0.2345)
    # As written before Observation.photo existed, plus one that does not match the photo.
    Observation.objects.update(photo=None)
    other = Observation.objects.create(patient=patient, area="glabella", observed_on=photo.taken_on,
                                       kind="wrinkle_index", value=0.9, source="photo")
    migration = importlib.import_module("touchup.clinic.migrations.0007_link_photo_observations")
    from django.apps import apps

    migration.link(apps, None)
    assert Observation.objects.get(value=0.2345).photo_id == photo.pk
    other.refresh_from_db()
    assert other.photo_id is None


def test_with_a_queue_outside_the_database_the_analysis_is_queued_only_on_commit(
        media, clinician, patient, settings, django_capture_on_commit_callbacks):
    """Redis at scale: a worker must not see the job before the change it follows commits."""
    base = keep(clinician, patient, days_ago=3)
    later = keep(clinician, patient, days_ago=1, dx=3)
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    from touchup.jobs.photo_analysis import analyze_photo

    queue = analyze_photo.get_backend()
    with django_capture_on_commit_callbacks(execute=True):
        svc.photo_set_baseline(actor=clinician, photo=later)
        assert queue.results == []  # not before the commit
    assert sorted(r.args[0] for r in queue.results) == sorted([base.pk, later.pk])
