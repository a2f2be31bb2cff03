"""Fitting a clinic's medians (`touchup calibrate`, the Calibration page) on many charts:
reading them (three queries per chunk of 2,000, against three per chart before) and the
fit itself, on a throwaway SQLite database.

    .venv/bin/python -m benchmarks calibration                   # 5,000 patients
    .venv/bin/python -m benchmarks calibration --patients 20000

The synthetic clinic: every patient has three signed glabellar treatments 150 days apart,
each photographed on the day, at two weeks and at three months. The database is under
/tmp/touchup-bench-calibration/<patients>/ and is reused by the next run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import time
from decimal import Decimal
from pathlib import Path

DIR = Path("/tmp/touchup-bench-calibration")


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks calibration", description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=5000)
    args = ap.parse_args(argv)
    data_dir = DIR / str(args.patients)
    os.environ["TOUCHUP_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "touchup.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from touchup.clinic.models import Clinic, Patient
    from touchup.maintenance.services import calibration, forecasts

    call_command("migrate", verbosity=0)
    clinic = Clinic.objects.filter(slug="bench").first()
    if clinic is None:
        print(f"seeding {args.patients} patients into {data_dir} (kept for the next run) ...")
        return _seed_then_rerun(args.patients, argv)
    if Patient.objects.filter(clinic=clinic).count() != args.patients:
        print(f"{data_dir} holds an interrupted seed: delete it and run again")
        return 2

    patients = list(Patient.objects.filter(clinic=clinic).order_by("pk"))
    today = timezone.localdate()
    t = time.perf_counter()
    one = {p.pk: forecasts.histories_data([p], today)[p.pk] for p in patients}
    one_s = time.perf_counter() - t
    t = time.perf_counter()
    many = {}
    for lo in range(0, len(patients), 2000):
        many.update(forecasts.histories_data(patients[lo:lo + 2000], today))
    many_s = time.perf_counter() - t
    assert many == one, "chunked reading differs from one chart at a time"
    t = time.perf_counter()
    row = calibration.propose(clinic)
    propose_s = time.perf_counter() - t
    print("| charts | read one at a time | read in chunks of 2,000 | propose (read + fit) | glabella |")
    print("|---|---|---|---|---|")
    print(f"| {args.patients} | {one_s:.2f} s | {many_s:.2f} s | {propose_s:.2f} s | "
          f"{row.result['glabella']['percent']:+.1f}% |")
    return 0


def _seed_then_rerun(n: int, argv: list[str]) -> int:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from touchup.clinic.models import Clinic, InjectionPoint, Observation, Patient, Treatment

    rng = random.Random(1)
    clinic = Clinic.objects.create(slug="bench", name="Bench")
    user = get_user_model().objects.create(username="bench")
    patients = Patient.objects.bulk_create([
        Patient(clinic=clinic, given_name=f"P{i}", family_name="Bench", birth_date=dt.date(1980, 1, 1), sex="female")
        for i in range(n)
    ])
    today = timezone.localdate()
    treatments, observations = [], []
    for p in patients:
        day = today - dt.timedelta(days=500)
        for _ in range(3):
            treatments.append(Treatment(patient=p, clinic=clinic, clinician=user, treated_on=day,
                                        product="onabotulinumtoxinA", indication="glabellar_lines", status="signed",
                                        signed_at=timezone.now(), signed_by=user))
            for t in (0, 14, 90):
                observations.append(Observation(patient=p, area="glabella", observed_on=day + dt.timedelta(days=t),
                                                kind="wrinkle_index", value=round(0.4 * (1 - 0.5 * rng.random()), 3),
                                                source="photo"))
            day += dt.timedelta(days=150)
    treatments = Treatment.objects.bulk_create(treatments, batch_size=2000)
    InjectionPoint.objects.bulk_create(
        [InjectionPoint(treatment=t, area="glabella", units=Decimal("20"), x=200, y=100) for t in treatments],
        batch_size=2000)
    Observation.objects.bulk_create(observations, batch_size=2000)
    return main(argv)
