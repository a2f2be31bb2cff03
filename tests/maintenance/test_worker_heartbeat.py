"""A real `touchup worker` process reports itself while it runs: the health check sees it
running, a clean stop is recorded, and a killed worker is taken for dead once its beats
stop (an SQLite file, and a throwaway PostgreSQL database when one is reachable)."""

import json
import signal
import subprocess
import sys
import time
import uuid

STATUS = """
import json, os, datetime as dt
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from django.utils import timezone
from touchup.maintenance.models import WorkerHeartbeat
from touchup.maintenance.services import workers
later = timezone.now() + dt.timedelta(minutes=%(minutes)d)
print(json.dumps({"running": workers.status(later).running,
                  "rows": {w: s is not None for w, s in WorkerHeartbeat.objects.values_list("worker_id", "stopped_at")}}))
"""


def _status(env, minutes=0):
    out = subprocess.run([sys.executable, "-c", STATUS % {"minutes": minutes}], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _start(env, wid):
    return subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker", "--processes", "1", "--worker-id", wid,
                             "--interval", "0.2"], env=env, stderr=subprocess.PIPE, text=True)


def _wait_running(env, wid):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = _status(env)
        if state["running"] and wid in state["rows"]:
            return state
        time.sleep(0.3)
    raise AssertionError(f"worker {wid} never reported itself: {state}")


def test_the_worker_reports_itself_until_it_stops_or_dies(worker_env):
    migrate = subprocess.run([sys.executable, "-m", "touchup.cli", "manage", "migrate", "--verbosity", "0"],
                             env=worker_env, capture_output=True, text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stderr
    assert _status(worker_env) == {"running": False, "rows": {}}

    clean = f"hb-{uuid.uuid4().hex[:6]}"
    worker = _start(worker_env, clean)
    try:
        assert _wait_running(worker_env, clean)["rows"][clean] is False
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert _status(worker_env) == {"running": False, "rows": {clean: True}}  # stopped, and said so

    killed = f"hb-{uuid.uuid4().hex[:6]}"
    worker = _start(worker_env, killed)
    try:
        _wait_running(worker_env, killed)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    state = _status(worker_env)
    assert state["rows"][killed] is False and state["running"]  # its last beat is still fresh...
    assert not _status(worker_env, minutes=3)["running"]  # ...and three minutes later it is gone
