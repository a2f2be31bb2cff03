"""The "due for maintenance" worklist at 100,000 patients: p95 of the page through the
real Django stack (test client: URL routing, session, middleware, the access gate, the
query, the template, the audit event every view writes).

    .venv/bin/python -m benchmarks.worklist                      # SQLite and PostgreSQL
    .venv/bin/python -m benchmarks.worklist --backend sqlite --patients 100000 --requests 300

Each backend runs in its own process against a throwaway database: an SQLite file under
/tmp/touchup-bench-worklist/ (WAL, as in production) and the PostgreSQL database
touchup_bench_worklist at postgres://postgres@127.0.0.1:5432 (created if missing; override with
--postgres-url). A database already seeded with the same number of patients is reused;
--reseed starts again.

The synthetic clinic: one clinic with the patients (another clinic alongside with a tenth
as many, which the list must not show), 6 clinicians, forecasts for 1-3 areas per
patient with windows spread over two years around today (so about a tenth of them are
due), a quarter of the due ones booked, contact notes on some.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Both overridable, so two people measuring on one machine do not seed each other's database.
SQLITE_DIR = Path(os.environ.get("TOUCHUP_BENCH_WORKLIST_DIR", "/tmp/touchup-bench-worklist"))
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432"
# Its own database: touchup_bench is shared with the other page benchmarks, and seeding
# here starts from an empty clinic table.
POSTGRES_DB = os.environ.get("TOUCHUP_BENCH_WORKLIST_DB", "touchup_bench_worklist")

AREAS = [("glabella", 0.45), ("forehead", 0.2), ("crows_feet", 0.2), ("platysma", 0.05),
         ("migraine", 0.05), ("cervical_dystonia", 0.05)]
VARIANTS = [
    ("first page", ""),
    ("page 10", "page=10"),
    ("one area", "area=forehead"),
    ("one clinician", "clinician={clinician}"),
    ("not reachable", "contact=not_reachable"),
    ("booked", "show=booked"),
    ("htmx filter", "area=glabella&htmx"),
]


# --- the parent: one child process per backend ------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worklist", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per variant")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--child", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        env = _env(backend, args)
        if env is None:
            print(f"{backend}: not reachable, skipped", file=sys.stderr)
            continue
        cmd = [sys.executable, "-m", "benchmarks.worklist", "--child", backend, "--patients", str(args.patients),
               "--requests", str(args.requests)] + (["--reseed"] if args.reseed else [])
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(f"{backend}: failed", file=sys.stderr)
            return proc.returncode
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    _print_table(results, args)
    return 0


def _env(backend: str, args) -> dict | None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    SQLITE_DIR.mkdir(parents=True, exist_ok=True)
    env.update(TOUCHUP_DATA_DIR=str(SQLITE_DIR), TOUCHUP_TESTING="1", PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / "src"), str(Path(__file__).resolve().parents[1])]))
    if backend == "postgresql":
        try:
            import psycopg

            with psycopg.connect(f"{args.postgres_url}/postgres", autocommit=True, connect_timeout=3) as conn:
                if not conn.execute("select 1 from pg_database where datname = %s", [POSTGRES_DB]).fetchone():
                    conn.execute(f'CREATE DATABASE "{POSTGRES_DB}"')
        except Exception as exc:  # no server: say so, measure the other
            print(f"postgresql: {exc}", file=sys.stderr)
            return None
        env["DATABASE_URL"] = f"{args.postgres_url}/{POSTGRES_DB}"
    return env


def _print_table(results: list[dict], args) -> None:
    print(f"\nWorklist page, {args.patients:,} patients, {args.requests} timed requests per variant "
          "(Django test client, one process, milliseconds):\n")
    print("| backend | variant | rows due | p50 ms | p95 ms | max ms | p95 CPU ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        for v in r["variants"]:
            print(f"| {r['backend']} | {v['name']} | {v['total']:,} | {v['p50']:.1f} | {v['p95']:.1f} "
                  f"| {v['max']:.1f} | {v['cpu_p95']:.1f} |")
        print(f"| {r['backend']} | **all** | | {r['p50']:.1f} | **{r['p95']:.1f}** | {r['max']:.1f} "
              f"| {r['cpu_p95']:.1f} |")
    for r in results:
        print(f"\n{r['backend']}: seeded {r['forecasts']:,} forecasts for {r['patients']:,} patients "
              f"in {r['seed_s']:.0f} s ({r.get('early', 0)} early wear-off reports); {r['engine']}; load average {r['load']:.1f} on {r['cpus']} CPUs "
              "while measuring")


# --- the child: seed if needed, then measure -----------------------------------------------

def _child(args) -> int:
    os.environ["DJANGO_SETTINGS_MODULE"] = "touchup.settings"
    if args.child == "sqlite":
        db = SQLITE_DIR / "touchup.sqlite3"
        if args.reseed and db.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if args.child == "postgresql" and args.reseed:
        with connection.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)
    seed_s = 0.0
    if _seeded_count() != args.patients:
        t = time.perf_counter()
        _seed(args.patients)
        seed_s = time.perf_counter() - t
    _seed_early_reports()
    with connection.cursor() as cur:
        # Fresh statistics, as a live database has them; on PostgreSQL also the visibility
        # map (what autovacuum keeps), which lets the counts be index-only scans.
        cur.execute("ANALYZE" if args.child == "sqlite" else "VACUUM (ANALYZE)")
    result = _measure(args.requests)
    from touchup.maintenance.models import AreaForecast

    result.update(backend=args.child, patients=args.patients, forecasts=AreaForecast.objects.count(),
                  early=AreaForecast.objects.filter(clinic__slug="bench", early_report_on__isnull=False).count(),
                  seed_s=seed_s, engine=f"{connection.vendor} {connection.Database.__name__}")
    print(json.dumps(result))
    return 0


def _seeded_count() -> int:
    from touchup.clinic.models import Clinic

    clinic = Clinic.objects.filter(slug="bench").first()
    return clinic.patients.count() if clinic else -1


def _seed(n: int) -> None:
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from touchup.clinic import audit
    from touchup.clinic.models import Clinic, Membership, Patient, Treatment
    from touchup.maintenance.models import AreaForecast, Appointment

    User = get_user_model()
    rnd = random.Random(7)
    today = timezone.localdate()
    now = timezone.now()
    print(f"seeding {n:,} patients...", file=sys.stderr, flush=True)
    with transaction.atomic():
        AreaForecast.objects.all().delete()
        Appointment.objects.all().delete()
        Treatment.objects.all().delete()
        Patient.objects.all().delete()
        Membership.objects.all().delete()
        User.objects.all().delete()
        Clinic.objects.all().delete()
    audit.record("bench.seed")  # the chain head exists, as on any live install
    for slug, count in (("bench", n), ("other", max(n // 10, 1))):
        clinic = Clinic.objects.create(name=f"Clinic {slug}", slug=slug)
        clinicians = []
        for i in range(6):
            u = User.objects.create_user(username=f"{slug}-doc{i}", password="bench-password-1", first_name="Doc",
                                         last_name=f"{slug.title()} {i}")
            Membership.objects.create(user=u, clinic=clinic, role="clinician")
            clinicians.append(u)
        desk = User.objects.create_user(username=f"{slug}-desk", password="bench-password-1")
        Membership.objects.create(user=desk, clinic=clinic, role="front_desk")
        batch = 5000
        for lo in range(0, count, batch):
            with transaction.atomic():
                patients = Patient.objects.bulk_create(
                    Patient(clinic=clinic, given_name=f"Given{i}", family_name=f"Family{i}",
                            birth_date=dt.date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
                            sex="female" if rnd.random() < 0.85 else "male",
                            phone=f"+44770{i:07d}", email=f"p{i}@example.invalid")
                    for i in range(lo, min(lo + batch, count))
                )
                treatments = Treatment.objects.bulk_create(
                    Treatment(patient=p, clinic=clinic, clinician=rnd.choice(clinicians),
                              treated_on=today - dt.timedelta(days=rnd.randint(10, 400)),
                              product="onabotulinumtoxinA", indication="upper_face_lines", status="signed",
                              signed_at=now)
                    for p in patients
                )
                rows = []
                appointments = []
                booked_so_far = Appointment.objects.count()
                for p, t in zip(patients, treatments):
                    k = 1 + (rnd.random() < 0.3) + (rnd.random() < 0.1)
                    areas = set()
                    while len(areas) < k:
                        areas.add(rnd.choices([a for a, _ in AREAS], [w for _, w in AREAS])[0])
                    for area in areas:
                        book_from = today + dt.timedelta(days=rnd.randint(-365, 365))
                        wear = book_from + dt.timedelta(days=rnd.randint(5, 40))
                        contact = rnd.choices(["", "reminded", "not_reachable", "declined"], [70, 20, 7, 3])[0]
                        rows.append(AreaForecast(
                            patient=p, clinic=clinic, clinician_id=t.clinician_id, treatment=t, area=area,
                            product=t.product, treated_on=t.treated_on, wear_off_date=wear,
                            wear_off_low=wear - dt.timedelta(days=20), wear_off_high=wear + dt.timedelta(days=25),
                            book_from=book_from, book_by=wear, earliest_allowed=t.treated_on + dt.timedelta(days=90),
                            basis="2 earlier cycles, 3 photos this cycle", computed_at=now,
                            contact_status=contact, contact_at=now if contact else None,
                        ))
                    if rnd.random() < 0.25:
                        # Booked: starts never clash (a distinct second for each, < 1 day).
                        start = now + dt.timedelta(days=rnd.randint(1, 60),
                                                   seconds=booked_so_far + len(appointments))
                        appointments.append(Appointment(
                            clinic=clinic, patient=p, clinician_id=t.clinician_id, starts_at=start,
                            ends_at=start + dt.timedelta(minutes=30), areas=sorted(areas), booked_by=desk,
                            booked_at=now, updated_at=now,
                        ))
                Appointment.objects.bulk_create(appointments)
                booked = {a.patient_id: a for a in appointments}
                for r in rows:
                    if r.patient_id in booked:
                        r.appointment = booked[r.patient_id]
                AreaForecast.objects.bulk_create(rows)
            print(f"  {slug}: {min(lo + batch, count):,}", file=sys.stderr, flush=True)


def _seed_early_reports() -> None:
    """About one in 400 forecasts whose window is beyond next week carries an early
    wear-off report (the page's "Reported wearing off early" section reads them). Chosen by
    row id in one UPDATE, not by the seed's random stream (which would change every other
    row), and added to a database seeded before the section existed."""
    import datetime as dt

    from django.db.models import F
    from django.db.models.functions import Mod
    from django.utils import timezone

    from touchup.maintenance.models import AreaForecast

    if AreaForecast.objects.filter(early_report_on__isnull=False).exists():
        return
    today = timezone.localdate()
    (AreaForecast.objects.annotate(r=Mod(F("id"), 400))
     .filter(r=0, book_from__gt=today + dt.timedelta(days=14), treated_on__lt=today)
     .update(early_report_on=today))


def _measure(requests: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client

    User = get_user_model()
    desk = User.objects.get(username="bench-desk")
    clinician = User.objects.get(username="bench-doc2")
    client = Client()
    client.force_login(desk)
    variants = []
    every, every_cpu = [], []
    for name, query in VARIANTS:
        htmx = query.endswith("&htmx")
        query = query.replace("&htmx", "").format(clinician=clinician.pk)
        url = f"/worklist/?{query}" if query else "/worklist/"
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        for _ in range(5):  # warm up: caches, the first template compile
            r = client.get(url, **headers)
            assert r.status_code == 200, (url, r.status_code)
        times, cpu = [], []
        for _ in range(requests):
            t, c = time.perf_counter(), time.process_time()
            r = client.get(url, **headers)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            assert r.status_code == 200
        from django.http import QueryDict

        from touchup.maintenance.services.worklist import due_for_maintenance, parse_filters

        total = due_for_maintenance(desk, parse_filters(QueryDict(query), desk.memberships.get().clinic)).total
        times.sort()
        cpu.sort()
        every.extend(times)
        every_cpu.extend(cpu)
        variants.append({"name": name, "total": total, "p50": statistics.median(times), "p95": _p95(times),
                         "max": times[-1], "cpu_p95": _p95(cpu)})
    every.sort()
    every_cpu.sort()
    return {"variants": variants, "p50": statistics.median(every), "p95": _p95(every), "max": every[-1],
            "cpu_p95": _p95(every_cpu), "load": os.getloadavg()[0], "cpus": os.cpu_count()}


def _p95(sorted_ms: list[float]) -> float:
    return sorted_ms[int(0.95 * (len(sorted_ms) - 1))]


if __name__ == "__main__":
    sys.exit(main())
