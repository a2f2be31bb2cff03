"""`touchup serve`: serve Touchup in production, with gunicorn.

Before it serves, it checks what would make a production server unsafe or broken, and
refuses (exit 2) with what to do: migrations not applied, DEBUG on, a weak SECRET_KEY,
a bind other machines reach while ALLOWED_HOSTS names only this one, or any error of
Django's system checks. The background work runs in `touchup worker`, a process of its
own (docs/self-hosting.md shows both under systemd).

SIGTERM stops it gracefully: it stops accepting connections and lets the requests in hand
finish (up to GRACEFUL_TIMEOUT), then exits 0. Ctrl+C (SIGINT) stops it at once.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

from ._django import setup

# Two processes per two cores, four threads each: a request is mostly Python (templates,
# rules, the ORM) under the GIL, so more processes than cores buy little but memory; the
# threads cover the waits (database, disk, a slow client) so that one slow request does
# not hold a whole process. docs/self-hosting.md, "How many workers", has the numbers.
DEFAULT_THREADS = 4
# gunicorn's `timeout`: a process silent this long is killed and replaced. With threads
# (gthread) the process's main loop keeps beating while a request runs, so this catches a
# hung process, not a slow request; single-threaded (--threads 1) it ends a request that
# runs this long. The slowest pages take well under a second (docs/performance.md).
REQUEST_TIMEOUT = 60
# On SIGTERM, requests in hand get this long to finish; under systemd's default
# TimeoutStopSec (90 s).
GRACEFUL_TIMEOUT = 30
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve Touchup in production (gunicorn), after checking its set-up")
    p.add_argument("--bind", default="127.0.0.1:8000",
                   help="HOST:PORT or unix:/path/to.sock (default 127.0.0.1:8000; behind a TLS proxy)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes (default: one per CPU this process may use, at least 2)")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help=f"threads per process (default {DEFAULT_THREADS})")
    p.add_argument("--no-access-log", action="store_true",
                   help="no line per request (by default on stdout, without query strings or secrets)")
    p.add_argument("--dev", action="store_true",
                   help="allow DEBUG (TOUCHUP_DEV=1) on a local bind: never for a clinic's real data")
    p.set_defaults(func=run)


def default_workers() -> int:
    return max(2, len(os.sched_getaffinity(0)))


def run(args: argparse.Namespace) -> int:
    workers = default_workers() if args.workers is None else args.workers
    if workers < 1 or args.threads < 1:
        return _refuse(["--workers and --threads must be at least 1"])
    try:
        host = bind_host(args.bind)
    except ValueError as exc:
        return _refuse([str(exc)])
    setup()
    from django.conf import settings
    from django.db import DatabaseError, connections

    try:
        problems, notes = preflight(settings, host=host, dev=args.dev)
    except DatabaseError as exc:
        print(f"touchup serve: cannot reach the database ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    finally:
        # gunicorn forks its workers from this process: no connection may be shared.
        connections.close_all()
    if problems:
        return _refuse(problems)
    for note in notes:
        print(f"touchup serve: note: {note}", file=sys.stderr)
    # whitenoise serves the static files from the installed package (WHITENOISE_USE_FINDERS):
    # nothing to collect, and an upgrade brings its files with it. The folder must exist,
    # or whitenoise warns at every start.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    where = args.bind if host is None else f"http://{args.bind}"
    print(f"Touchup serving on {where} ({workers} processes x {args.threads} threads); "
          f"database: {_database_label(settings)}", flush=True)
    print("Stop with SIGTERM (graceful) or Ctrl+C. Background work needs `touchup worker` running beside it.",
          flush=True)
    _gunicorn(_options(args, workers)).run()  # exits the process when the server stops
    return 0


def _refuse(problems: list[str]) -> int:
    print("touchup serve: not starting:", file=sys.stderr)
    for p in problems:
        print(f"  - {p}", file=sys.stderr)
    return 2


def bind_host(bind: str) -> str | None:
    """The host part of HOST:PORT (None for a unix socket); ValueError for a malformed bind."""
    if bind.startswith("unix:"):
        if not bind[5:]:
            raise ValueError("--bind unix: needs a path (unix:/run/touchup/touchup.sock)")
        return None
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"--bind must be HOST:PORT (port 1-65535) or unix:/path, not {bind!r}")
    return host


def is_local(host: str | None) -> bool:
    """Whether only this machine can reach the bind (loopback, or a unix socket)."""
    if host is None or host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: whatever it resolves to, assume others reach it


def preflight(settings, *, host: str | None, dev: bool) -> tuple[list[str], list[str]]:
    """(problems that stop the start, notes worth reading). Reads the database."""
    from django.core import checks
    from django.db import DEFAULT_DB_ALIAS, connections
    from django.db.migrations.executor import MigrationExecutor

    problems: list[str] = []
    notes: list[str] = []
    local = is_local(host)
    https = settings.SESSION_COOKIE_SECURE  # TOUCHUP_HTTPS, as the settings read it

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        first = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:3])
        more = f" and {len(plan) - 3} more" if len(plan) > 3 else ""
        problems.append(f"{len(plan)} database migration(s) not applied ({first}{more}). "
                        "Run `touchup manage migrate` with the same environment, then start again.")

    if settings.DEBUG:
        if not dev:
            problems.append("DEBUG is on (TOUCHUP_DEV=1): error pages would show tracebacks, with patient "
                            "data and settings, to whoever causes an error. Unset TOUCHUP_DEV; for a "
                            "development copy on this machine only, add --dev.")
        elif not local:
            problems.append(f"--dev (DEBUG) is only for a local bind, not {host}.")

    found = checks.run_checks(include_deployment_checks=True)
    for message in found:
        if message.level >= checks.ERROR:
            problems.append(f"{message.id}: {message.msg}" + (f" ({message.hint})" if message.hint else ""))
    if any(m.id == "security.W009" for m in found):
        source = "SECRET_KEY" if os.environ.get("SECRET_KEY") else (
            os.environ.get("SECRET_KEY_FILE") or str(Path(settings.DATA_DIR) / "secret_key"))
        problems.append(f"the secret key (from {source}) is weak: at least 50 characters, not 'django-insecure-'. "
                        "Unset SECRET_KEY and SECRET_KEY_FILE to have one generated into the data directory, or "
                        "set one from: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'")

    hosts = [h for h in settings.ALLOWED_HOSTS if h]
    if not local:
        if not hosts or set(hosts) <= LOCAL_HOSTS:
            problems.append(f"--bind {host} lets other machines connect, but ALLOWED_HOSTS names only this one "
                            f"({','.join(hosts) or 'nothing'}): every request would be refused (400). Set "
                            "ALLOWED_HOSTS to the name people type, e.g. ALLOWED_HOSTS=touchup.clinic.example "
                            "(comma-separated for several).")
        if not https:
            notes.append(f"serving plain http to other machines (--bind {host}): passwords and patient data "
                         "cross the network readable. Put a TLS proxy in front and set TOUCHUP_HTTPS=1.")
    if "*" in hosts:
        notes.append("ALLOWED_HOSTS=* accepts any Host header: name the host instead, unless the proxy in front "
                     "checks it.")
    if https and set(hosts) <= LOCAL_HOSTS:
        notes.append("TOUCHUP_HTTPS is set but ALLOWED_HOSTS names only this machine: a proxy passing "
                     "Host: touchup.clinic.example gets 400. Set ALLOWED_HOSTS to that name.")
    if not os.environ.get("TOUCHUP_PUBLIC_URL"):
        notes.append("TOUCHUP_PUBLIC_URL is not set: links in reminders (sent by `touchup worker`) point at "
                     "http://127.0.0.1:8000. Set it to the address patients use, e.g. https://touchup.clinic.example")
    if not (os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE")):
        key_file = Path(settings.DATA_DIR) / "secret_key"
        if key_file.exists() and key_file.stat().st_mode & 0o077:
            notes.append(f"{key_file} can be read by other users: chmod 600 {key_file}")
    data_dir = Path(settings.DATA_DIR)
    if data_dir.exists() and data_dir.stat().st_mode & 0o007:
        notes.append(f"the data directory {data_dir} (database, photos, secret key) is open to every user "
                     f"of this machine: chmod 700 {data_dir}")
    return problems, notes


def _database_label(settings) -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite {db['NAME']}"
    return f"PostgreSQL {db.get('NAME')} on {db.get('HOST') or 'the local socket'}"


def _options(args: argparse.Namespace, workers: int) -> dict:
    from touchup.web.access_log import FORMAT, AccessLogger

    return {
        "bind": [args.bind],
        "workers": workers,
        "threads": args.threads,
        "worker_class": "gthread" if args.threads > 1 else "sync",
        "timeout": REQUEST_TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": 5,
        "accesslog": None if args.no_access_log else "-",
        "access_log_format": FORMAT,
        "logger_class": AccessLogger,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "touchup-serve",
        # gunicorn 25+ opens a control socket in $XDG_RUNTIME_DIR or ~/.gunicorn by default:
        # one more way in, and one path shared by every server the same user runs.
        "control_socket_disable": True,
    }


def _gunicorn(options: dict):
    """gunicorn's embedding API (BaseApplication): our options, no command line of its own."""
    from gunicorn.app.base import BaseApplication

    class Touchup(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            from touchup.wsgi import application

            return _without_head_bodies(application)

    return Touchup()


def _without_head_bodies(application):
    """Django answers HEAD with the GET's body; gunicorn drops it, and logs a warning for
    every such request (monitors use HEAD). Drop it here instead, keeping the headers."""

    def app(environ, start_response):
        result = application(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return result
        if hasattr(result, "close"):
            result.close()
        return []

    return app
