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
        worker = subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker"], stderr=subprocess.PIPE,
                                  text=True, errors="replace")
        threading.Thread(target=_relay_stderr, args=(worker.stderr,), daemon=True).start()
    # `kill` (SIGTERM) stops the demo the way Ctrl+C does, so the worker is stopped with it
    # instead of being left running on its own.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        call_command("runserver", f"127.0.0.1:{args.port}", use_reloader=False, use_threading=True)
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


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
