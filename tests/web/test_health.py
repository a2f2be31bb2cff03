"""Health checks for monitors, and the staff pages' notice when the worker is down."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from touchup.clinic.models import AuditEvent
from touchup.maintenance.services import workers


def _beat(worker_id, *, ago=dt.timedelta(0), reminders=True, tasks=True):
    now = timezone.now()
    workers.beat(worker_id, started_at=now - dt.timedelta(hours=1), sends_reminders=reminders, runs_tasks=tasks,
                 now=now - ago)


@pytest.mark.django_db
def test_health_answers_anyone_without_a_session_and_says_whether_the_worker_runs(client):
    r = client.get("/health/")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok", "worker": "never ran"}
    assert "no-cache" in r["Cache-Control"] and "sessionid" not in r.cookies
    r = client.get("/health/worker/")
    assert r.status_code == 503 and r.json()["worker"] == "never ran"

    _beat("web-1:10")
    assert client.get("/health/").json()["worker"] == "running"
    r = client.get("/health/worker/")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert client.post("/health/").status_code == 405
    assert not AuditEvent.objects.exists()  # nothing about anyone was read


@pytest.mark.django_db
def test_a_worker_gone_quiet_or_stopped_is_not_running():
    _beat("a:1", ago=dt.timedelta(minutes=3))  # crashed three minutes ago
    s = workers.status()
    assert not s.running and s.last_seen is not None
    _beat("b:2")
    assert workers.status().running
    hb = workers.Heartbeat("b:2", sends_reminders=True, runs_tasks=True)
    hb.stop()  # never started: marks the row stopped all the same
    assert not workers.status().running


@pytest.mark.django_db
def test_staff_see_that_reminders_are_not_going_out(as_front_desk):
    page = as_front_desk.get("/patients/").content.decode()
    assert "The background worker is not running" in page and "reminders are not being sent" in page
    _beat("only-tasks:1", reminders=False)
    page = as_front_desk.get("/patients/").content.decode()
    assert "only partly running" in page and "reminders are not being sent" in page
    assert "photo analyses" not in page
    _beat("only-reminders:1", tasks=False)
    page = as_front_desk.get("/patients/").content.decode()
    assert "background worker" not in page


@pytest.mark.django_db
def test_patients_never_see_the_notice(client, clinic_a):
    r = client.get("/portal/login/")
    assert "background worker" not in r.content.decode()


@pytest.mark.django_db
def test_tasks_left_running_by_a_dead_worker_are_marked_failed():
    from touchup.maintenance.tasks import recompute_forecasts

    now = timezone.now()
    _beat("alive:1")
    _beat("dead:1", ago=dt.timedelta(minutes=10))

    def running(worker, started_ago):
        result = recompute_forecasts.enqueue(1)
        DBTaskResult.objects.filter(pk=result.id).update(
            status=TaskResultStatus.RUNNING, started_at=now - started_ago, worker_ids=[worker])
        return result.id

    orphan = running("dead:1", dt.timedelta(minutes=9))
    never_beat = running("old-version:7", dt.timedelta(hours=2))
    busy = running("alive:1", dt.timedelta(minutes=30))  # a long task of a live worker
    just_started = running("dead:1", dt.timedelta(seconds=30))
    assert workers.fail_orphaned_tasks(now) == 2
    status = {str(pk): s for pk, s in DBTaskResult.objects.values_list("pk", "status")}
    assert status[orphan] == status[never_beat] == TaskResultStatus.FAILED
    assert status[busy] == status[just_started] == TaskResultStatus.RUNNING
    assert "stopped without finishing" in DBTaskResult.objects.get(pk=orphan).traceback
    assert workers.fail_orphaned_tasks(now) == 0


@pytest.mark.django_db
def test_old_heartbeats_are_dropped():
    from touchup.maintenance.models import WorkerHeartbeat

    _beat("long-gone:1", ago=dt.timedelta(days=8))
    _beat("recent:1", ago=dt.timedelta(days=1))
    workers.fail_orphaned_tasks()
    assert list(WorkerHeartbeat.objects.values_list("pk", flat=True)) == ["recent:1"]
