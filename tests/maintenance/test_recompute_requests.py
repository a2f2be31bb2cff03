"""A forecast recompute is never lost (issue #3): the request is a RecomputeRequest row
written with the chart change, the task drops it only once it has read a chart at least
as new, and the worker's sweep queues again whatever was not finished in time (an enqueue
that never happened or failed, a worker killed mid-task)."""

import datetime as dt
import json
import subprocess
import sys

import pytest
from django.db import transaction
from django.utils import timezone

from touchup.clinic.services.screenings import screening_record
from touchup.clinic.services.treatments import treatment_sign, treatment_start
from touchup.maintenance.models import AreaForecast, RecomputeRequest
from touchup.maintenance.services import forecasts
from touchup.maintenance.tasks import recompute_forecasts
from tests.web.conftest import clean_answers

from tests.subprocess_seeds import SETUP, race_two_workers

from .conftest import signed_treatment
from .test_worker_rq import redis_client, rq_env  # noqa: F401 - fixtures of the Redis tests

TASK = "touchup.maintenance.tasks.recompute_forecasts"


def _tasks(status=None):
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.filter(task_path=TASK)
    return rows.filter(status=status) if status else rows


def _later(minutes):
    return timezone.now() + dt.timedelta(minutes=minutes)


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_the_request_commits_and_rolls_back_with_the_signature(patient, clinician, vial):
    screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())
    draft = treatment_start(actor=clinician, patient=patient, indication="glabellar_lines",
                            product="onabotulinumtoxinA", protocol="glabellar_ona_20", vial=vial)
    with pytest.raises(Boom), transaction.atomic():
        treatment_sign(actor=clinician, treatment=draft)
        assert RecomputeRequest.objects.filter(patient=patient).exists()  # in the same transaction
        raise Boom  # something later in the request fails: the signature goes, and so does its request
    assert not RecomputeRequest.objects.exists() and not _tasks().exists()

    draft.refresh_from_db()
    with transaction.atomic():
        treatment_sign(actor=clinician, treatment=draft)
        assert not _tasks().exists()  # the task only once the signature commits
    request = RecomputeRequest.objects.get(patient=patient)
    assert request.retry_at == request.requested_at + forecasts.RETRY_AFTER
    [task] = _tasks("READY")
    assert task.args_kwargs == {"args": [patient.pk], "kwargs": {"only_if_requested": True}}

    from touchup.commands.worker import _run_tasks

    _run_tasks("test-worker")
    assert AreaForecast.objects.filter(patient=patient, area="glabella").exists()
    assert not RecomputeRequest.objects.exists()  # done: nothing for the sweep
    assert forecasts.requeue_due(now=_later(60)) == 0


@pytest.mark.django_db(transaction=True)
def test_an_enqueue_that_fails_after_the_commit_is_queued_by_the_sweep(patient, clinician, monkeypatch, caplog):
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})

    class Down:  # the queue (Redis, say) cannot be reached when the commit hook runs
        def enqueue(self, *args, **kwargs):
            raise ConnectionError("queue unreachable")

    monkeypatch.setattr("touchup.maintenance.tasks.recompute_forecasts", Down())
    with transaction.atomic():
        forecasts.request_recompute(patient)
    # The caller is not failed after its commit; the log names the row id, nothing else.
    assert "not queued (the sweep will retry): ConnectionError" in caplog.text
    assert "Dana" not in caplog.text
    monkeypatch.undo()
    assert not _tasks().exists() and RecomputeRequest.objects.filter(patient=patient).exists()

    from touchup.commands.worker import _run_tasks

    assert forecasts.requeue_due() == 0  # not yet: the task may just be waiting in the queue
    assert forecasts.requeue_due(now=_later(6)) == 1
    _run_tasks("test-worker")
    assert AreaForecast.objects.filter(patient=patient, area="glabella").exists()
    assert not RecomputeRequest.objects.exists()


def test_a_change_that_arrives_during_a_recompute_is_not_lost(patient, clinician, monkeypatch):
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    forecasts.request_recompute(patient)
    first = RecomputeRequest.objects.get(patient=patient).token
    real = forecasts.recompute

    def recompute_then_a_change_arrives(p, **kw):
        rows = real(p, **kw)  # the chart as it was when the task began
        signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=1), {"forehead": 10},
                         indication="upper_face_lines")
        forecasts.request_recompute(patient)
        return rows

    monkeypatch.setattr(forecasts, "recompute", recompute_then_a_change_arrives)
    assert recompute_forecasts.call(patient.pk, only_if_requested=True) == ["glabella"]
    pending = RecomputeRequest.objects.get(patient=patient)
    assert pending.token != first  # the newer request survives the older one's recompute
    monkeypatch.undo()
    assert sorted(recompute_forecasts.call(patient.pk, only_if_requested=True)) == ["forehead", "glabella"]
    assert not RecomputeRequest.objects.exists()
    # A duplicate of either (the sweep's and the commit's, say) is one query and no work.
    assert recompute_forecasts.call(patient.pk, only_if_requested=True) == []


def _patients(clinician, clinic, n):
    from touchup.clinic.services.patients import patient_create

    return [patient_create(actor=clinician, clinic=clinic, given_name="P", family_name=str(i),
                           birth_date=dt.date(1980, 1, 1), sex="female") for i in range(n)]


def test_recompute_many_drops_the_requests_it_has_done(patient, clinician, clinic_a):
    from touchup.clinic.models import Observation

    treated, unreadable, untreated, unasked = [patient, *_patients(clinician, clinic_a, 3)]
    for p in (treated, unreadable, unasked):
        signed_treatment(p, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    Observation.objects.create(patient=unreadable, area="glabella", observed_on=timezone.localdate(),
                               kind="fws_grade", value=9, source="clinician")
    for p in (treated, unreadable, untreated):
        forecasts.request_recompute(p)

    counts = forecasts.recompute_many([treated, unreadable, untreated, unasked], chunk=3)
    assert counts == {"forecast": 2, "no_treatment": 1, "unavailable": 1}
    # Done as its own task would do it (an unreadable chart too, as the task drops it); a
    # patient with no treatment keeps theirs: the task also clears their old rows.
    assert list(RecomputeRequest.objects.values_list("patient_id", flat=True)) == [untreated.pk]
    assert recompute_forecasts.call(treated.pk, only_if_requested=True) == []  # no second recompute


def test_a_change_that_arrives_during_recompute_many_is_not_lost(patient, clinician, clinic_a, monkeypatch):
    changed, asked_meanwhile, done = [patient, *_patients(clinician, clinic_a, 2)]
    for p in (changed, asked_meanwhile, done):
        signed_treatment(p, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    for p in (changed, done):
        forecasts.request_recompute(p)
    first = RecomputeRequest.objects.get(patient=changed).token
    real = forecasts.histories_data

    def read_then_changes_arrive(patients, as_of):
        charts = real(patients, as_of)  # the charts as they were when the batch was read
        signed_treatment(changed, clinician, timezone.localdate() - dt.timedelta(days=1), {"forehead": 10},
                         indication="upper_face_lines")
        forecasts.request_recompute(changed)  # a newer token on a pending request
        forecasts.request_recompute(asked_meanwhile)  # a request where there was none
        return charts

    monkeypatch.setattr(forecasts, "histories_data", read_then_changes_arrive)
    assert forecasts.recompute_many([changed, asked_meanwhile, done])["forecast"] == 3
    monkeypatch.undo()
    pending = dict(RecomputeRequest.objects.values_list("patient_id", "token"))
    assert set(pending) == {changed.pk, asked_meanwhile.pk} and pending[changed.pk] != first
    assert not AreaForecast.objects.filter(patient=changed, area="forehead").exists()
    assert sorted(recompute_forecasts.call(changed.pk, only_if_requested=True)) == ["forehead", "glabella"]


def test_recompute_many_as_of_another_day_leaves_the_requests(patient, clinician):
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    forecasts.request_recompute(patient)
    # A forecast as of yesterday is not the one the request asks for (today's chart).
    assert forecasts.recompute_many([patient], as_of=timezone.localdate() - dt.timedelta(days=1))["forecast"] == 1
    assert RecomputeRequest.objects.filter(patient=patient).exists()


def test_an_unreadable_chart_drops_its_request_and_other_errors_keep_it(patient, clinician, monkeypatch):
    from touchup.clinic.models import Observation

    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    Observation.objects.create(patient=patient, area="glabella", observed_on=timezone.localdate(),
                               kind="fws_grade", value=9, source="clinician")
    forecasts.request_recompute(patient)
    assert recompute_forecasts.call(patient.pk, only_if_requested=True) == []
    # It would fail the same way on every retry; the change that corrects it asks again.
    assert not RecomputeRequest.objects.exists()

    def crash(p, **kw):
        raise RuntimeError("database went away")

    forecasts.request_recompute(patient)
    monkeypatch.setattr(forecasts, "recompute", crash)
    with pytest.raises(RuntimeError):
        recompute_forecasts.call(patient.pk, only_if_requested=True)
    assert RecomputeRequest.objects.filter(patient=patient).exists()  # the sweep retries it


def test_a_deleted_patient_takes_the_request_along(patient, clinician):
    forecasts.request_recompute(patient)
    pk = patient.pk
    RecomputeRequest.objects.get(patient_id=pk)
    from touchup.clinic.models import Patient

    Patient.objects.filter(pk=pk).delete()
    assert not RecomputeRequest.objects.exists()
    assert recompute_forecasts.call(pk) == []


def test_two_sweeps_queue_a_request_once_and_back_off(patient, clinician, django_assert_num_queries):
    forecasts.request_recompute(patient)
    assert not _tasks().exists()  # (the test's transaction never commits: no task from the hook)
    with django_assert_num_queries(4):  # nothing due: one range read of each outbox table's index (patients, clinics, fits, track records)
        assert forecasts.requeue_due() == 0
    t = _later(6)
    assert forecasts.requeue_due(now=t) == 1
    assert forecasts.requeue_due(now=t) == 0  # a second worker sweeping the same moment
    assert _tasks().count() == 1
    row = RecomputeRequest.objects.get(patient=patient)
    assert (row.attempts, row.retry_at) == (1, t + forecasts.RETRY_AFTER)
    # Not finished again: queued again later each time, up to an hour apart.
    waits = []
    for _ in range(6):
        before = row.retry_at
        assert forecasts.requeue_due(now=before) == 1
        row.refresh_from_db()
        waits.append(int((row.retry_at - before).total_seconds() // 60))
    assert waits == [10, 20, 40, 60, 60, 60]
    # A new change starts over: its own five minutes.
    forecasts.request_recompute(patient)
    row.refresh_from_db()
    assert row.attempts == 0 and row.retry_at - row.requested_at == forecasts.RETRY_AFTER


def test_the_sweep_takes_every_due_request_across_batches(patient, clinician, clinic_a):
    from touchup.clinic.services.patients import patient_create

    others = [patient_create(actor=clinician, clinic=clinic_a, given_name="P", family_name=str(i),
                             birth_date=dt.date(1980, 1, 1), sex="female") for i in range(4)]
    for p in [patient, *others]:
        forecasts.request_recompute(p)
    assert forecasts.requeue_due(now=_later(6), batch=2) == 5
    assert sorted(t.args_kwargs["args"][0] for t in _tasks()) == sorted(p.pk for p in [patient, *others])


def test_applying_medians_owes_the_clinic_one_recompute_until_it_is_done(clinic_a, clinician, manager):
    from tests.maintenance.test_calibration import long_lasting_patients
    from touchup.maintenance.models import ClinicRecomputeRequest, TrackRecordRequest
    from touchup.maintenance.services import calibration
    from touchup.maintenance.tasks import recompute_clinic

    patients = long_lasting_patients(clinic_a, clinician, 24)
    calibration.apply(calibration.propose(clinic_a), actor=manager)
    # Applying owes a track-record scoring too (tests/maintenance/test_track_record.py);
    # only the recompute here.
    TrackRecordRequest.objects.filter(clinic=clinic_a).delete()
    # One row for the clinic, none per patient; no task yet (this test never commits, as if
    # the process had died before its commit hook).
    assert ClinicRecomputeRequest.objects.filter(clinic=clinic_a).exists()
    assert not RecomputeRequest.objects.exists() and not _tasks().exists()
    assert forecasts.requeue_due(now=_later(30)) == 0  # a clinic's recompute may take a while
    assert forecasts.requeue_due(now=_later(61)) == 1
    from django_tasks_db.models import DBTaskResult

    [task] = DBTaskResult.objects.filter(task_path="touchup.maintenance.tasks.recompute_clinic")
    assert task.args_kwargs == {"args": [clinic_a.pk], "kwargs": {"only_if_requested": True}}
    forecasts.request_recompute(patients[0])  # a patient's own, pending when the clinic's runs
    assert recompute_clinic.call(clinic_a.pk, only_if_requested=True)["forecast"] == 24
    assert AreaForecast.objects.filter(patient__in=patients).count() == 24
    assert not ClinicRecomputeRequest.objects.exists()
    assert not RecomputeRequest.objects.exists()  # done by the clinic's recompute, not twice
    assert recompute_clinic.call(clinic_a.pk, only_if_requested=True) == {}  # a duplicate: nothing to do


def test_calibrate_apply_on_the_command_line_recomputes_in_place(clinic_a, clinician, capsys,
                                                                 django_capture_on_commit_callbacks):
    from tests.maintenance.test_calibration import long_lasting_patients
    from touchup.cli import main
    from touchup.maintenance.models import ClinicRecomputeRequest, TrackRecordRequest

    long_lasting_patients(clinic_a, clinician, 24)
    with django_capture_on_commit_callbacks(execute=True):
        assert main(["calibrate", "--clinic", "alpha", "--apply"]) == 0
    from django_tasks_db.models import DBTaskResult

    assert AreaForecast.objects.filter(patient__clinic=clinic_a).count() == 24
    assert not ClinicRecomputeRequest.objects.exists()
    # No recompute is left to the worker; the track record's scoring with the new medians is
    # (the command does not score it, and the request is owed until the worker has).
    assert [t.task_path for t in DBTaskResult.objects.all()] == ["touchup.maintenance.tasks.score_track_record"]
    assert TrackRecordRequest.objects.filter(pk=clinic_a.pk).exists()


# Real `touchup worker` processes on their own database (SQLite file, throwaway PostgreSQL).

SEED = SETUP + """
from touchup.maintenance.models import RecomputeRequest
from touchup.maintenance.tasks import recompute_forecasts
clinic, doc = seed_clinic("Lost Clinic", "lost")
for i in range(int(sys.argv[1])):
    p, t = treated_patient(clinic, doc, str(i))
    # What a crash leaves: the request committed with the chart ten minutes ago, and either
    # no task at all (the process died before its on-commit hook) or, for every other one,
    # a task claimed by a worker that was killed while running it (django-tasks' database
    # backend leaves such a task RUNNING for good; RQ marks it failed): neither runs again.
    RecomputeRequest.objects.create(patient=p, requested_at=now - dt.timedelta(minutes=10),
                                    retry_at=now - dt.timedelta(minutes=5))
    if i % 2:
        from django_tasks_db.models import DBTaskResult
        result = recompute_forecasts.enqueue(p.pk, only_if_requested=True)
        DBTaskResult.objects.get(pk=result.id).claim("killed-worker")
"""

REPORT = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from django_tasks_db.models import DBTaskResult
from touchup.maintenance.models import AreaForecast, RecomputeRequest
tasks = DBTaskResult.objects.filter(task_path="touchup.maintenance.tasks.recompute_forecasts")
print(json.dumps({
    "forecast_patients": AreaForecast.objects.values("patient").distinct().count(),
    "pending": RecomputeRequest.objects.count(),
    "tasks": {s: tasks.filter(status=s).count() for s in ("READY", "RUNNING", "SUCCESSFUL", "FAILED")},
}))
"""


def _run(env, *args):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)


def test_two_workers_starting_after_a_crash_recompute_every_lost_request_once(worker_env):
    n = 60
    migrate = _run(worker_env, "-m", "touchup.cli", "manage", "migrate", "--verbosity", "0")
    assert migrate.returncode == 0, migrate.stderr
    seed = _run(worker_env, "-c", SEED, str(n))
    assert seed.returncode == 0, seed.stderr

    errs = race_two_workers(worker_env, "--no-reminders")
    report = _run(worker_env, "-c", REPORT)
    assert report.returncode == 0, report.stderr
    state = json.loads(report.stdout)
    assert state["forecast_patients"] == n and state["pending"] == 0
    # Each lost request queued again exactly once, by one of the two sweeps; the killed
    # worker's tasks stay RUNNING in the database backend (its own business, harmless).
    assert state["tasks"] == {"READY": 0, "RUNNING": n // 2, "SUCCESSFUL": n, "FAILED": 0}
    requeued = sum(int(line.rsplit(" ", 1)[1]) for err in errs for line in err.splitlines()
                   if "recomputes queued again" in line)
    assert requeued == n


RQ_SEED = SETUP + """
from touchup.maintenance.models import RecomputeRequest
from touchup.maintenance.services.forecasts import request_recompute
clinic, doc = seed_clinic("Queue Clinic", "queue")
with transaction.atomic():
    p, t = treated_patient(clinic, doc)
    request_recompute(p)  # Redis is down when this commits
# Five minutes on.
RecomputeRequest.objects.filter(patient=p).update(retry_at=now - dt.timedelta(seconds=1))
print(json.dumps({"patient": p.pk}))
"""


def test_with_redis_down_at_the_commit_the_sweep_queues_the_recompute_in_redis(rq_env, redis_client):
    down = dict(rq_env, TOUCHUP_TASKS_REDIS_URL="redis://127.0.0.1:1/15")  # nothing listens there
    seed = _run(down, "-c", RQ_SEED)
    assert seed.returncode == 0, seed.stderr  # the signing did not fail after its commit
    assert "not queued (the sweep will retry): ConnectionError" in seed.stderr
    assert redis_client.llen("rq:queue:default") == 0

    worker = _run(rq_env, "-m", "touchup.cli", "worker", "--once", "--no-reminders", "--worker-id", "rq-sweep")
    assert worker.returncode == 0, worker.stderr
    assert "recomputes queued again 1" in worker.stderr
    report = _run(rq_env, "-c", REPORT)
    assert report.returncode == 0, report.stderr
    state = json.loads(report.stdout)
    assert state["forecast_patients"] == 1 and state["pending"] == 0
    assert state["tasks"] == {"READY": 0, "RUNNING": 0, "SUCCESSFUL": 0, "FAILED": 0}  # all in Redis
    assert redis_client.llen("rq:queue:default") == 0
