"""Crash consistency: the real web server and the real worker, SIGKILLed at random moments
under write load, restarted each time, and the invariants checked.

    .venv/bin/python -m benchmarks crash                      # 200 kills on SQLite
    .venv/bin/python -m benchmarks crash --kills 50 --postgres
    .venv/bin/python -m benchmarks crash --kills 5 --seed 3 --keep

What runs, each a process of its own on a throwaway data directory (an SQLite file, or with
`--postgres` a database `touchup_crash_<hex>` on `--postgres-url`, dropped at the end):

- the web server as `touchup demo` serves (Django's threaded `runserver`, no reloader);
- `touchup worker --processes 1 --interval 0.5` (tasks, sweeps, reminders, heartbeats);
- this process: a load of HTTP API calls in threads with a clinician's bearer token (new
  patients screened, charted and signed; readings recorded; photos uploaded and removed)
  and, after every restart, the checks. A sign that got no answer is sent again later
  (it must then be signed once, whatever the first attempt did).

Seeded through the services: one clinic, a clinician, a vial, and patients treated 110
days ago (their maintenance window is open, so each reading recorded for them makes the
worker recompute and then send a maintenance SMS). The clinic's time zone (and the
server's, TOUCHUP_TIME_ZONE) is a fixed offset where it is now about 20:00, so today's
signings get their aftercare SMS at once (19:00 has passed) and the day does not turn
during a run. SMS go to a file (TOUCHUP_SMS_BACKEND=file), one JSON line each.

Then `--kills` times: wait a random 0.5-4 s (seeded), SIGKILL the server, the worker or
both, start them again, and check what must hold at any moment (SQLite's integrity_check;
the audit chain up to its head; every signed chart with exactly one `treatment.sign`
event; every sign the API confirmed still signed).

At the end the load stops and the worker recovers as it would over the following hours,
without waiting for them: this process calls the sweeps with a clock moved on (a quarter
of an hour, then two hours more per round: `fail_orphaned_tasks`, `requeue_due`,
`requeue_stalled_analyses`, `dispatch_due`, whose claims and retry windows are minutes
long) and the real worker runs what they queue, until nothing is owed. Then every
invariant, on the quiet database: the above, plus `touchup audit verify`; each photo row's
file on disk with its SHA-256 and, after `sweep_orphan_files`, no file without a row; each
reminder's SMS at most once, every due one sent (or flagged as interrupted mid-send,
which by design is never resent); the outboxes empty and every forecast from the latest
signed chart; no task left RUNNING or READY, and none failed but by a killed worker; no
5xx from the server; no process that exited on its own. Exit status 1 names what failed.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime as dt
import hashlib
import http.client
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = "onabotulinumtoxinA"
INDICATION = "glabellar_lines"
VICTIMS = (("server",), ("worker",), ("server", "worker"))
VICTIM_WEIGHTS = (4, 4, 2)
# Load mix: (operation, weight). Photo analyses are the worker's long tasks (a second or so
# with the face model's load), so they are where a worker kill most often lands mid-task.
OPS = (("new_patient", 4), ("observation", 3), ("photo", 1.5), ("remove_photo", 0.5))
INTERRUPTED = "worker stopped while sending"
# --inject: damage that one invariant must catch (the harness checking itself).
FAULTS = {
    "audit": "one audit event's detail edited in place",
    "photo-file": "one kept photo's file deleted",
    "sms": "one SMS line written twice",
    "reminder": "one sent reminder marked unsent",
    "outbox": "a recompute request left owed",
}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks crash", description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=200, help="SIGKILLs (default 200)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the kill moments, victims and load (default 0)")
    ap.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL database instead of SQLite")
    ap.add_argument("--postgres-url", default=os.environ.get("TOUCHUP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432"),
                    help="the server for --postgres (default %(default)s)")
    ap.add_argument("--threads", type=int, default=3, help="load threads (default 3)")
    ap.add_argument("--think", type=float, default=0.1,
                    help="mean pause of a load thread between operations, seconds (default 0.1; 0: flat out)")
    ap.add_argument("--history-patients", type=int, default=30, help="seeded patients treated 110 days ago")
    ap.add_argument("--min-gap", type=float, default=0.5, help="seconds between a restart and the next kill, at least")
    ap.add_argument("--max-gap", type=float, default=4.0, help="... and at most")
    ap.add_argument("--aimed", type=float, default=0.5,
                    help="share of worker kills aimed at a reminder send or a running task (default 0.5)")
    ap.add_argument("--check-every", type=int, default=1, help="run the running checks after every Nth restart")
    ap.add_argument("--inject", default="", metavar="FAULT,...",
                    help="break the data before the final checks, to see them fail: " + ", ".join(FAULTS))
    ap.add_argument("--keep", action="store_true", help="keep the data directory (always kept when a check fails)")
    args = ap.parse_args(argv)
    args.inject = [f for f in args.inject.split(",") if f]
    if unknown := [f for f in args.inject if f not in FAULTS]:
        ap.error(f"--inject: unknown {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    if args.kills < 0 or args.threads < 1 or not 0 <= args.min_gap <= args.max_gap or args.check_every < 1:
        ap.error("need --kills >= 0, --threads >= 1, 0 <= --min-gap <= --max-gap, --check-every >= 1")
    if "django.conf" in sys.modules:
        from django.conf import settings

        if settings.configured:
            # Another benchmark set Django up in this process (`python -m benchmarks`): the
            # harness needs its own settings (data directory, database), so it runs afresh.
            return subprocess.call([sys.executable, "-m", "benchmarks", "crash", *argv], cwd=ROOT)
    return CrashRun(args).run()


# --- processes -------------------------------------------------------------------------


class Child:
    """One `touchup` process, started again after each kill; output appended to a log."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path):
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.unexpected: list[str] = []  # exits nobody asked for

    def start(self, *extra: str) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {self.starts + 1} {' '.join(extra)}\n".encode())
            self.proc = subprocess.Popen([*self.cmd, *extra], env=self.env, cwd=ROOT, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a pulled plug would (nothing runs after it)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, grace: float = 60.0) -> int | None:
        """SIGTERM, the clean stop; killed if it does not leave within `grace`."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.unexpected.append(f"did not stop within {grace:g} s of SIGTERM")
                self.kill()
        return self.proc.returncode

    def check_exited(self) -> bool:
        """True (and recorded) if it exited on its own since it was started."""
        if self.proc is not None and self.proc.poll() is not None:
            self.unexpected.append(f"exit status {self.proc.returncode} after start {self.starts}: "
                                   f"{self.tail(6)!r}")
            return True
        return False

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _evening_zone(now: dt.datetime) -> str:
    """A fixed-offset zone (Etc/GMT±N, whose sign is POSIX's, the reverse of ISO's) where
    it is now 20:00-20:59: after the 19:00 aftercare time, hours before midnight."""
    offset = 20 - now.hour
    if offset > 14:
        offset -= 24
    if offset == 0:
        return "UTC"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


# --- load ------------------------------------------------------------------------------


class NoAnswer(Exception):
    """The request was sent and no answer came (the server died): it may or may not have
    happened."""


class Load:
    """HTTP API writes from a few threads, as a clinician's scripts would send them."""

    def __init__(self, port: int, token: str, seed: int, threads: int, history: list[str], vial_id: int,
                 protocol: str, answers: dict, jpegs: list[bytes], phone_prefix: str, think: float):
        self.port, self.token, self.seed, self.n_threads, self.think = port, token, seed, threads, think
        self.history, self.vial_id, self.protocol, self.answers = history, vial_id, protocol, answers
        self.jpegs = jpegs
        self.phone_prefix = phone_prefix
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.numbers = itertools.count(1)
        self.stats: collections.Counter[str] = collections.Counter()
        self.server_errors: list[str] = []
        self.acked_signs: set[str] = set()  # treatments the API answered 200 (or 409) to signing
        self.unsure_signs: list[str] = []  # sign sent, no answer: sent again later
        self.resigned: collections.Counter[int] = collections.Counter()  # status of the sign sent again
        self.patients: list[str] = list(history)  # patients a photo can be taken of
        self.photos: list[str] = []  # photos the API answered 201 to (not removed)
        self.removed: set[str] = set()
        self.used_jpegs: set[tuple[str, int]] = set()
        self.threads: list[threading.Thread] = []

    # HTTP ---------------------------------------------------------------------------

    def call(self, method: str, path: str, body: object = None, *, multipart: tuple[bytes, str] | None = None,
             stopping_ok: bool = False) -> tuple[int, object]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if multipart is not None:
            data, headers["Content-Type"] = multipart
        elif body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        else:
            data = b""
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                conn.request(method, "/api" + path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except ConnectionRefusedError:
                # Nobody listening (killed, not back yet): nothing was sent, so it is safe to
                # send it again once the server is back.
                conn.close()
                if self.stopping.is_set() and not stopping_ok:
                    raise NoAnswer("server down while stopping") from None
                time.sleep(0.05)
                continue
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                with self.lock:
                    self.stats["no answer"] += 1
                raise NoAnswer(type(exc).__name__) from exc
            conn.close()
            status = resp.status
            if raw == b"" and status != 204:
                # Killed between the status line and the headers: the runserver writes them
                # separately, http.client takes EOF for the end of the headers, and with no
                # Content-Length it reads the body to EOF (b""). As good as no answer: the
                # write may or may not have committed. (A body cut short after the headers
                # raises IncompleteRead above.)
                with self.lock:
                    self.stats["answer cut short"] += 1
                raise NoAnswer(f"{status} with no headers or body")
            with self.lock:
                self.stats[f"{status // 100}xx" if status != 409 else "409"] += 1
                if status >= 500:
                    self.server_errors.append(f"{method} {path} -> {status}: {raw[:300]!r}")
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = raw
            return status, payload

    # operations ---------------------------------------------------------------------

    def new_patient(self, rng: random.Random) -> None:
        n = next(self.numbers)
        status, p = self.call("POST", "/patients", {
            "given_name": f"Crash{n}", "family_name": "Load", "birth_date": "1985-06-15", "sex": "female",
            "phone": f"{self.phone_prefix}{n:07d}",
        })
        if status != 201:
            return
        pid = p["id"]
        status, _ = self.call("POST", f"/patients/{pid}/screenings", {"indication": INDICATION, "answers": self.answers})
        if status != 201:
            return
        status, t = self.call("POST", f"/patients/{pid}/treatments", {
            "indication": INDICATION, "product": PRODUCT, "protocol": self.protocol, "vial_id": self.vial_id,
        })
        if status != 201:
            return
        with self.lock:
            self.patients.append(pid)
        self.sign(t["id"])

    def sign(self, tid: str, *, again: bool = False) -> None:
        try:
            status, _ = self.call("POST", f"/treatments/{tid}/sign", stopping_ok=again)
        except NoAnswer:
            with self.lock:
                self.unsure_signs.append(tid)
            return
        with self.lock:
            if again:
                self.resigned[status] += 1
            if status in (200, 409):  # 409: already signed, by the attempt that got no answer
                self.acked_signs.add(tid)
            else:
                self.stats[f"sign refused {status}"] += 1

    def observation(self, rng: random.Random) -> None:
        pid = rng.choice(self.history)
        self.call("POST", f"/patients/{pid}/observations",
                  {"area": "glabella", "kind": "fws_grade", "value": rng.randint(0, 3)})

    def photo(self, rng: random.Random) -> None:
        with self.lock:
            pid = rng.choice(self.patients)
            free = [k for k in range(len(self.jpegs)) if (pid, k) not in self.used_jpegs]
            if not free:
                return
            k = rng.choice(free)
            self.used_jpegs.add((pid, k))
        status, photo = self.call("POST", f"/patients/{pid}/photos", multipart=_multipart(
            {"view": "frown", "consent_clinical": "true"}, ("photo", f"frown{k}.jpg", self.jpegs[k], "image/jpeg")))
        if status == 201:
            with self.lock:
                self.photos.append(photo["id"])

    def remove_photo(self, rng: random.Random) -> None:
        with self.lock:
            if not self.photos:
                return
            photo = self.photos.pop(rng.randrange(len(self.photos)))
        status, _ = self.call("POST", f"/photos/{photo}/remove", {"reason": "duplicate"})
        if status == 200:
            with self.lock:
                self.removed.add(photo)

    # threads ------------------------------------------------------------------------

    def _run(self, k: int) -> None:
        rng = random.Random(f"{self.seed}/load/{k}")
        names, weights = zip(*OPS)
        while not self.stopping.is_set():
            try:
                with self.lock:
                    retry = self.unsure_signs.pop(0) if self.unsure_signs and rng.random() < 0.5 else None
                if retry is not None:
                    self.sign(retry, again=True)
                    continue
                getattr(self, rng.choices(names, weights)[0])(rng)
                if self.think:
                    self.stopping.wait(rng.expovariate(1 / self.think))
            except NoAnswer:
                time.sleep(0.05)
            except Exception:  # noqa: BLE001 - a harness bug must not stop the load silently
                with self.lock:
                    self.stats["load errors"] += 1
                    self.server_errors.append("load thread: " + traceback.format_exc(limit=3))
                time.sleep(0.2)

    def start(self) -> None:
        for k in range(self.n_threads):
            t = threading.Thread(target=self._run, args=(k,), name=f"load-{k}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=180)

    def settle_signs(self) -> None:
        """Send each sign that got no answer again, the server up, until it gets one."""
        for _ in range(5):
            with self.lock:
                pending, self.unsure_signs = self.unsure_signs, []
            if not pending:
                return
            for tid in pending:
                self.sign(tid, again=True)


def _multipart(fields: dict[str, str], file: tuple[str, str, bytes, str]) -> tuple[bytes, str]:
    boundary = "touchup-crash-" + secrets.token_hex(8)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    field, filename, data, ctype = file
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                 f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --- checks ----------------------------------------------------------------------------


class Checks:
    """Each invariant's runs and failures (the first few details kept)."""

    def __init__(self) -> None:
        self.runs: collections.Counter[str] = collections.Counter()
        self.failures: dict[str, list[str]] = collections.defaultdict(list)
        self.order: list[str] = []

    def record(self, name: str, problems: list[str]) -> None:
        if name not in self.runs:
            self.order.append(name)
        self.runs[name] += 1
        if problems:
            self.failures[name].extend(problems[:3])
            print(f"  FAILED {name}: {'; '.join(problems[:3])}", flush=True)

    def failed(self) -> list[str]:
        return [n for n in self.order if self.failures.get(n)]


class CrashRun:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rng = random.Random(f"{args.seed}/kills")
        self.checks = Checks()
        self.kills: collections.Counter[str] = collections.Counter()
        self.aims: collections.Counter[str] = collections.Counter()  # aimed worker kills
        self.interrupted: collections.Counter[str] = collections.Counter()  # what a worker kill cut short
        self.facts: dict[str, object] = {}
        self.backend = "postgresql" if args.postgres else "sqlite"

    # setup --------------------------------------------------------------------------

    def run(self) -> int:
        self.root = Path(tempfile.mkdtemp(prefix="touchup-crash-"))
        self.db_name = f"touchup_crash_{secrets.token_hex(4)}" if self.args.postgres else None
        self.children: list[Child] = []
        ok = False
        started = time.monotonic()
        try:
            self._environment()
            self._seed()
            self._start()
            self._kill_loop()
            self._recover()
            self._inject()
            self._final_checks()
            self.facts["seconds"] = round(time.monotonic() - started)
            self._summary()
            ok = not self.checks.failed()
        finally:
            if hasattr(self, "load"):
                self.load.stopping.set()
            for child in self.children:
                child.kill()
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            if self.db_name:
                self._drop_database()
            if ok and not self.args.keep:
                shutil.rmtree(self.root, ignore_errors=True)
            else:
                print(f"data directory kept: {self.root}")
        if not ok:
            print(f"crash consistency FAILED: {', '.join(self.checks.failed()) or 'the run did not finish'}")
            return 1
        return 0

    def _environment(self) -> None:
        self.port = _free_port()
        self.zone = _evening_zone(dt.datetime.now(dt.timezone.utc))
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "TOUCHUP_TASKS_REDIS_URL",
                            "TOUCHUP_TASKS_REDIS_URL_FILE", "TOUCHUP_DEV", "TOUCHUP_TESTING")}
        env.update(
            DJANGO_SETTINGS_MODULE="touchup.settings", TOUCHUP_DATA_DIR=str(self.root / "var"),
            TOUCHUP_SMS_BACKEND="file", TOUCHUP_SMS_FILE=str(self.root / "sms.log"), TOUCHUP_TIME_ZONE=self.zone,
            TOUCHUP_PUBLIC_URL=f"http://127.0.0.1:{self.port}",
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        )
        if self.db_name:
            import psycopg

            base = self.args.postgres_url.rstrip("/")
            with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{self.db_name}"')
            env["DATABASE_URL"] = f"{base}/{self.db_name}"
        (self.root / "var" / "static").mkdir(parents=True)
        self.env = env
        os.environ.clear()
        os.environ.update(env)  # this process checks the same database as the children use
        import django

        django.setup()
        print(f"crash consistency on {self.backend} ({self.db_name or self.root / 'var'}), seed {self.args.seed}, "
              f"{self.args.kills} kills, time zone {self.zone}", flush=True)

    def _seed(self) -> None:
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.utils import timezone

        from touchup.clinic import tokens
        from touchup.clinic.models import Clinic, Membership
        from touchup.clinic.services.patients import patient_create
        from touchup.clinic.services.screenings import screening_record
        from touchup.clinic.services.treatments import treatment_sign, treatment_start
        from touchup.clinic.services.vials import vial_receive, vial_reconstitute
        from touchup.core.catalogue import load_catalogue
        from touchup.core.screening import questions_for

        call_command("migrate", verbosity=0)
        clinic = Clinic.objects.create(name="Crash Clinic", slug="crash", time_zone=self.zone)
        doc = get_user_model().objects.create_user(username="crash.doc")
        Membership.objects.create(user=doc, clinic=clinic, role="clinician", is_doctor=True)
        token = tokens.token_create(actor=doc, name="crash load").secret
        vial = vial_receive(actor=doc, clinic=clinic, product=PRODUCT, lot="CRASH1",
                            expiry=timezone.localdate() + dt.timedelta(days=300), units=100)
        vial = vial_reconstitute(actor=doc, vial=vial, diluent_ml="2.5")
        protocol = next(p.key for p in load_catalogue().protocols_for(INDICATION)
                        if (getattr(p, "product", "") or "") in ("", PRODUCT))
        answers = {q.key: {"answer": False, "details": ""} for q in questions_for(INDICATION)}
        phone = f"+4470{self.rng.randrange(10**4):04d}"
        history = []
        for i in range(self.args.history_patients):
            p = patient_create(actor=doc, clinic=clinic, given_name=f"Hist{i}", family_name="Seed",
                               birth_date=dt.date(1979, 4, 2), sex="female", phone=f"{phone}9{i:06d}")
            screening_record(actor=doc, patient=p, indication=INDICATION, answers=answers)
            t = treatment_start(actor=doc, patient=p, indication=INDICATION, product=PRODUCT, protocol=protocol,
                                treated_on=timezone.localdate() - dt.timedelta(days=110), vial=vial)
            treatment_sign(actor=doc, treatment=t)  # its recompute is queued: the worker's first work
            history.append(str(p.public_id))
        sys.path.insert(0, str(ROOT))
        from tests.photos import images

        jpegs = [images.jpeg(images.shifted(dx=3 * k, brightness=1.0 - 0.01 * (k % 7))) for k in range(24)]
        self.load = Load(self.port, token, self.args.seed, self.args.threads, history, vial.pk, protocol, answers,
                         jpegs, phone_prefix=f"{phone}1", think=self.args.think)

    def _start(self) -> None:
        py = [sys.executable, "-m", "touchup.cli"]
        # As `touchup demo` serves: Django's threaded runserver, without the reloader.
        self.server = Child("server", [*py, "manage", "runserver", f"127.0.0.1:{self.port}", "--noreload",
                                       "--skip-checks"], self.env, self.root / "server.log")
        self.worker = Child("worker", [*py, "worker", "--processes", "1", "--interval", "0.5"], self.env,
                            self.root / "worker.log")
        self.children = [self.server, self.worker]
        self.server.start()
        self._start_worker()
        self._wait_ready()
        self.load.start()

    def _start_worker(self) -> None:
        self.worker_id = f"crash-w{self.worker.starts + 1}"
        self.worker.start("--worker-id", self.worker_id)

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.check_exited():
                self.server.start()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/health/")
                conn.getresponse().read()
                return
            except OSError:
                time.sleep(0.05)
            finally:
                conn.close()
        raise RuntimeError(f"the server did not answer within {timeout:g} s:\n{self.server.tail()}")

    # the kills ----------------------------------------------------------------------

    def _kill_loop(self) -> None:
        t0 = time.monotonic()
        for i in range(1, self.args.kills + 1):
            victims = self.rng.choices(VICTIMS, VICTIM_WEIGHTS)[0]
            # Some worker kills are aimed: within the same window, at the first moment the
            # worker is seen with a reminder claimed and not yet sent, or a task running.
            aim = (self.rng.choice(("reminder", "task"))
                   if "worker" in victims and self.rng.random() < self.args.aimed else None)
            deadline = time.monotonic() + self.rng.uniform(self.args.min_gap, self.args.max_gap)
            next_look = 0.0
            while time.monotonic() < deadline:
                if aim and self._worker_has_in_hand(aim):
                    self.aims[f"at a {aim}: hit"] += 1
                    aim = None
                    break
                time.sleep(0.003 if aim else 0.05)
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + 0.05
                    for child in self.children:
                        if child.check_exited():  # recorded as a failure; started again
                            self._restart(child)
            if aim:
                self.aims[f"at a {aim}: not seen in time"] += 1
            self.kills["+".join(victims)] += 1
            for name in victims:
                getattr(self, name).kill()
            if "worker" in victims:
                self._note_interrupted()
            for name in victims:
                self._restart(getattr(self, name))
            if i % self.args.check_every == 0 or i == self.args.kills:
                self._running_checks()
            if i % 20 == 0 or i == self.args.kills:
                with self.load.lock:
                    stats = dict(self.load.stats)
                print(f"  {i} kills, {time.monotonic() - t0:.0f} s; load {stats}", flush=True)

    def _worker_has_in_hand(self, what: str) -> bool:
        from django_tasks_db.models import DBTaskResult

        from touchup.maintenance.models import Reminder

        if what == "reminder":
            return Reminder.objects.filter(claimed_by=self.worker_id, sent_at__isnull=True,
                                           cancelled_at__isnull=True).exists()
        return any(ids and ids[-1] == self.worker_id
                   for ids in DBTaskResult.objects.running().values_list("worker_ids", flat=True))

    def _restart(self, child: Child) -> None:
        if child is self.worker:
            self._start_worker()
        else:
            child.start()
            self._wait_ready()

    def _note_interrupted(self) -> None:
        """What the killed worker had in hand: a task RUNNING, a reminder claimed or mid-send."""
        from django_tasks_db.models import DBTaskResult

        from touchup.maintenance.models import Reminder

        for path, ids in DBTaskResult.objects.running().values_list("task_path", "worker_ids"):
            if ids and ids[-1] == self.worker_id:
                self.interrupted[f"task {path.rsplit('.', 1)[-1]}"] += 1
        held = Reminder.objects.filter(claimed_by=self.worker_id, sent_at__isnull=True, cancelled_at__isnull=True)
        self.interrupted["reminder claimed, not started"] += held.filter(send_started_at__isnull=True).count()
        self.interrupted["reminder mid-send"] += held.filter(send_started_at__isnull=False).count()

    # checks at any moment -----------------------------------------------------------

    def _running_checks(self) -> None:
        self._check_integrity()
        self._check_audit_prefix()
        self._check_signs(final=False)

    def _check_integrity(self) -> None:
        from django.db import connection

        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cur:
            cur.execute("PRAGMA integrity_check")
            rows = [r[0] for r in cur.fetchall()]
        self.checks.record("SQLite integrity_check is ok", [] if rows == ["ok"] else rows[:3])

    def _check_audit_prefix(self) -> None:
        """The chain up to the head as read first: what `audit.verify` checks, except that
        events appended meanwhile (the load and the worker keep writing) are left for the
        next check. The head and its last event commit together, so every event up to the
        head read is there."""
        from touchup.clinic.audit import GENESIS, _hash
        from touchup.clinic.models import AuditChainHead, AuditEvent

        head = AuditChainHead.objects.filter(pk=1).values_list("last_id", "last_hash").first()
        last_id, last_hash = head or (0, GENESIS)
        prev, expected, problems = GENESIS, 1, []
        while expected <= last_id and not problems:
            for event in AuditEvent.objects.filter(id__gte=expected, id__lte=last_id).order_by("id")[:5000]:
                if event.id != expected:
                    problems.append(f"event {expected} is missing")
                    break
                if event.prev_hash != prev or _hash(prev, event) != event.hash:
                    problems.append(f"event {event.id} does not verify")
                    break
                prev, expected = event.hash, expected + 1
            else:
                if expected <= last_id and not AuditEvent.objects.filter(id__gte=expected, id__lte=last_id).exists():
                    problems.append(f"events {expected}-{last_id} are missing")
        if not problems and prev != last_hash:
            problems.append(f"the head's hash is not event {last_id}'s")
        self.checks.record("audit chain verifies", problems)

    def _check_signs(self, *, final: bool) -> None:
        """Every signed chart has exactly one `treatment.sign` event, and every sign the API
        confirmed is signed. Read in that order (the confirmations, the charts, the events),
        so a sign committing meanwhile is never taken for a missing one."""
        from touchup.clinic.models import AuditEvent, Treatment

        with self.load.lock:
            acked = set(self.load.acked_signs)
        signed = {str(u) for u in Treatment.objects.filter(status="signed").values_list("public_id", flat=True)}
        events = collections.Counter(
            AuditEvent.objects.filter(action="treatment.sign", outcome="ok").values_list("object_id", flat=True))
        problems = [f"treatment {t} has {events[t]} sign events" for t in sorted(signed) if events[t] != 1]
        if final:
            problems += [f"sign event for treatment {t}, which is not signed" for t in sorted(set(events) - signed)]
        self.checks.record("every signed chart has exactly one treatment.sign event", problems)
        lost = sorted(acked - signed)
        self.checks.record("every sign the API confirmed is still signed",
                           [f"treatment {t} was confirmed signed and is not" for t in lost])
        if final:
            self.facts["signed charts"] = len(signed)

    # recovery -----------------------------------------------------------------------

    def _recover(self) -> None:
        """Stop the load, then let the worker catch up as it would over the next hours, the
        sweeps' clock moved on instead of waiting (retry windows of 5 minutes to an hour,
        reminder claims of 10 minutes, 2 minutes before a silent worker counts as dead)."""
        from django.utils import timezone

        from touchup.clinic.services.photos import requeue_stalled_analyses
        from touchup.maintenance.services.forecasts import requeue_due
        from touchup.maintenance.services.reminders import dispatch_due
        from touchup.maintenance.services.workers import fail_orphaned_tasks

        self.load.settle_signs()
        self._note_backlog()
        self.load.stop()
        self.load.settle_signs()
        for child in self.children:
            child.check_exited()
        self.server.stop()
        # The last kill: whatever the worker had in hand is left as a crash leaves it.
        self.worker.kill()
        self._note_interrupted()
        swept = collections.Counter()
        rounds = 0
        for rounds in range(1, 7):
            clock = timezone.now() + dt.timedelta(minutes=15) + dt.timedelta(hours=2) * (rounds - 1)
            swept["tasks of killed workers marked failed"] += fail_orphaned_tasks(now=clock)
            swept["recomputes queued again"] += requeue_due(now=clock)
            photos = requeue_stalled_analyses(now=clock)
            swept["photo analyses queued again"] += photos.queued
            swept["photo analyses given up"] += photos.failed
            sent = dispatch_due("crash-recovery", now=clock)
            swept["reminders sent by the recovery sweep"] += sent["sent"]
            self._start_worker()
            self._drain()
            if self.worker.stop() not in (0, None):
                self.worker.unexpected.append(f"exit status {self.worker.proc.returncode} on SIGTERM")
            if not self._owed():
                break
        self.stopped_at = timezone.now()
        self.facts["recovery rounds"] = rounds
        self.facts.update(swept)

    def _note_backlog(self) -> None:
        """How far behind the worker was when the load stopped: reminders due and not sent
        (the oldest's wait), and tasks waiting."""
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult

        from touchup.maintenance.models import Reminder

        now = timezone.now()
        waiting = list(Reminder.objects.filter(sent_at__isnull=True, cancelled_at__isnull=True, due_at__lte=now)
                       .values_list("due_at", flat=True))
        self.facts["due reminders unsent when the load stopped"] = len(waiting)
        if waiting:
            self.facts["the oldest had waited (s)"] = round((now - min(waiting)).total_seconds())
        self.facts["tasks ready when the load stopped"] = DBTaskResult.objects.ready().count()

    def _drain(self, timeout: float = 300.0) -> None:
        """Wait until the worker has run every ready task and sent every due reminder."""
        from django.db.models import Q
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult

        from touchup.maintenance.models import Reminder
        from touchup.maintenance.services.reminders import CLAIM_LEASE, MAX_ATTEMPTS

        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if self.worker.check_exited():
                self._start_worker()
            now = timezone.now()
            # Tasks ready, or running in this worker (those of killed ones are the sweep's).
            busy = DBTaskResult.objects.ready().count() + sum(
                1 for ids in DBTaskResult.objects.running().values_list("worker_ids", flat=True)
                if ids and ids[-1] == self.worker_id)
            # What dispatch_due would claim now (reminders._claimable).
            due = Reminder.objects.filter(
                Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE),
                sent_at__isnull=True, cancelled_at__isnull=True, send_started_at__isnull=True,
                due_at__lte=now, attempts__lt=MAX_ATTEMPTS).count()
            quiet = quiet + 1 if not busy and not due else 0
            if quiet >= 4:  # a second of nothing to do: nothing queued on a commit in flight
                return
            time.sleep(0.25)
        self.worker.unexpected.append(f"still busy {timeout:g} s into a recovery round")

    def _owed(self) -> int:
        from touchup.clinic.models import Photo
        from touchup.maintenance.models import (
            CalibrationFitRequest, ClinicRecomputeRequest, RecomputeRequest, TrackRecordRequest,
        )

        return (RecomputeRequest.objects.count() + ClinicRecomputeRequest.objects.count()
                + CalibrationFitRequest.objects.count() + TrackRecordRequest.objects.count()
                + Photo.objects.filter(analysis_retry_at__isnull=False).count())

    def _inject(self) -> None:
        from django.core.files.storage import default_storage

        from touchup.clinic.models import AuditEvent, Patient, Photo
        from touchup.maintenance.models import RecomputeRequest, Reminder

        for fault in self.args.inject:
            print(f"  injecting: {FAULTS[fault]}", flush=True)
            if fault == "audit":
                event = AuditEvent.objects.order_by("id")[10]
                AuditEvent.objects.filter(pk=event.pk).update(detail={**event.detail, "injected": True})
            elif fault == "photo-file":
                default_storage.delete(Photo.objects.filter(removed_at__isnull=True).exclude(file="").first().file.name)
            elif fault == "sms":
                sms = self.root / "sms.log"
                with open(sms, "a", encoding="utf-8") as fh:
                    fh.write(sms.read_text(encoding="utf-8").splitlines()[0] + "\n")
            elif fault == "reminder":
                Reminder.objects.filter(pk=Reminder.objects.filter(sent_at__isnull=False).first().pk).update(
                    sent_at=None, send_started_at=None, claimed_at=None, claimed_by="")
            elif fault == "outbox":
                RecomputeRequest.objects.create(patient=Patient.objects.first(), token=uuid.uuid4(),
                                                requested_at=self.stopped_at, retry_at=self.stopped_at)

    # checks at the end --------------------------------------------------------------

    def _final_checks(self) -> None:
        from touchup.clinic import audit

        self._check_integrity()
        result = audit.verify()
        self.checks.record("audit chain verifies", [] if result.ok else [result.problem])
        cli = subprocess.run([sys.executable, "-m", "touchup.cli", "audit", "verify"], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
        self.checks.record("`touchup audit verify` exits 0",
                           [] if cli.returncode == 0 else [(cli.stderr or cli.stdout).strip()[:300]])
        self.facts["audit events"] = result.events
        unsure = list(self.load.unsure_signs)
        self._check_signs(final=True)
        self.checks.record("every sign sent again got an answer",
                           [f"{len(unsure)} signs never answered: {unsure[:3]}"] if unsure else [])
        self._check_photos()
        self._check_reminders()
        self._check_owed()
        self._check_tasks()
        self.checks.record("the server never answered 5xx", list(self.load.server_errors))
        self.checks.record("no process exited on its own",
                           [f"{c.name}: {u}" for c in self.children for u in c.unexpected])

    def _check_photos(self) -> None:
        from django.core.files.storage import default_storage

        from touchup.clinic.models import Photo
        from touchup.clinic.services.photos import PHOTO_DIR, sweep_orphan_files

        # Nothing is uploading now, so no file is too young to be judged: age 0.
        swept = sweep_orphan_files(older_than=dt.timedelta(0))
        self.facts["orphan photo files swept"] = len(swept)
        rows = list(Photo.objects.values_list("public_id", "file", "file_sha256", "removed_at"))
        problems, named = [], set()
        for public_id, name, sha, removed_at in rows:
            if removed_at is not None:
                if name:
                    problems.append(f"removed photo {public_id} still names {name}")
                continue
            named.add(name)
            try:
                with default_storage.open(name, "rb") as fh:
                    data = fh.read()
            except (FileNotFoundError, ValueError):
                problems.append(f"photo {public_id} has no file ({name!r})")
                continue
            if hashlib.sha256(data).hexdigest() != sha:
                problems.append(f"photo {public_id}'s file does not match its SHA-256")
        self.checks.record("every photo row has its file (SHA-256 intact)", problems)
        try:
            on_disk = {f"{PHOTO_DIR}/{n}" for n in default_storage.listdir(PHOTO_DIR)[1]}
        except FileNotFoundError:
            on_disk = set()
        self.checks.record("no photo file without its row after sweep_orphan_files",
                           [f"{n} has no row" for n in sorted(on_disk - named)])
        kept = {str(u) for u in Photo.objects.filter(removed_at__isnull=True).values_list("public_id", flat=True)}
        removed = {str(u) for u in Photo.objects.filter(removed_at__isnull=False).values_list("public_id", flat=True)}
        self.checks.record("every upload and removal the API confirmed holds",
                           [f"photo {p} was confirmed kept and is not" for p in self.load.photos if p not in kept]
                           + [f"photo {p} was confirmed removed and is not" for p in self.load.removed
                              if p not in removed])
        self.facts["photos kept"] = len(kept)
        self.facts["photos removed"] = len(removed)

    def _check_reminders(self) -> None:
        from touchup.maintenance.models import Channel, Reminder
        from touchup.maintenance.services.messages import compose

        lines: collections.Counter[tuple[str, str]] = collections.Counter()
        torn = 0
        sms = self.root / "sms.log"
        for line in (sms.read_text(encoding="utf-8").splitlines() if sms.exists() else []):
            try:
                m = json.loads(line)
                lines[(m["to"], m["body"])] += 1
            except (ValueError, KeyError, TypeError):
                torn += 1
        reminders = list(Reminder.objects.select_related("patient__clinic", "treatment"))
        keys = {}
        for r in reminders:
            if r.channel != Channel.SMS:
                continue
            body = compose(r, clinic_name=r.patient.clinic.name, given_name=r.patient.given_name,
                           treated_on=r.treatment.treated_on).body
            keys[r.pk] = (r.patient.phone, body)
        at_most, at_least, counts = [], [], collections.Counter()
        if torn:
            at_most.append(f"{torn} SMS file lines are not whole JSON lines")
        for r in reminders:
            interrupted = r.cancelled_at is not None and INTERRUPTED in r.last_error
            if r.sent_at is not None:
                counts["sent"] += 1
            elif interrupted:
                counts["interrupted mid-send (not resent, by design)"] += 1
            elif r.cancelled_at is not None:
                counts["cancelled"] += 1
            elif r.due_at <= self.stopped_at:
                at_least.append(f"reminder {r.pk} ({r.step}) due {r.due_at:%H:%M:%S} was never sent "
                                f"(attempts {r.attempts}, claimed {r.claimed_at is not None}, {r.last_error!r})")
            else:
                counts["not due yet"] += 1
        # The SMS lines are matched to reminders by number and text. The wear-off watch sends
        # one patient the same text several times (a check-in a week), so the lines are
        # counted against all the reminders with that number and text: at most one line for
        # each that was recorded sent or flagged interrupted (its send had started), at least
        # one for each recorded sent. With one reminder per number and text (every other
        # step) this is the check for that reminder alone; in a group, a second copy of one
        # reminder goes unseen only if another of the group was interrupted before its SMS left.
        groups = collections.defaultdict(list)
        for r in reminders:
            if r.pk in keys:
                groups[keys[r.pk]].append(r)
        for key, group in groups.items():
            n = lines[key]
            sent = sum(r.sent_at is not None for r in group)
            interrupted = sum(r.sent_at is None and r.cancelled_at is not None and INTERRUPTED in r.last_error
                              for r in group)
            what = (f"reminder {group[0].pk} ({group[0].step})" if len(group) == 1 else
                    f"reminders {', '.join(str(r.pk) for r in group)} (one number and text)")
            if n > sent + interrupted:
                at_most.append(f"{what}: {n} SMS, {sent} recorded sent, {interrupted} interrupted mid-send")
            if n < sent:
                at_least.append(f"{what}: {sent} recorded sent, {n} SMS in the file")
            if interrupted:
                counts["of which the SMS had gone out"] += min(max(n - sent, 0), interrupted)
            if len(group) > 1:
                counts["sharing one number and text with another"] += len(group)
        known = set(keys.values())
        at_most += [f"an SMS to {to} matches no reminder" for to, _ in lines if (to, _) not in known]
        self.checks.record("each reminder sent at most once", at_most)
        self.checks.record("every due reminder sent (or flagged interrupted)", at_least)
        for k, v in counts.items():
            self.facts[f"reminders {k}"] = v
        self.facts["SMS lines"] = sum(lines.values())

    def _check_owed(self) -> None:
        from touchup.clinic.models import Photo, Treatment
        from touchup.maintenance.models import (
            AreaForecast, CalibrationFitRequest, ClinicRecomputeRequest, RecomputeRequest, TrackRecordRequest,
        )

        problems = []
        for model in (RecomputeRequest, ClinicRecomputeRequest, CalibrationFitRequest, TrackRecordRequest):
            if n := model.objects.count():
                problems.append(f"{n} {model.__name__} rows left")
        if n := Photo.objects.filter(analysis_retry_at__isnull=False).count():
            problems.append(f"{n} photo analyses still owed")
        if n := Photo.objects.filter(removed_at__isnull=True, consent_clinical=True, analysis_status="pending").count():
            problems.append(f"{n} kept photos still pending analysis")
        self.checks.record("every owed recompute and analysis done (outboxes empty)", problems)
        self.facts["photo analyses failed"] = Photo.objects.filter(analysis_status="failed").count()
        # And done from the data as it stands: each area of each patient's latest signed
        # chart has its forecast from that chart.
        latest = {}
        for t in Treatment.objects.filter(status="signed").order_by("treated_on", "pk").prefetch_related("points"):
            latest[t.patient_id] = t
        have = {(f.patient_id, f.area): f.treatment_id for f in AreaForecast.objects.all()}
        stale = [f"patient row {pid}: {area} forecast from {have.get((pid, area))}, latest chart {t.pk}"
                 for pid, t in latest.items() for area in {p.area for p in t.points.all()}
                 if have.get((pid, area)) != t.pk]
        self.checks.record("every forecast is from the latest signed chart", stale)

    def _check_tasks(self) -> None:
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult

        from touchup.maintenance.services.workers import WorkerLost, fail_orphaned_tasks

        left = DBTaskResult.objects.running().count()
        failed_now = fail_orphaned_tasks(now=timezone.now() + dt.timedelta(minutes=15))
        still = DBTaskResult.objects.running().count()
        ready = DBTaskResult.objects.ready().count()
        self.checks.record("no task left RUNNING after the heartbeat grace",
                           [f"{still} tasks RUNNING (of {left} before fail_orphaned_tasks)"] if still else [])
        self.checks.record("no task left READY", [f"{ready} tasks READY"] if ready else [])
        lost = f"{WorkerLost.__module__}.{WorkerLost.__qualname__}"
        errors = collections.Counter(DBTaskResult.objects.failed().exclude(exception_class_path=lost)
                                     .values_list("exception_class_path", flat=True))
        sample = [tb[-400:] for tb in DBTaskResult.objects.failed().exclude(exception_class_path=lost)
                  .values_list("traceback", flat=True)[:2]]
        self.checks.record("no task failed but by a killed worker",
                           [f"{n} x {cls}" for cls, n in errors.items()] + sample)
        self.facts["tasks run"] = DBTaskResult.objects.successful().count()
        self.facts["tasks failed by a killed worker"] = DBTaskResult.objects.failed().filter(
            exception_class_path=lost).count()
        self.facts["tasks failed at the end check"] = failed_now

    # report -------------------------------------------------------------------------

    def _summary(self) -> None:
        load = self.load
        kills = ", ".join(f"{k} {v}" for k, v in sorted(self.kills.items()))
        print()
        print(f"Crash consistency, {self.backend}, seed {self.args.seed}: {sum(self.kills.values())} SIGKILLs "
              f"({kills}) in {self.facts.get('seconds')} s")
        print(f"load: {dict(sorted(load.stats.items()))}; signs sent again after no answer: "
              f"{dict(load.resigned)}")
        print(f"aimed worker kills: {dict(sorted(self.aims.items()))}; a killed worker had in hand: "
              f"{dict(sorted(self.interrupted.items()))}")
        print("after recovery: " + "; ".join(f"{k} {v}" for k, v in self.facts.items() if k != "seconds"))
        print()
        print("| invariant | checks | result |")
        print("|---|---|---|")
        for name in self.checks.order:
            bad = self.checks.failures.get(name)
            result = "FAILED: " + "; ".join(bad[:2]) if bad else "ok"
            print(f"| {name} | {self.checks.runs[name]} | {result} |")
        print(flush=True)

    def _drop_database(self) -> None:
        import psycopg

        base = self.args.postgres_url.rstrip("/")
        try:
            with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        except Exception as exc:  # noqa: BLE001 - reported; the run's result stands
            print(f"could not drop {self.db_name}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
