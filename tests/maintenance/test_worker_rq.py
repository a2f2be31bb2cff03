"""Tasks in Redis (TOUCHUP_TASKS_REDIS_URL, django-tasks-rq): a real forecast recompute,
queued by request_recompute through the RQ backend into the real Redis on 127.0.0.1:6379,
run by a real `touchup worker` beside its reminder loop, on SQLite and on PostgreSQL
(each `touchup` process its own, as in production, so the worker sees committed data).

Redis unreachable: skipped here, failed in CI (CI=true). Without the variable nothing
about Redis is loaded (the last test; it needs no Redis)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.subprocess_seeds import SETUP

# A database number of its own, emptied before and after each test.
REDIS_URL = os.environ.get("TOUCHUP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LOCK = "touchup-tests:lock"

SEED = SETUP + """
from django_tasks.signals import task_enqueued
from touchup.maintenance.models import Reminder
from touchup.maintenance.services.forecasts import request_recompute

enqueued = []
task_enqueued.connect(lambda sender, task_result, **kw: enqueued.append(task_result), weak=False)
clinic, doc = seed_clinic("Queue Clinic", "queue")
p, t = treated_patient(clinic, doc, phone="+447700900123")
if %(reminder)s:
    Reminder.objects.create(patient=p, clinic=clinic, treatment=t, area="glabella", kind="checkin",
                            step="checkin_peak", channel="sms", due_at=now - dt.timedelta(minutes=1))
with transaction.atomic():
    request_recompute(p)
    assert not enqueued  # queued only once the transaction commits
print(json.dumps({"patient": p.pk, "jobs": [r.id for r in enqueued],
                  "backends": sorted({type(r.task.get_backend()).__module__ for r in enqueued})}))
"""

REPORT = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from django_tasks import default_task_backend
from django_tasks_db.models import DBTaskResult
from touchup.maintenance.models import AreaForecast
patient, job = int(sys.argv[1]), sys.argv[2]
result = default_task_backend.get_result(job)
print(json.dumps({
    "forecasts": sorted(AreaForecast.objects.filter(patient_id=patient).values_list("area", flat=True)),
    "db_task_rows": DBTaskResult.objects.count(),
    "status": str(result.status), "return_value": result.return_value if result.is_finished else None,
    "worker_ids": result.worker_ids,
}))
"""


def _unavailable(reason):
    if os.environ.get("CI") == "true":  # in CI a missing Redis is a broken machine, not a skip
        pytest.fail(f"Redis at {REDIS_URL} is needed in CI: {reason}")
    pytest.skip(f"Redis at {REDIS_URL} not available: {reason}")


@pytest.fixture
def redis_client():
    try:
        import redis
    except ImportError:
        _unavailable("the redis package is missing (pip install -e '.[dev]' installs it)")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        _unavailable(str(exc))

    def empty():  # the whole database, but the lock
        keys = [k for k in client.scan_iter(count=1000) if k != LOCK.encode()]
        if keys:
            client.delete(*keys)

    # One run at a time on this database (another checkout's suite may share the server).
    with client.lock(LOCK, timeout=600, blocking_timeout=600):
        empty()
        yield client
        empty()
    client.close()


@pytest.fixture
def rq_env(worker_env, redis_client):
    env = dict(worker_env, TOUCHUP_TASKS_REDIS_URL=REDIS_URL)
    migrate = _run(env, "-m", "touchup.cli", "manage", "migrate", "--verbosity", "0")
    assert migrate.returncode == 0, migrate.stderr
    return env


def _run(env, *args, **kw):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, **kw)


def _seed(env, *, reminder):
    seed = _run(env, "-c", SEED % {"reminder": reminder})
    assert seed.returncode == 0, seed.stderr
    return json.loads(seed.stdout)


def _report(env, patient, job):
    report = _run(env, "-c", REPORT, str(patient), job)
    assert report.returncode == 0, report.stderr
    return json.loads(report.stdout)


def test_a_recompute_queued_in_redis_is_run_by_touchup_worker_beside_the_reminders(rq_env, redis_client, tmp_path):
    seeded = _seed(rq_env, reminder=True)
    assert seeded["backends"] == ["django_tasks_rq.backend"]
    [job] = seeded["jobs"]
    # In Redis's queue, not in the database, and not run yet.
    assert [j.decode() for j in redis_client.lrange("rq:queue:default", 0, -1)] == [job]
    before = _report(rq_env, seeded["patient"], job)
    assert before["forecasts"] == [] and before["status"] == "READY" and before["db_task_rows"] == 0

    worker = _run(rq_env, "-m", "touchup.cli", "worker", "--once", "--worker-id", "rq-1")
    assert worker.returncode == 0, worker.stderr

    after = _report(rq_env, seeded["patient"], job)
    assert after["forecasts"] == ["glabella"]
    assert after["status"] == "SUCCESSFUL" and after["return_value"] == ["glabella"]
    assert len(after["worker_ids"]) == 1 and after["worker_ids"][0].startswith("rq-1.")
    assert after["db_task_rows"] == 0
    assert redis_client.llen("rq:queue:default") == 0
    # The same pass claimed and sent the due reminder from the database.
    sent = [json.loads(line)["to"] for line in (tmp_path / "sms.log").read_text().splitlines()]
    assert sent == ["+447700900123"]


def test_a_running_worker_takes_jobs_queued_later_and_stops_on_sigterm(rq_env, redis_client):
    worker = subprocess.Popen(
        [sys.executable, "-m", "touchup.cli", "worker", "--interval", "0.2", "--no-reminders", "--worker-id", "rq-2"],
        env=rq_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        seeded = _seed(rq_env, reminder=False)
        [job] = seeded["jobs"]
        deadline = time.monotonic() + 60
        while (state := _report(rq_env, seeded["patient"], job))["status"] != "SUCCESSFUL":
            assert state["status"] in ("READY", "RUNNING"), state
            assert time.monotonic() < deadline, "the running worker did not take the job"
            time.sleep(0.3)
        assert state["forecasts"] == ["glabella"]
        # The worker or a task process it started (--processes: one per CPU).
        assert state["worker_ids"][0].split(".")[0] in ("rq-2", "rq-2/1"), state["worker_ids"]
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, err
    assert "Traceback" not in err


def test_without_the_variable_nothing_about_redis_is_loaded(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TOUCHUP_TASKS_REDIS_URL")}
    env["TOUCHUP_DATA_DIR"] = str(tmp_path / "var")
    code = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
from django.conf import settings
from touchup.cli import main
assert main(["manage", "migrate", "--verbosity", "0"]) == 0
from touchup.maintenance.tasks import recompute_forecasts
result = recompute_forecasts.enqueue(1)
assert main(["worker", "--once", "--no-reminders"]) == 0
assert recompute_forecasts.get_backend().get_result(result.id).status == "SUCCESSFUL"
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("redis", "rq", "django_rq", "django_tasks_rq"))
assert not loaded, loaded
print(settings.TASKS["default"]["BACKEND"])
"""
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "django_tasks_db.DatabaseBackend"
