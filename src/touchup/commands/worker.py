"""`touchup worker`: run background tasks and send due reminders.

One loop: run the queued django-tasks tasks, then claim and send the reminders that are
due, then sleep. The process that sends reminders gives the tasks a turn of at most
TASK_TURN seconds before it sends what is due, so a queue that never empties (a burst of
uploads, a recompute storm) delays a reminder by that much, not for as long as it lasts. Tasks run through the configured backend's own worker: the database
backend's (batch mode, its row locking) by default, or with TOUCHUP_TASKS_REDIS_URL set an
RQ worker in burst mode on the Redis queue (RQ pops each job for one worker). Reminders
are always claimed in the database by a compare-and-set on their row
(touchup.maintenance.services.reminders). Start as many as you like: each task runs, and
each reminder is sent, once.

Tasks use every core: `--processes` (by default one per CPU the worker may use) starts
that many task processes, this one and helpers that run tasks only (photo analysis is
one core's work per photo, so a backlog of uploads goes through N times as fast); the
reminders are sent by this process alone. A helper that exits is started again.

A worker that runs tasks also sweeps the forecast recompute requests, when it starts and
then every minute: one whose task has not finished in time (never queued, lost, or killed
with its worker) is queued again (touchup.maintenance.services.forecasts.requeue_due), and
so is a photo analysis still owed (touchup.clinic.services.photos.requeue_stalled_analyses),
and a task left RUNNING by a dead worker is marked failed (services.workers). Every process
reports itself every 30 s (a WorkerHeartbeat row): the health checks and the staff pages'
"worker not running" notice read it.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

# How often a worker that runs tasks sweeps the recompute requests (and once at start).
# A request is queued again 5 minutes after its last hand-over at the earliest
# (forecasts.RETRY_AFTER), so checking every minute adds at most a minute to that.
SWEEP_EVERY = 60.0
# The longest the reminder-sending process runs tasks before it sends what is due (and
# sweeps); the task in hand always finishes. Helpers, which send nothing, run until the
# queue is empty.
TASK_TURN = 15.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run background tasks and send due reminders",
                       description=__doc__.splitlines()[0])
    p.add_argument("--interval", type=float, default=5.0,
                   help="seconds to sleep when there is nothing to do (default 5)")
    p.add_argument("--once", action="store_true", help="one pass (tasks, then reminders), then exit")
    p.add_argument("--worker-id", default=None, help="a name unique among running workers (default host:pid)")
    p.add_argument("--no-tasks", action="store_true", help="send reminders only")
    p.add_argument("--no-reminders", action="store_true", help="run tasks only")
    p.add_argument("--processes", type=int, default=0,
                   help="processes that run tasks (default: one per CPU this worker may use; "
                        "1 with --once or --no-tasks)")
    # Set on the helpers a worker starts, and by `touchup demo`: leave when that process
    # is gone (killed without stopping this one, so nothing else would).
    p.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this process may use (containers, taskset)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _Helpers:
    """The extra task processes: `touchup worker --processes 1 --no-reminders`, each with
    its own worker id, started again when one exits, stopped with this one."""

    def __init__(self, count: int, args: argparse.Namespace, worker_id: str) -> None:
        self.ids = [f"{worker_id}/{k}" for k in range(1, count + 1)]
        self.args = args
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, wid: str) -> None:
        cmd = [sys.executable, "-m", "touchup.cli", "worker", "--processes", "1", "--no-reminders",
               "--interval", str(self.args.interval), "--worker-id", wid, "--parent", str(os.getpid())]
        # Its own process group: a Ctrl+C in the terminal reaches this process, which
        # stops the helpers itself (and waits for the task in hand).
        self.procs[wid] = subprocess.Popen(cmd, start_new_session=True)

    def start(self) -> None:
        for wid in self.ids:
            self._start(wid)

    def revive(self) -> None:
        for wid, proc in list(self.procs.items()):
            if proc.poll() is not None:
                print(f"touchup worker {wid}: exited with {proc.returncode}; starting it again",
                      file=sys.stderr, flush=True)
                self._start(wid)

    def stop(self, grace: float = 60.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # finish the task in hand, then leave
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class _Stop:
    """The signal handler: the first SIGINT/SIGTERM asks the loop to finish what is in hand
    (the task, the reminder) and leave; a second one leaves at once."""

    def __init__(self) -> None:
        self.requested = False
        self.batch = None  # the database backend's worker while it runs a batch (_run_tasks)

    def __call__(self, signum, frame) -> None:
        if self.requested:
            raise SystemExit(1)
        self.requested = True
        if self.batch is not None:
            # The task in hand, not the rest of the queue: the batch would otherwise run
            # every ready task first, and whoever stops the worker may not wait that long.
            self.batch.running = False

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self)
        signal.signal(signal.SIGINT, self)


def _task_runner(stop: _Stop):
    """The function that runs every queued task once, for the configured backend."""
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
    from django_tasks_db import DatabaseBackend

    backend = task_backends[DEFAULT_TASK_BACKEND_ALIAS]
    if isinstance(backend, DatabaseBackend):
        return lambda worker_id, turn=None: _run_tasks(worker_id, stop, turn)
    if type(backend).__module__.startswith("django_tasks_rq."):
        return _rq_runner(stop)
    raise SystemExit(f"touchup worker: cannot run the tasks of {type(backend).__qualname__} "
                     "(the database and RQ backends only); use --no-tasks")


def _run_tasks(worker_id: str, stop: _Stop | None = None, turn: float | None = None) -> bool:
    """The database backend's own worker, batch mode: every ready task, then back; with
    `stop`, a stop request ends the batch after the task in hand; with `turn`, so does
    running for that many seconds. True when it stopped with tasks possibly still ready."""
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
    from django_tasks_db.management.commands.db_worker import Worker

    class TurnWorker(Worker):
        ends_at = None if turn is None else time.monotonic() + turn
        out_of_time = False

        def run_task(self, db_task_result):
            try:
                return super().run_task(db_task_result)
            finally:
                if self.ends_at is not None and time.monotonic() >= self.ends_at:
                    self.out_of_time = True
                    self.running = False  # leave the batch after this task

    if stop is not None and stop.requested:
        return False
    worker = TurnWorker(
        queue_names=[DEFAULT_TASK_QUEUE_NAME], interval=0, batch=True, backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False, max_tasks=None, worker_id=worker_id[:64], excluded_queue_names=[],
    )
    if stop is not None:
        stop.batch = worker
    try:
        worker.run()
    finally:
        if stop is not None:
            stop.batch = None
    return worker.out_of_time


def _rq_runner(stop: _Stop):
    """An RQ worker in burst mode on the task queue: every queued job, and every deferred one
    now due, then back. The worker class is the RQ settings' (RQ["WORKER_CLASS"]):
    SimpleWorker, running each job in this process as the database worker does."""
    import django_rq
    from django.db import close_old_connections, connections
    from django_rq.workers import get_worker_class
    from django_tasks import DEFAULT_TASK_QUEUE_NAME
    from django_tasks_rq import Job
    from rq.worker import SimpleWorker

    base = get_worker_class()

    class Worker(base):
        # RQ would put its own SIGINT/SIGTERM handlers in; ours say the same thing (finish
        # the job in hand, then stop; a second signal takes the job down) and also stop the
        # reminder loop, whenever the signal comes.
        def _install_signal_handlers(self):
            def handler(signum, frame):
                if stop.requested and self.horse_pid:
                    self.kill_horse()
                    self.wait_for_horse()
                stop(signum, frame)
                self._stop_requested = True

            signal.signal(signal.SIGTERM, handler)
            signal.signal(signal.SIGINT, handler)
            if stop.requested:  # a signal came while it started
                self._stop_requested = True

        ends_at = None  # the end of this pass's turn (TASK_TURN), set by run_rq_tasks
        out_of_time = False

        def execute_job(self, job, queue):
            # Like a request (and the database worker): drop a connection that broke or
            # outlived CONN_MAX_AGE before and after each job.
            close_old_connections()
            try:
                return super().execute_job(job, queue)
            finally:
                close_old_connections()
                if self.ends_at is not None and time.monotonic() >= self.ends_at:
                    self.out_of_time = True
                    self._stop_requested = True  # leave the burst after this job

    # RQ refuses a name a live worker holds, and one killed mid-pass holds it for minutes:
    # the name carries a token of this process so a restart under the same --worker-id starts.
    token = secrets.token_hex(3)

    def run_rq_tasks(worker_id: str, turn: float | None = None) -> bool:
        worker = django_rq.get_worker(DEFAULT_TASK_QUEUE_NAME, job_class=Job, worker_class=Worker,
                                      name=f"{worker_id}.{token}")
        worker.ends_at = None if turn is None else time.monotonic() + turn
        if not issubclass(base, SimpleWorker):
            connections.close_all()  # a forked horse must not share this process's connection
        try:
            # At the settings' log level (TOUCHUP_LOG_LEVEL), not RQ's INFO: lines on every
            # pass are noise (and the job lines carry row ids only).
            worker.work(burst=True, with_scheduler=True, logging_level=logging.getLogger().getEffectiveLevel())
        finally:
            stop.install()
        return worker.out_of_time

    return run_rq_tasks


def run(args: argparse.Namespace) -> int:
    from ._django import setup

    if args.interval < 0:
        print("touchup worker: --interval must be 0 or more", file=sys.stderr)
        return 2
    if args.processes < 0:
        print("touchup worker: --processes must be 1 or more (0: one per CPU)", file=sys.stderr)
        return 2
    processes = 1 if args.once or args.no_tasks else (args.processes or _cpus())
    setup()

    worker_id = args.worker_id or f"{socket.gethostname()}:{os.getpid()}"
    stop = _Stop()
    run_tasks = None if args.no_tasks else _task_runner(stop)
    stop.install()
    from touchup.maintenance.services.workers import Heartbeat

    # Every process beats, helpers too: the sweep tells their RUNNING tasks from orphans.
    heartbeat = Heartbeat(worker_id, sends_reminders=not args.no_reminders, runs_tasks=run_tasks is not None).start()
    helpers = _Helpers(processes - 1, args, worker_id)
    helpers.start()
    print(f"touchup worker {worker_id}: running"
          f"{f' with {processes} task processes' if processes > 1 else ''} (Ctrl+C to stop)",
          file=sys.stderr, flush=True)
    try:
        _loop(args, worker_id, stop, run_tasks, helpers)
    finally:
        helpers.stop()
        heartbeat.stop()
    return 0


def _loop(args: argparse.Namespace, worker_id: str, stop: _Stop, run_tasks, helpers: _Helpers) -> None:
    from django.db import close_old_connections

    from touchup.clinic.services.photos import requeue_stalled_analyses
    from touchup.maintenance.services.forecasts import requeue_due
    from touchup.maintenance.services.reminders import dispatch_due
    from touchup.maintenance.services.workers import fail_orphaned_tasks

    next_sweep = 0.0  # at once: a restart after a crash picks up what the crash left
    while not stop.requested:
        if args.parent is not None and os.getppid() != args.parent:
            # The worker (or demo) that started this one was killed without stopping it.
            print(f"touchup worker {worker_id}: the process that started it is gone; leaving",
                  file=sys.stderr, flush=True)
            break
        helpers.revive()
        close_old_connections()
        if run_tasks is not None:
            if time.monotonic() >= next_sweep:
                # Before the tasks, so what it queues runs in this pass.
                if requeued := requeue_due():
                    print(f"touchup worker {worker_id}: recomputes queued again {requeued}",
                          file=sys.stderr, flush=True)
                if photos := requeue_stalled_analyses():
                    print(f"touchup worker {worker_id}: photo analyses given up {photos.failed}, "
                          f"photo analyses queued again {photos.queued}", file=sys.stderr, flush=True)
                if orphans := fail_orphaned_tasks():
                    print(f"touchup worker {worker_id}: tasks of stopped workers marked failed {orphans}",
                          file=sys.stderr, flush=True)
                next_sweep = time.monotonic() + SWEEP_EVERY
            # A process that sends reminders lets them in every TASK_TURN seconds (a
            # --once pass runs every task first, as it says).
            busy = run_tasks(worker_id, None if args.no_reminders or args.once else TASK_TURN)
        else:
            busy = False
        if not args.no_reminders:
            # Batch after batch until nothing due is left for this worker.
            while not stop.requested:
                counts = dispatch_due(worker_id)
                if not any(counts.values()):
                    break
                busy = True
                print(f"touchup worker {worker_id}: reminders {counts}", file=sys.stderr, flush=True)
        if args.once:
            break
        if not busy:
            deadline = time.monotonic() + args.interval
            while not stop.requested and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.25))  # a stop signal does not wait out the interval
