"""A photo's analysis is never lost (issue #4): the photo row says an analysis is owed
(written with the upload or the change that asks for it), the task counts its start and
stores the result or nothing, and the worker's sweep queues again whatever did not finish
in time (a hand-over that failed after the commit, a worker killed mid-analysis), with
back-off, once per photo however many workers sweep, and records the analysis failed,
with a reason the photo page shows, after runs that kept dying. Real photos, the real
landmark model and the real django-tasks database worker."""

import datetime as dt
import io
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.subprocess_seeds import SETUP, race_two_workers
from tests.maintenance.conftest import worker_env  # noqa: F401 - fixture: `touchup` processes on their own database
from touchup.clinic.models import AuditEvent, Observation, Photo
from touchup.clinic.services import photos as svc
from touchup.jobs.photo_analysis import analyze_photo
from touchup.vision.analyze import analyze_bytes

from . import images

TASK = "touchup.jobs.photo_analysis.analyze_photo"


def keep(clinician, patient, rgb=None, view="frown"):
    return svc.photo_upload(actor=clinician, patient=patient, view=view, consent_clinical=True,
                            upload=io.BytesIO(images.jpeg(images.neutral_face() if rgb is None else rgb)))


def _tasks(status=None):
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.filter(task_path=TASK)
    return rows.filter(status=status) if status else rows


def run_worker():
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def _later(minutes, start=None):
    return (start or timezone.now()) + dt.timedelta(minutes=minutes)


class Killed(BaseException):
    """The worker process dies mid-analysis (out of memory, SIGKILL): nothing after runs,
    not even the task's own failure handling (which catches Exception only)."""


@pytest.mark.django_db(transaction=True)
def test_a_hand_over_that_fails_after_the_commit_is_queued_by_the_sweep_and_analysed(
        media, clinician, patient, monkeypatch, caplog):
    real = analyze_photo

    class Down:  # a queue outside the database (Redis) that cannot be reached at the commit
        def get_backend(self):
            return object()

        def enqueue(self, *args, **kwargs):
            raise ConnectionError("queue unreachable")

    monkeypatch.setattr("touchup.jobs.photo_analysis.analyze_photo", Down())
    photo = keep(clinician, patient)  # the upload is not failed after its commit
    assert "analyze_photo for photo row %s not queued (the sweep will retry): ConnectionError" % photo.pk in caplog.text
    assert "Dana" not in caplog.text and "Example" not in caplog.text
    monkeypatch.setattr("touchup.jobs.photo_analysis.analyze_photo", real)
    photo.refresh_from_db()
    assert photo.analysis_status == "pending" and photo.analysis_retry_at is not None
    assert not _tasks().exists()

    assert svc.requeue_stalled_analyses().queued == 0  # not yet: it may just be waiting in a queue
    assert svc.requeue_stalled_analyses(now=_later(6)).queued == 1
    [task] = _tasks("READY")
    assert task.args_kwargs == {"args": [photo.pk], "kwargs": {"only_if_pending": True}}
    run_worker()
    photo.refresh_from_db()
    assert photo.analysis_status == "done", photo.analysis
    assert photo.analysis == analyze_bytes(svc.photo_bytes(photo), view="frown")
    assert photo.analysis_retry_at is None and photo.analysis_attempts == 0
    obs = Observation.objects.get()
    assert (obs.photo_id, obs.area, obs.value) == (photo.pk, "glabella",
                                                   photo.analysis["regions"]["glabella"]["wrinkle_index"])
    assert svc.requeue_stalled_analyses(now=_later(600)).queued == 0  # nothing owed any more


@pytest.mark.django_db(transaction=True)
def test_a_task_left_running_by_a_killed_worker_is_queued_again_once(media, clinician, patient, monkeypatch):
    photo = keep(clinician, patient)
    [task] = _tasks("READY")
    # A worker claims the task, starts the analysis and is killed: django-tasks' database
    # backend leaves the task RUNNING for good.
    task.claim("killed-worker")

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(svc, "analyse", die)
    with pytest.raises(Killed):
        analyze_photo.call(photo.pk, only_if_pending=True)
    monkeypatch.undo()
    photo.refresh_from_db()
    assert photo.analysis_status == "pending" and photo.analysis_attempts == 1  # the start was counted

    t = _later(6)
    assert svc.requeue_stalled_analyses(now=t).queued == 1
    assert svc.requeue_stalled_analyses(now=t).queued == 0  # a second worker sweeping the same moment
    assert _tasks("READY").count() == 1
    run_worker()
    photo.refresh_from_db()
    assert photo.analysis_status == "done" and photo.analysis_retry_at is None
    assert Observation.objects.filter(photo=photo).count() == 1
    assert _tasks("RUNNING").count() == 1 and _tasks("SUCCESSFUL").count() == 1  # the killed one stays as it was
    assert svc.requeue_stalled_analyses(now=_later(600)).queued == 0


def test_two_sweeps_queue_an_analysis_once_and_back_off(media, clinician, patient, django_assert_num_queries):
    photo = keep(clinician, patient)
    _tasks().delete()  # as if the hand-over had been lost
    with django_assert_num_queries(1):  # nothing due: one range read of the partial index
        assert not svc.requeue_stalled_analyses()
    requested = Photo.objects.get(pk=photo.pk).analysis_requested_at
    assert svc.requeue_stalled_analyses(now=requested + dt.timedelta(minutes=4)).queued == 0
    t = requested + svc.ANALYSIS_RETRY_AFTER
    assert svc.requeue_stalled_analyses(now=t).queued == 1
    assert svc.requeue_stalled_analyses(now=t).queued == 0
    assert _tasks().count() == 1
    # Still not finished (the queue keeps losing it): queued again later each time, the
    # wait doubling with the request's age, up to an hour; a photo that never started is
    # never given up on.
    waits = []
    for _ in range(6):
        row = Photo.objects.get(pk=photo.pk)
        assert svc.requeue_stalled_analyses(now=row.analysis_retry_at).queued == 1
        after = Photo.objects.get(pk=photo.pk)
        waits.append(round((after.analysis_retry_at - row.analysis_retry_at).total_seconds() / 60))
    assert waits == [10, 20, 40, 60, 60, 60]
    assert Photo.objects.get(pk=photo.pk).analysis_status == "pending"
    assert _tasks().count() == 7


def test_the_sweep_takes_every_due_analysis_across_batches(media, clinician, patient):
    photos = [keep(clinician, patient, images.neutral_face(dx=d)) for d in (0, 3, 6, 9, 12)]
    _tasks().delete()
    assert svc.requeue_stalled_analyses(now=_later(6), batch=2).queued == 5
    assert sorted(t.args_kwargs["args"][0] for t in _tasks()) == sorted(p.pk for p in photos)


def test_runs_that_keep_dying_are_recorded_as_failed_with_the_reason(media, clinician, patient, monkeypatch):
    photo = keep(clinician, patient)
    # An earlier analysis measured it; the analysis asked for now keeps killing its worker.
    analyze_photo.call(photo.pk, only_if_pending=True)
    assert Observation.objects.filter(photo=photo).count() == 1
    svc.photo_analyse_again(actor=clinician, photo=Photo.objects.get(pk=photo.pk))

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(svc, "analyse", die)
    for start in range(1, svc.ANALYSIS_MAX_STARTS + 1):
        with pytest.raises(Killed):
            analyze_photo.call(photo.pk, only_if_pending=True)
        row = Photo.objects.get(pk=photo.pk)
        assert (row.analysis_status, row.analysis_attempts) == ("pending", start)
        counts = svc.requeue_stalled_analyses(now=row.analysis_retry_at)
        if start < svc.ANALYSIS_MAX_STARTS:
            assert (counts.queued, counts.failed) == (1, 0)
    assert (counts.queued, counts.failed) == (0, 1)
    photo.refresh_from_db()
    assert photo.analysis_status == "failed" and photo.analysis_retry_at is None
    assert photo.analysis["error"] == svc.ANALYSIS_GAVE_UP.format(n=svc.ANALYSIS_MAX_STARTS)
    assert "stopped 3 times" in photo.analysis["error"] and "Try the analysis again" in photo.analysis["error"]
    assert not Observation.objects.filter(photo=photo).exists()  # no value from the old analysis stays
    event = AuditEvent.objects.filter(action="photo.analysis").latest("pk")
    assert event.detail["status"] == "failed" and event.detail["replaced"] == ["glabella"]
    assert not svc.requeue_stalled_analyses(now=_later(600))  # given up: the sweep leaves it
    # A run still queued from before does nothing now.
    monkeypatch.undo()
    assert analyze_photo.call(photo.pk, only_if_pending=True) == "not pending"
    assert Photo.objects.get(pk=photo.pk).analysis_status == "failed"

    # The clinician tries again: a new request, counted from zero, and this time it runs.
    assert svc.photo_analyse_again(actor=clinician, photo=photo) is True
    assert svc.photo_analyse_again(actor=clinician, photo=photo) is False  # already under way
    row = Photo.objects.get(pk=photo.pk)
    assert (row.analysis_status, row.analysis_attempts) == ("pending", 0)
    assert analyze_photo.call(photo.pk, only_if_pending=True) == "done"
    assert Photo.objects.get(pk=photo.pk).analysis_status == "done"
    assert Observation.objects.filter(photo=photo).count() == 1


def test_the_task_is_idempotent(media, clinician, patient):
    photo = keep(clinician, patient)
    assert analyze_photo.call(photo.pk, only_if_pending=True) == "done"
    first = Photo.objects.get(pk=photo.pk).analysis
    values = list(Observation.objects.values_list("photo_id", "area", "value"))
    # A duplicate (the commit's task and the sweep's) finds nothing owed: one query, no work.
    assert analyze_photo.call(photo.pk, only_if_pending=True) == "not pending"
    # Run again regardless (a task queued before this change): the very same result, and
    # its value replaces the photo's own rather than adding a second.
    assert analyze_photo.call(photo.pk) == "done"
    assert Photo.objects.get(pk=photo.pk).analysis == first
    assert list(Observation.objects.values_list("photo_id", "area", "value")) == values


def test_a_photo_removed_or_withdrawn_meanwhile_is_nothing_to_do(media, clinician, patient):
    base = keep(clinician, patient)
    withdrawn = keep(clinician, patient, images.neutral_face(dx=4))
    removed = keep(clinician, patient, images.neutral_face(dx=8))
    svc.photo_set_consent(actor=clinician, photo=withdrawn, consent="clinical", given=False, channel="phone")
    svc.photo_remove(actor=clinician, photo=removed, reason="duplicate")
    for p in (withdrawn, removed):
        row = Photo.objects.get(pk=p.pk)
        assert row.analysis_retry_at is None  # no longer owed: the sweep never queues it
        assert analyze_photo.call(p.pk, only_if_pending=True) == "not pending"
    assert analyze_photo.call(removed.pk) == "removed"
    assert analyze_photo.call(withdrawn.pk) == "no clinical consent"
    assert Photo.objects.get(pk=withdrawn.pk).analysis is None
    assert svc.requeue_stalled_analyses(now=_later(6)).queued == 1  # the baseline's only
    assert analyze_photo.call(base.pk, only_if_pending=True) == "done"
    assert list(Observation.objects.values_list("photo_id", flat=True)) == [base.pk]
    with pytest.raises(svc.InvalidInput):
        svc.photo_analyse_again(actor=clinician, photo=Photo.objects.get(pk=withdrawn.pk))
    with pytest.raises(svc.InvalidInput):
        svc.photo_analyse_again(actor=clinician, photo=Photo.objects.get(pk=removed.pk))


def test_a_result_against_a_replaced_baseline_leaves_the_newer_request_owed(media, clinician, patient, monkeypatch):
    base = keep(clinician, patient)
    follow = keep(clinician, patient, images.neutral_face(dx=6))
    real = svc.analyse

    def baseline_changes_meanwhile(data, baseline, view=None):
        result = real(data, baseline, view)
        svc.photo_set_baseline(actor=clinician, photo=Photo.objects.get(pk=follow.pk))
        return result

    monkeypatch.setattr(svc, "analyse", baseline_changes_meanwhile)
    analyze_photo.call(follow.pk, only_if_pending=True)  # measured against the old baseline: discarded
    monkeypatch.undo()
    row = Photo.objects.get(pk=follow.pk)
    assert row.analysis_status == "pending" and row.analysis_retry_at is not None and row.analysis_attempts == 0
    assert analyze_photo.call(follow.pk, only_if_pending=True) == "done"
    assert analyze_photo.call(base.pk, only_if_pending=True) == "done"
    assert Photo.objects.get(pk=base.pk).analysis["baseline"] == str(follow.public_id)


# Real `touchup worker` processes on their own database (SQLite file, throwaway PostgreSQL).

SEED = SETUP + """
from django_tasks_db.models import DBTaskResult
from touchup.clinic.models import Photo
from touchup.clinic.services.photos import photo_upload
clinic, doc = seed_clinic("Lost Clinic", "lost")
patient = new_patient(clinic)
for i, path in enumerate(sys.argv[1:]):
    with open(path, "rb") as fh:
        photo = photo_upload(actor=doc, patient=patient, view="frown", upload=fh.read(), consent_clinical=True)
    [task] = DBTaskResult.objects.filter(args_kwargs__args=[photo.pk])
    # What a crash leaves, ten minutes ago: no task at all (the hand-over was lost) or, for
    # every other photo, a task a worker claimed, started and died in: RUNNING for good.
    if i % 2:
        task.claim("killed-worker")
        Photo.objects.filter(pk=photo.pk).update(analysis_attempts=1)
    else:
        task.delete()
    Photo.objects.filter(pk=photo.pk).update(analysis_requested_at=now - dt.timedelta(minutes=10),
                                             analysis_retry_at=now - dt.timedelta(minutes=5))
"""

REPORT = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from django_tasks_db.models import DBTaskResult
from touchup.clinic.models import Observation, Photo
tasks = DBTaskResult.objects.filter(task_path="touchup.jobs.photo_analysis.analyze_photo")
print(json.dumps({
    "status": sorted(Photo.objects.values_list("analysis_status", flat=True)),
    "owed": Photo.objects.filter(analysis_retry_at__isnull=False).count(),
    "observations": Observation.objects.filter(kind="wrinkle_index", photo__isnull=False).count(),
    "tasks": {s: tasks.filter(status=s).count() for s in ("READY", "RUNNING", "SUCCESSFUL", "FAILED")},
}))
"""


def test_two_workers_starting_after_a_crash_analyse_every_lost_photo_once(worker_env, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, *args], env=worker_env, capture_output=True, text=True, timeout=300)

    n = 4
    files = []
    for i in range(n):
        path = tmp_path / f"p{i}.jpg"
        path.write_bytes(images.jpeg(images.neutral_face(dx=3 * i)))
        files.append(str(path))
    migrate = run("-m", "touchup.cli", "manage", "migrate", "--verbosity", "0")
    assert migrate.returncode == 0, migrate.stderr
    seed = run("-c", SEED, *files)
    assert seed.returncode == 0, seed.stderr

    errs = race_two_workers(worker_env, "--no-reminders")
    report = run("-c", REPORT)
    assert report.returncode == 0, report.stderr
    state = json.loads(report.stdout)
    assert state == {"status": ["done"] * n, "owed": 0, "observations": n,
                     # Each lost analysis queued again exactly once, by one of the two sweeps;
                     # the killed worker's tasks stay RUNNING (harmless).
                     "tasks": {"READY": 0, "RUNNING": n // 2, "SUCCESSFUL": n, "FAILED": 0}}, errs
    requeued = sum(int(line.rsplit(" ", 1)[1]) for err in errs for line in err.splitlines()
                   if "photo analyses queued again" in line)
    assert requeued == n, errs
