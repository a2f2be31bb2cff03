"""The clinic's forecast track record, scored in the background and kept
(services.track_record): asked for, run by the worker, never lost with it."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.maintenance.test_calibration import long_lasting_patients
from tests.web.test_track_record_page import seed
from touchup.clinic.models import AuditEvent
from touchup.commands.worker import _run_tasks
from touchup.core.track_record import from_record_data, track_record
from touchup.maintenance.models import TrackRecordReport, TrackRecordRequest
from touchup.maintenance.services import calibration, forecasts
from touchup.maintenance.services import track_record as svc
from touchup.maintenance.tasks import score_track_record


def _data(clinic_a, clinic_b, clinician, other_clinician):
    start = timezone.localdate() - dt.timedelta(days=300)
    seed(clinic_a, clinician, start)
    long_lasting_patients(clinic_a, clinician, 6)
    seed(clinic_b, other_clinician, start)  # another clinic's: not read


@pytest.mark.django_db(transaction=True)  # real commits: the worker takes the task from the queue
def test_the_worker_keeps_what_scoring_directly_gives(clinic_a, clinic_b, clinician, other_clinician, manager):
    _data(clinic_a, clinic_b, clinician, other_clinician)
    calibration.apply(calibration.propose(clinic_a), actor=manager, queue=False)  # scored with its medians
    _run_tasks("test-worker")  # whatever applying asked for, done
    TrackRecordReport.objects.all().delete()
    AuditEvent.objects.filter(action__startswith="forecast.track_record").delete()
    svc.request_scoring(clinic_a.pk, manager)
    assert TrackRecordRequest.objects.get().requested_by == manager
    [task] = DBTaskResult.objects.filter(status="READY")
    assert task.task_path == "touchup.maintenance.tasks.score_track_record"
    _run_tasks("test-worker")

    row = TrackRecordReport.objects.get()
    assert not TrackRecordRequest.objects.exists()
    assert row.clinic == clinic_a and row.computed_by == manager and row.patients == 9
    assert row.as_of == timezone.localdate() and row.calibration == calibration.active(clinic_a.pk)
    direct = track_record(calibration.clinic_histories(clinic_a, row.as_of), priors=calibration.priors_for(clinic_a.pk))
    assert direct.overall.cycles > 2  # something to compare
    kept = from_record_data(row.result)
    assert kept.areas == direct.areas and kept.overall == direct.overall  # every number, unrounded
    assert kept.to_json() == direct.to_json()
    # Only the clinic's numbers: no patient, no cycle, no day of anyone's.
    assert set(row.result) == {"areas", "overall"}
    assert not {k for a in row.result["areas"] for k in a} - {f for f in kept.overall.__slots__}
    assert AuditEvent.objects.get(action="forecast.track_record.score").detail == {"patients": 9}


def test_a_scoring_lost_with_its_worker_is_queued_again(clinic_a, clinician, manager):
    seed(clinic_a, clinician, timezone.localdate() - dt.timedelta(days=300))
    svc.request_scoring(clinic_a.pk, manager)
    # This test never commits: no task, as if the process had died before its commit hook.
    assert TrackRecordRequest.objects.exists() and not DBTaskResult.objects.exists()
    assert forecasts.requeue_due() == 0  # not yet: a scoring takes a while
    later = timezone.now() + dt.timedelta(minutes=31)
    assert forecasts.requeue_due(now=later) == 1
    assert forecasts.requeue_due(now=later) == 0  # taken once, even with two sweeping workers
    [task] = DBTaskResult.objects.all()
    assert task.task_path == "touchup.maintenance.tasks.score_track_record"
    assert task.args_kwargs == {"args": [clinic_a.pk], "kwargs": {"only_if_requested": True}}
    assert score_track_record.call(clinic_a.pk, only_if_requested=True)["patients"] == 3
    assert TrackRecordReport.objects.get().computed_by == manager
    assert not TrackRecordRequest.objects.exists()
    assert score_track_record.call(clinic_a.pk, only_if_requested=True) == {}  # a duplicate: nothing to do
    assert TrackRecordReport.objects.count() == 1


def test_asking_again_while_one_is_pending_asks_for_one_more(clinic_a, clinician, manager):
    seed(clinic_a, clinician, timezone.localdate() - dt.timedelta(days=300))
    svc.request_scoring(clinic_a.pk, manager)
    token = svc.pending_scoring(clinic_a.pk).token
    svc.request_scoring(clinic_a.pk, manager)  # a chart was signed meanwhile, say
    assert TrackRecordRequest.objects.get().token != token
    # A run that read the old token does not drop the newer request.
    forecasts.request_done(clinic_a.pk, token, forecasts.TRACK)
    assert TrackRecordRequest.objects.exists()
    svc.run_requested(clinic_a.pk, only_if_requested=True)
    assert not TrackRecordRequest.objects.exists() and TrackRecordReport.objects.count() == 1
    assert AuditEvent.objects.filter(action="forecast.track_record.request").count() == 2


def test_a_clinic_without_charts_is_scored_as_empty(clinic_a, manager):
    svc.request_scoring(clinic_a.pk, manager)
    assert svc.run_requested(clinic_a.pk) == {"report": TrackRecordReport.objects.get().pk, "patients": 0}
    _, report = svc.latest(clinic_a.pk, actor=manager)
    assert report.empty and report.reason.startswith("No treatments yet")


def test_applying_new_medians_has_the_record_scored_again(clinic_a, clinician, manager):
    long_lasting_patients(clinic_a, clinician, 2)
    svc.score(clinic_a)
    calibration.apply(calibration.propose(clinic_a), actor=manager)
    # Owed with the medians (this test never commits: the sweep's to queue).
    assert svc.pending_scoring(clinic_a.pk).requested_by == manager
    assert forecasts.requeue_due(now=timezone.now() + dt.timedelta(minutes=31)) == 1
    assert score_track_record.call(clinic_a.pk, only_if_requested=True)["patients"] == 2
    latest = TrackRecordReport.objects.order_by("-pk").first()
    assert latest.calibration == calibration.active(clinic_a.pk) and latest.computed_by == manager
