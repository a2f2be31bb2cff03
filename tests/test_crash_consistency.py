"""The crash-consistency harness (benchmarks/crash.py, docs/reliability.md), small: the real web
server and worker SIGKILLed 5 times under write load, restarted, and every invariant checked
after recovery. On SQLite, and on a throwaway PostgreSQL database when a server is reachable.
The full run is `python -m benchmarks crash` (200 kills)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("TOUCHUP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")

pytestmark = pytest.mark.crash


def _postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=2) as conn:
            conn.execute("select 1")
    except Exception:
        return False
    return True


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_five_kills_break_no_invariant(backend):
    args = ["--kills", "5", "--seed", "7", "--history-patients", "10", "--max-gap", "2.5"]
    if backend == "postgresql":
        if not _postgres_reachable():
            pytest.skip("no PostgreSQL server reachable")
        args += ["--postgres", "--postgres-url", POSTGRES]
    # Its own process: the harness sets up Django on its own data directory and database.
    run = subprocess.run([sys.executable, "-m", "benchmarks", "crash", *args], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "5 SIGKILLs" in report, report
    table = report[report.index("| invariant |"):]
    for invariant in ("audit chain verifies", "exactly one treatment.sign event", "every photo row has its file",
                      "no photo file without its row", "each reminder sent at most once",
                      "every due reminder sent", "outboxes empty", "no task left RUNNING"):
        assert invariant in table, table
    assert "FAILED" not in table, table


def test_the_checks_catch_what_a_crash_could_break():
    """The harness checking itself: data damaged after recovery, as a lost write, a replayed
    send or a torn chain would leave it, fails the invariant named for it (exit status 1)."""
    run = subprocess.run([sys.executable, "-m", "benchmarks", "crash", "--kills", "1", "--seed", "7",
                          "--history-patients", "5", "--max-gap", "1",
                          "--inject", "audit,photo-file,sms,reminder,outbox"],
                         cwd=ROOT, capture_output=True, text=True, timeout=240)
    report = run.stdout + run.stderr
    assert run.returncode == 1, report
    failed = report[report.index("crash consistency FAILED:"):]
    for invariant in ("audit chain verifies", "`touchup audit verify` exits 0", "every photo row has its file",
                      "each reminder sent at most once", "every due reminder sent", "outboxes empty"):
        assert invariant in failed, failed
    for invariant in ("exactly one treatment.sign event", "no task left RUNNING", "never answered 5xx"):
        assert invariant not in failed, failed
    # A failed run keeps its data directory for a look: this one is not needed.
    kept = report.split("data directory kept: ", 1)[1].split()[0]
    shutil.rmtree(kept, ignore_errors=True)
