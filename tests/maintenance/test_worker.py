"""Two real `touchup worker` processes race over the same due reminders in a real
database (an SQLite file in WAL mode; and a throwaway PostgreSQL database when one is
reachable): every reminder goes out exactly once."""

import json
import subprocess
import sys

import pytest

from tests.subprocess_seeds import SETUP, race_two_workers

REMINDERS = 400

SEED = SETUP + """
from touchup.maintenance.models import Reminder
clinic, doc = seed_clinic("Race Clinic", "race")
for i in range(%(n)d):
    p, t = treated_patient(clinic, doc, str(i), phone="+4470000%%05d" %% i)
    Reminder.objects.create(patient=p, clinic=clinic, treatment=t, area="glabella", kind="checkin",
                            step="checkin_peak", channel="sms", due_at=now - dt.timedelta(minutes=1))
"""

REPORT = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from touchup.maintenance.models import Reminder
rows = list(Reminder.objects.values_list("sent_at", "claimed_by", "attempts"))
print(json.dumps({"sent": sum(1 for s, _, _ in rows if s), "by": sorted({c for _, c, _ in rows}),
                  "attempts": sorted({a for _, _, a in rows})}))
"""


def _run(env, *args, **kw):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, **kw)


def test_two_workers_send_each_reminder_exactly_once(worker_env, tmp_path):
    migrate = _run(worker_env, "-m", "touchup.cli", "manage", "migrate", "--verbosity", "0")
    assert migrate.returncode == 0, migrate.stderr
    seed = _run(worker_env, "-c", SEED % {"n": REMINDERS})
    assert seed.returncode == 0, seed.stderr

    race_two_workers(worker_env, "--no-tasks")

    sent = [json.loads(line)["to"] for line in (tmp_path / "sms.log").read_text().splitlines()]
    assert len(sent) == REMINDERS
    assert len(set(sent)) == REMINDERS  # nobody got two
    report = _run(worker_env, "-c", REPORT)
    assert report.returncode == 0, report.stderr
    state = json.loads(report.stdout)
    assert state["sent"] == REMINDERS
    assert state["attempts"] == [1]  # no reminder was claimed twice
    assert set(state["by"]) <= {"w1", "w2"}
    print("reminders sent by", state["by"])


BACKLOG = SETUP + """
from touchup.maintenance.tasks import recompute_forecasts
clinic, doc = seed_clinic("Backlog Clinic", "backlog")
for i in range(%(n)d):
    p, _ = treated_patient(clinic, doc, str(i))
    recompute_forecasts.enqueue(p.pk)
"""

TASKS_BY_WORKER = """
import collections, json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from django_tasks_db.models import DBTaskResult
from touchup.maintenance.models import AreaForecast
rows = DBTaskResult.objects.values_list("status", "worker_ids")
print(json.dumps({"status": sorted({s for s, _ in rows}),
                  "by": collections.Counter(w[-1] for _, w in rows if w),
                  "forecasts": AreaForecast.objects.count()}))
"""


def _running(worker_id: str) -> bool:
    """Is a `touchup worker --worker-id worker_id` process alive (from /proc)?"""
    from pathlib import Path

    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        if b"worker" in args and b"--worker-id" in args and worker_id.encode() in args:
            status = (cmdline.parent / "status").read_text(errors="replace") if cmdline.parent.exists() else ""
            if "State:\tZ" not in status:
                return True
    return False


def test_one_worker_runs_tasks_in_a_process_per_cpu_and_stops_them_with_it(worker_env, tmp_path):
    """`--processes 2`: a backlog of tasks is shared by two processes (the worker and a
    helper it started), and stopping the worker stops the helper after its task."""
    import signal
    import time
    import uuid

    assert _run(worker_env, "-m", "touchup.cli", "manage", "migrate", "--verbosity", "0").returncode == 0
    seed = _run(worker_env, "-c", BACKLOG % {"n": 300})
    assert seed.returncode == 0, seed.stderr

    wid = f"w-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker", "--processes", "2", "--worker-id", wid,
                               "--interval", "0.5"], env=worker_env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            state = json.loads(_run(worker_env, "-c", TASKS_BY_WORKER).stdout)
            if state["status"] == ["SUCCESSFUL"]:
                break
            time.sleep(1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert "with 2 task processes" in err
    assert state["status"] == ["SUCCESSFUL"] and state["forecasts"] == 300
    assert set(state["by"]) == {wid, f"{wid}/1"}, state["by"]  # both processes took tasks
    assert not _running(f"{wid}/1"), "the helper outlived its worker"


def test_a_helper_leaves_when_its_worker_is_killed(worker_env):
    import signal
    import time
    import uuid

    assert _run(worker_env, "-m", "touchup.cli", "manage", "migrate", "--verbosity", "0").returncode == 0
    wid = f"k-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker", "--processes", "2", "--worker-id", wid,
                               "--interval", "0.2"], env=worker_env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _running(f"{wid}/1"):
            time.sleep(0.2)
        assert _running(f"{wid}/1"), "no helper started"
    finally:
        worker.send_signal(signal.SIGKILL)  # no chance to stop its helper
        worker.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _running(f"{wid}/1"):
        time.sleep(0.2)
    assert not _running(f"{wid}/1"), "orphaned helper"


# Committed tasks, as a worker reads them (the database worker also closes a connection
# left inside a transaction, as the test's own would be on PostgreSQL).
@pytest.mark.django_db(transaction=True)
def test_a_stop_request_ends_the_database_workers_batch_after_the_task_in_hand(patient, monkeypatch):
    """SIGTERM/SIGINT: the task in hand finishes and the worker leaves, however many tasks
    are ready (the database worker's batch mode would otherwise run them all first, and a
    demo, systemd or a container stop waits only so long before killing it mid-task)."""
    import signal

    from django_tasks_db.models import DBTaskResult

    from touchup.commands.worker import _run_tasks, _Stop
    from touchup.maintenance.services import forecasts
    from touchup.maintenance.tasks import recompute_forecasts

    stop = _Stop()
    ran = []

    def recompute_and_a_signal_arrives(p, **kw):
        ran.append(p.pk)
        stop(signal.SIGTERM, None)  # what the handler does when the signal comes mid-task
        return []

    monkeypatch.setattr(forecasts, "recompute", recompute_and_a_signal_arrives)
    for _ in range(3):
        recompute_forecasts.enqueue(patient.pk)
    _run_tasks("test-worker", stop)
    assert ran == [patient.pk]
    assert sorted(DBTaskResult.objects.values_list("status", flat=True)) == ["READY", "READY", "SUCCESSFUL"]
    _run_tasks("test-worker", stop)  # asked to stop: takes nothing more
    assert ran == [patient.pk]


@pytest.mark.django_db(transaction=True)
def test_the_reminder_process_gives_tasks_a_turn_then_sends_what_is_due(patient, monkeypatch):
    """A queue that never empties must not hold the reminders back: the process that sends
    them runs tasks for at most TASK_TURN seconds (the task in hand finishes), then sends,
    then takes the next turn. Helpers and --once passes run the queue out."""
    import argparse

    from django_tasks_db.models import DBTaskResult

    from touchup.commands import worker
    from touchup.maintenance.services import forecasts, reminders
    from touchup.maintenance.tasks import recompute_forecasts

    events = []
    stop = worker._Stop()
    monkeypatch.setattr(forecasts, "recompute", lambda p, **kw: events.append("task") or [])

    def dispatch(worker_id, **kw):
        events.append("send")
        if events.count("send") == 3:
            stop.requested = True
        return {}

    monkeypatch.setattr(reminders, "dispatch_due", dispatch)
    monkeypatch.setattr(worker, "TASK_TURN", 0.0)  # every task uses up its turn
    for _ in range(3):
        recompute_forecasts.enqueue(patient.pk)
    args = argparse.Namespace(parent=None, no_reminders=False, once=False, interval=0.0)
    worker._loop(args, "test-worker", stop, worker._task_runner(stop), worker._Helpers(0, args, "test-worker"))
    assert events == ["task", "send", "task", "send", "task", "send"]
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}

    # With no turn (a helper, or --once) one call runs the queue out and says it is empty.
    events.clear()
    for _ in range(3):
        recompute_forecasts.enqueue(patient.pk)
    assert worker._run_tasks("test-worker", worker._Stop(), None) is False
    assert events == ["task", "task", "task"]
