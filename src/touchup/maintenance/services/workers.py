"""Is the background worker running? Heartbeats of `touchup worker` processes.

    Heartbeat(worker_id, ...)   -> a daemon thread of each worker process writing its
                                   WorkerHeartbeat row every BEAT_EVERY (stop() marks it
                                   stopped)
    status(now)                 -> WorkerStatus: whether a live worker sends reminders and
                                   runs tasks (the health check, the staff pages' notice)
    fail_orphaned_tasks(now)    -> the sweep: a task the database backend left RUNNING when
                                   its worker died is marked FAILED (its work is owed
                                   elsewhere and queued again: forecasts.requeue_due,
                                   photos.requeue_stalled_analyses)

Without this a clinic whose worker has stopped finds out from patients who were never
reminded: nothing else in the product shows it. The beat is a thread rather than a step
of the worker's loop, because one long task (a clinic's recompute takes minutes) would
otherwise look like a dead worker.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import socket
import threading

from django.db import connections
from django.db.models import Max
from django.utils import timezone

from ..models import WorkerHeartbeat

log = logging.getLogger(__name__)

BEAT_EVERY = 30.0  # seconds
# A worker not heard from for this long is taken for dead: four missed beats, so a
# database busy for a minute (SQLite's writers queue) does not raise the alarm.
GONE_AFTER = dt.timedelta(minutes=2)
# Rows of stopped or dead workers are kept this long for "last seen", then dropped.
KEEP = dt.timedelta(days=7)


class WorkerLost(Exception):
    """Recorded on a task whose worker died while running it."""


def beat(worker_id: str, *, started_at: dt.datetime, sends_reminders: bool, runs_tasks: bool,
         now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    row = WorkerHeartbeat(
        worker_id=worker_id[:64], host=socket.gethostname()[:255], pid=os.getpid(), started_at=started_at,
        last_seen=now, stopped_at=None, sends_reminders=sends_reminders, runs_tasks=runs_tasks,
    )
    WorkerHeartbeat.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["worker_id"],
        update_fields=["host", "pid", "started_at", "last_seen", "stopped_at", "sends_reminders", "runs_tasks"],
    )


class Heartbeat:
    """Beats for one worker process while it runs (a daemon thread with its own database
    connection); `stop()` records a clean stop, so a stopped worker is not mistaken for a
    crashed one."""

    def __init__(self, worker_id: str, *, sends_reminders: bool, runs_tasks: bool, every: float = BEAT_EVERY):
        self.worker_id = worker_id[:64]
        self.kw = {"sends_reminders": sends_reminders, "runs_tasks": runs_tasks}
        self.every = every
        self.started_at = timezone.now()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {self.worker_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while True:
                try:
                    beat(self.worker_id, started_at=self.started_at, **self.kw)
                except Exception as exc:  # noqa: BLE001 - a missed beat is retried, never fatal
                    log.warning("heartbeat of worker %s not written: %s", self.worker_id, type(exc).__name__)
                if self._stopping.wait(self.every):
                    return
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        try:
            WorkerHeartbeat.objects.filter(pk=self.worker_id).update(stopped_at=timezone.now())
        except Exception as exc:  # noqa: BLE001 - stopping anyway; the row just ages out
            log.warning("stop of worker %s not recorded: %s", self.worker_id, type(exc).__name__)


@dataclasses.dataclass(frozen=True)
class WorkerStatus:
    sends_reminders: bool  # a live worker sends the reminders
    runs_tasks: bool  # a live worker runs the background tasks
    last_seen: dt.datetime | None  # the latest beat of any worker (None: never ran)

    @property
    def running(self) -> bool:
        return self.sends_reminders and self.runs_tasks


def status(now: dt.datetime | None = None) -> WorkerStatus:
    """One indexed read when a worker is running; two when none is."""
    now = now or timezone.now()
    live = list(
        WorkerHeartbeat.objects.filter(last_seen__gte=now - GONE_AFTER, stopped_at__isnull=True)
        .values_list("sends_reminders", "runs_tasks", "last_seen")
    )
    reminders = any(r for r, _, _ in live)
    tasks = any(t for _, t, _ in live)
    if reminders and tasks:
        return WorkerStatus(True, True, max(seen for _, _, seen in live))
    last = WorkerHeartbeat.objects.aggregate(last=Max("last_seen"))["last"]
    return WorkerStatus(reminders, tasks, last)


def fail_orphaned_tasks(now: dt.datetime | None = None, batch: int = 500) -> int:
    """Mark FAILED each task the database backend shows RUNNING whose worker is no longer
    alive; how many. django-tasks' database worker leaves such a task RUNNING for good,
    which reads as work in progress to anyone looking at the queue. The work itself is
    not lost: what it owed is still a row that the sweeps queue again. Also drops the
    heartbeat rows of workers gone for over a week."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    WorkerHeartbeat.objects.filter(last_seen__lt=now - KEEP).delete()
    alive = set(
        WorkerHeartbeat.objects.filter(last_seen__gte=now - GONE_AFTER, stopped_at__isnull=True)
        .values_list("worker_id", flat=True)
    )
    failed = 0
    running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=now - GONE_AFTER)
    for pk, worker_ids in running.values_list("pk", "worker_ids")[:batch]:
        if worker_ids and worker_ids[-1] in alive:
            continue
        failed += DBTaskResult.objects.filter(pk=pk, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.FAILED, finished_at=now,
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
            traceback=f"The worker running this task ({worker_ids[-1] if worker_ids else 'unknown'}) "
                      "stopped without finishing it; what it owed is queued again by the sweeps.",
        )
    return failed
