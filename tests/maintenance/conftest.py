"""Helpers for the maintenance tests: signed treatments as history (charts from earlier
visits, written as the clinic would have them after signing)."""

import datetime as dt
import os
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone


def signed_treatment(patient, clinician, treated_on, areas, *, product="onabotulinumtoxinA",
                     indication="glabellar_lines"):
    """A signed chart with one point per area carrying `units`."""
    from touchup.clinic.models import InjectionPoint, Treatment

    t = Treatment.objects.create(
        patient=patient, clinic_id=patient.clinic_id, clinician=clinician, treated_on=treated_on,
        product=product, indication=indication, status="signed", signed_at=timezone.now(), signed_by=clinician,
    )
    for area, units in areas.items():
        InjectionPoint.objects.create(treatment=t, area=area, units=Decimal(str(units)), x=200, y=100)
    return t


def area_forecast(patient, treatment, area, book_from, *, days=14, clinician=None, **extra):
    """A stored forecast row with its window starting on `book_from` (for list and booking
    tests that need a known window rather than the model's)."""
    from touchup.maintenance.models import AreaForecast

    wear = book_from + dt.timedelta(days=days)
    values = dict(
        patient=patient, clinic_id=patient.clinic_id, clinician=clinician or treatment.clinician,
        treatment=treatment, area=area, product=treatment.product, treated_on=treatment.treated_on,
        wear_off_date=wear, wear_off_low=wear - dt.timedelta(days=20), wear_off_high=wear + dt.timedelta(days=20),
        book_from=book_from, book_by=wear, earliest_allowed=treatment.treated_on + dt.timedelta(days=90),
        basis="population prior only (no personal data yet)", computed_at=timezone.now(),
    )
    values.update(extra)
    return AreaForecast.objects.create(**values)


@pytest.fixture
def weekday_hours(clinic_a, clinician):
    """Alice works Monday to Friday 09:00-12:00 in 30-minute slots."""
    from touchup.maintenance.services.booking import set_working_hours

    return set_working_hours(
        actor=clinician, clinic=clinic_a, clinician=clinician,
        blocks=[{"weekday": d, "start": "09:00", "end": "12:00", "slot_minutes": 30} for d in range(5)],
    )


def next_weekday(day, weekday=0):
    """The first date after `day` falling on `weekday` (0 = Monday)."""
    ahead = (weekday - day.weekday()) % 7 or 7
    return day + dt.timedelta(days=ahead)


def _postgres_url():
    base = os.environ.get("TOUCHUP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
    try:
        import psycopg

        with psycopg.connect(f"{base}/postgres", connect_timeout=2) as conn:
            conn.execute("select 1")
    except Exception:
        return None
    return base


@pytest.fixture(params=["sqlite", "postgresql"])
def worker_env(request, tmp_path):
    """The environment for `touchup` subprocesses on their own database: an SQLite file
    under tmp_path, or a throwaway PostgreSQL database (skipped when none is reachable).
    SMS go to tmp_path/sms.log."""
    # Tasks in the database unless a test sets TOUCHUP_TASKS_REDIS_URL itself.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "TOUCHUP_TASKS_REDIS_URL")}
    env.update(TOUCHUP_DATA_DIR=str(tmp_path / "var"), TOUCHUP_SMS_BACKEND="file",
               TOUCHUP_SMS_FILE=str(tmp_path / "sms.log"), PYTHONPATH=str(Path(__file__).parents[2] / "src"))
    if request.param == "sqlite":
        yield env
        return
    base = _postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL server reachable")
    import psycopg

    name = f"touchup_race_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = f"{base}/{name}"
    try:
        yield env
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
