"""`touchup demo`: migrate the embedded database, seed the demo clinic once, serve.

Running it again keeps the data: seeding is skipped when the demo clinic exists.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ._django import setup

# How long the demo waits for its worker to finish the task in hand after asking it to
# stop, before killing it (a hung worker must not keep the demo from exiting).
WORKER_STOP_GRACE = 30.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="create/upgrade ./var, seed a demo clinic once, and serve it")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default 8000)")
    p.add_argument("--no-serve", action="store_true", help="migrate and seed, then exit")
    p.add_argument("--no-worker", action="store_true",
                   help="serve without the background worker (forecasts, photo analysis, reminders)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        print(f"touchup demo: --port must be 1-65535, not {args.port}", file=sys.stderr)
        return 2
    # Links in the messages the demo sends must point at this server, not the default port.
    os.environ.setdefault("TOUCHUP_PUBLIC_URL", f"http://127.0.0.1:{args.port}")
    setup()
    from django.conf import settings
    from django.core.management import call_command

    from touchup.clinic.demo import demo_logins, prepare_day, seed_demo

    print(f"Database: {settings.DATABASES['default']['NAME']}")
    call_command("migrate", interactive=False, verbosity=0)
    # Static files are served from the package by whitenoise's finders; the folder only
    # has to exist (collectstatic is for deployments).
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    with _without_native_chatter():  # seeding analyses the demo photos in this process
        created = seed_demo()
    print("Seeded the demo clinic." if created else "Demo clinic already seeded; keeping its data.")
    if prepare_day():
        print("Reconstituted today's vials, ready to chart.")
    url = f"http://127.0.0.1:{args.port}/"
    print()
    print(f"  Touchup is at {url}")
    print(f"  API docs:      {url}api/docs")
    print()
    print("  Demo logins (username / password):")
    for login in demo_logins():
        print(f"    {login['role']:<30} {login['username']:<14} {login['password']}")
    print()
    print("  Try it: sign in as dr.rivera, open Olivia Grant (screened, never treated), start a")
    print("  frown-lines treatment from its protocol, pick today's vial, sign, open the aftercare.")
    print("  The front desk's 'Due' list shows who to book; patient.demo sees her own portal.")
    print()
    sys.stdout.flush()
    if args.no_serve:
        return 0
    # The background work (forecast recomputes, photo analysis, reminders printed as
    # console emails) runs in `touchup worker` beside the server, as in production.
    worker = None
    if not args.no_worker:
        # In a session of its own, as the worker's own helpers are: a Ctrl+C in the terminal
        # then reaches the demo alone, which asks the worker to stop exactly once
        # (_stop_worker). In the terminal's process group the worker got the SIGINT and
        # then the demo's SIGTERM, and a second signal tells it to leave at once, cutting
        # short the task in hand.
        # --parent: a demo killed outright (SIGKILL, a crashed terminal) cannot stop its
        # worker, which then leaves by itself within one pass.
        worker = subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker", "--parent", str(os.getpid())],
                                  stderr=subprocess.PIPE,
                                  text=True, errors="replace", start_new_session=True)
        threading.Thread(target=_relay_stderr, args=(worker.stderr,), daemon=True).start()
    # `kill` (SIGTERM), and closing the terminal (SIGHUP), stop the demo the way Ctrl+C
    # does, so the worker is stopped with it instead of being left running on its own.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False, use_threading=True)
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            _stop_worker(worker)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stop_worker(worker: subprocess.Popen, grace: float = WORKER_STOP_GRACE) -> None:
    """Ask the worker to finish the task in hand and leave (one SIGTERM), and wait for it:
    killed after `grace` seconds, or at once on a second Ctrl+C (or SIGTERM)."""
    if worker.poll() is not None:
        return
    try:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=min(1.0, grace))
            return
        except subprocess.TimeoutExpired:
            print("touchup demo: the worker is finishing the task in hand (Ctrl+C again to stop it now)",
                  file=sys.stderr, flush=True)
        worker.wait(timeout=max(0.0, grace - 1.0))
        return
    except subprocess.TimeoutExpired:
        print(f"touchup demo: the worker did not stop within {grace:g} s; stopping it now",
              file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("touchup demo: stopping the worker now", file=sys.stderr, flush=True)
    worker.kill()
    worker.wait()


# What MediaPipe's native code (TFLite, absl) prints on its own stderr the first time the
# face model loads: start-up chatter, not problems, and it buried the demo's own output.
_NATIVE_NOISE = re.compile(
    r"^(INFO: Created TensorFlow Lite|WARNING: All log messages before absl::InitializeLog"
    r"|[IW]0000 .*(inference_feedback_manager|landmark_projection_calculator|gl_context)\.cc)"
)


@contextlib.contextmanager
def _without_native_chatter():
    """Run the block with file descriptor 2 captured (native code writes there directly,
    past sys.stderr), then pass on everything but MediaPipe's start-up chatter."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+", errors="replace") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            _relay_stderr(captured)


def _relay_stderr(stream) -> None:
    """Copy the worker's stderr to ours, without MediaPipe's start-up chatter."""
    for line in stream:
        if not _NATIVE_NOISE.match(line):
            sys.stderr.write(line)
            sys.stderr.flush()
