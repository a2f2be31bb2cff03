"""`touchup worker`: run background tasks and send due reminders.

One loop: run every queued django-tasks task (the database backend's own worker, in
batch mode), then claim and send the reminders that are due, then sleep. Start as many
as you like: tasks are claimed by django-tasks' row locking, reminders by a
compare-and-set on their row (touchup.maintenance.services.reminders), so each runs or
is sent once.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="run background tasks and send due reminders",
                       description=__doc__.splitlines()[0])
    p.add_argument("--interval", type=float, default=5.0,
                   help="seconds to sleep when there is nothing to do (default 5)")
    p.add_argument("--once", action="store_true", help="one pass (tasks, then reminders), then exit")
    p.add_argument("--worker-id", default=None, help="a name unique among running workers (default host:pid)")
    p.add_argument("--no-tasks", action="store_true", help="send reminders only")
    p.add_argument("--no-reminders", action="store_true", help="run tasks only")
    p.set_defaults(func=run)


def _run_tasks(worker_id: str) -> None:
    from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(
        queue_names=[DEFAULT_TASK_QUEUE_NAME], interval=0, batch=True, backend_name=DEFAULT_TASK_BACKEND_ALIAS,
        startup_delay=False, max_tasks=None, worker_id=worker_id[:64], excluded_queue_names=[],
    ).run()


def run(args: argparse.Namespace) -> int:
    from ._django import setup

    if args.interval < 0:
        print("touchup worker: --interval must be 0 or more", file=sys.stderr)
        return 2
    setup()
    from django.db import close_old_connections

    from touchup.maintenance.services.reminders import dispatch_due

    worker_id = args.worker_id or f"{socket.gethostname()}:{os.getpid()}"
    stopping = False

    def stop(signum, frame):  # finish the reminder in hand, then leave
        nonlocal stopping
        if stopping:
            raise SystemExit(1)
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"touchup worker {worker_id}: running (Ctrl+C to stop)", file=sys.stderr, flush=True)
    while not stopping:
        close_old_connections()
        if not args.no_tasks:
            _run_tasks(worker_id)
        busy = False
        if not args.no_reminders:
            # Batch after batch until nothing due is left for this worker.
            while not stopping:
                counts = dispatch_due(worker_id)
                if not any(counts.values()):
                    break
                busy = True
                print(f"touchup worker {worker_id}: reminders {counts}", file=sys.stderr, flush=True)
        if args.once:
            break
        if not busy:
            time.sleep(args.interval)
    return 0
