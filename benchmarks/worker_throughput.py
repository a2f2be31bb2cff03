"""Does `touchup worker` use every core? A backlog of uploaded 12-megapixel photos, analysed
by the real worker with one task process and then with one per CPU.

    python -m benchmarks worker_throughput [--photos 60] [--processes N]

Each run gets a fresh SQLite database (WAL) under a temporary directory, seeded through
the upload service (`photo_upload`: checks, EXIF strip, storage, one analysis task per
photo), so the worker does exactly what it does after a clinic's uploads: decode, find
the face, align to the baseline, measure, write the wrinkle-index observations and queue
the forecast recompute, which it then runs too. Two clocks: from the worker's start
(imports and the face model's load included) until no photo is pending, and from the
first analysis's start to the last one's end (from the task rows), which is the
throughput once the processes are up.
The speed-up is against the same backlog through one process, measured in the same run
(at most the number of CPUs; less, since one analysis already spreads some of its OpenCV
work over the cores). The floor, in the same run, is merely decoding the same JPEG as
many times in one process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

SEED = r"""
import datetime as dt, io, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import cv2, numpy as np
from django.contrib.auth import get_user_model
from touchup.clinic.models import Clinic, Membership, Patient
from touchup.clinic.services.photos import photo_upload
clinic = Clinic.objects.create(name="Throughput Clinic", slug="tp")
doc = get_user_model().objects.create_user(username="doc")
Membership.objects.create(user=doc, clinic=clinic, role="clinician")
patient = Patient.objects.create(clinic=clinic, given_name="P", family_name="Q", birth_date=dt.date(1980, 1, 1),
                                 sex="female")
base = cv2.imread(sys.argv[1])
rng = np.random.default_rng(0)
for i in range(int(sys.argv[2])):
    # A re-shoot: the same face with fresh sensor noise (so every file is new to the dedupe).
    noisy = np.clip(base + rng.normal(0, 2.0, base.shape), 0, 255).astype(np.uint8)
    ok, enc = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 92])
    photo_upload(actor=doc, patient=patient, view="frown", upload=enc.tobytes(),
                 taken_on=dt.date.today() - dt.timedelta(days=int(sys.argv[2]) - i), consent_clinical=True)
"""

def _counts(db: str) -> tuple[int, int, float]:
    """(pending, done, seconds from the first analysis's start to the last one's end),
    read with sqlite3 directly: polling through Django would take a core of its own."""
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        pending, done = (con.execute("SELECT COUNT(*) FROM clinic_photo WHERE analysis_status = ?", (s,)).fetchone()[0]
                         for s in ("pending", "done"))
        span = con.execute("SELECT (julianday(MAX(finished_at)) - julianday(MIN(started_at))) * 86400 "
                           "FROM django_tasks_database_dbtaskresult WHERE task_path LIKE '%analyze_photo'").fetchone()[0]
    finally:
        con.close()
    return pending, done, span or 0.0


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _run_once(photo: str, n: int, processes: int, workdir: str) -> tuple[float, float, int]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TOUCHUP_TASKS_REDIS_URL")}
    env["TOUCHUP_DATA_DIR"] = os.path.join(workdir, f"var-{processes}")
    env["TOUCHUP_LOG_LEVEL"] = "WARNING"
    seeded = subprocess.run([sys.executable, "-c", SEED, photo, str(n)], env=env, capture_output=True, text=True)
    if seeded.returncode:
        raise SystemExit(seeded.stderr[-2000:])
    start = time.perf_counter()
    worker = subprocess.Popen([sys.executable, "-m", "touchup.cli", "worker", "--no-reminders", "--interval", "0.2",
                               "--processes", str(processes)], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(workdir, f"worker-{processes}.log"), "w"))
    db = os.path.join(env["TOUCHUP_DATA_DIR"], "touchup.sqlite3")
    try:
        while True:
            time.sleep(0.1)
            pending, done, span = _counts(db)
            if pending == 0:
                elapsed = time.perf_counter() - start
                break
    finally:
        worker.terminate()
        worker.wait(timeout=120)
    return elapsed, _counts(db)[2], done


def _decode_floor(photo: str, n: int) -> float:
    """Seconds to merely decode the JPEG n times in this process (OpenCV, whole image)."""
    import cv2
    import numpy as np

    data = np.frombuffer(open(photo, "rb").read(), np.uint8)
    cv2.imdecode(data, cv2.IMREAD_COLOR)
    start = time.perf_counter()
    for _ in range(n):
        cv2.imdecode(data, cv2.IMREAD_COLOR)
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks worker_throughput", description=__doc__.splitlines()[0])
    p.add_argument("--photos", type=int, default=60)
    p.add_argument("--processes", type=int, default=_cpus(), help="the second run's task processes (default: CPUs)")
    args = p.parse_args(argv)
    from benchmarks.photo_speed import make_jpegs

    with tempfile.TemporaryDirectory(dir=os.environ.get("TOUCHUP_BENCH_KEEP")) as workdir:
        portrait = make_jpegs(workdir)["portrait"]
        rows = []
        for processes in (1, args.processes):
            rows.append((processes, *_run_once(portrait, args.photos, processes, workdir)))
        floor = _decode_floor(portrait, args.photos)
    print(f"\nWorker throughput: {args.photos} uploaded 4032 x 3024 photos, {_cpus()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| task processes | photos analysed | s, worker start to last result | s, first analysis to last | "
          "photos / s (analysing) | speed-up |")
    print("|---|---|---|---|---|---|")
    for processes, elapsed, span, done in rows:
        print(f"| {processes} | {done} | {elapsed:.1f} | {span:.1f} | {done / span:.1f} | {rows[0][2] / span:.2f}x |")
    print(f"| floor: cv2.imdecode of the same file, one process | {args.photos} | | {floor:.1f} | "
          f"{args.photos / floor:.1f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
