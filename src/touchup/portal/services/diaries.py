"""Between visits: the "is it wearing off?" check-in, the headache diary (chronic
migraine) and the symptom diary (cervical dystonia). Each entry becomes Observations
(source "patient") in one transaction with its audit event, and asks the maintenance
loop to recompute the patient's forecast once it commits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import InjectionPoint, Observation, ObservationKind, Patient, TreatmentStatus

from ..models import Hit6Score

# Diaries look back; an entry older than this is a typo (and would predate most cycles).
MAX_DAYS_BACK = 365
HEADACHE_DAYS = (0, 30)  # headache days in the 30 days before the date
HIT6 = (36, 78)  # the HIT-6 total: six items scored 6, 8, 10, 11 or 13 (S86)
# The patient's own rating of their neck symptoms over the past week: 0 = none,
# 10 = the worst they have been. A numeric rating scale, because TWSTRS (0-85) is
# scored by a clinician (S84).
SYMPTOM_SCALE = (0, 10)


def treated_areas(patient: Patient) -> list[str]:
    """The areas of the patient's signed treatments, most recently treated first."""
    rows = (
        InjectionPoint.objects.filter(treatment__patient=patient, treatment__status=TreatmentStatus.SIGNED)
        .order_by("-treatment__treated_on")
        .values_list("area", flat=True)
    )
    seen: list[str] = []
    for area in rows:
        if area not in seen:
            seen.append(area)
    return seen


def _date(value: Any, field: str = "observed_on") -> dt.date:
    if value in (None, ""):
        return timezone.localdate()
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(field, "must be a date (YYYY-MM-DD)") from None
    today = timezone.localdate()
    if day > today:
        raise InvalidInput(field, "cannot be in the future")
    if day < today - dt.timedelta(days=MAX_DAYS_BACK):
        raise InvalidInput(field, "is more than a year ago")
    return day


def _whole(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise InvalidInput(field, f"must be a whole number from {lo} to {hi}")
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput(field, f"must be a whole number from {lo} to {hi}") from None
    # NaN and infinity fail the range test before int() could choke on them.
    if not lo <= number <= hi or number != int(number):
        raise InvalidInput(field, f"must be a whole number from {lo} to {hi}")
    return int(number)


def _after_write(patient: Patient) -> None:
    # The forecast reads these observations; refresh it once this transaction commits.
    try:
        from touchup.maintenance.services.forecasts import request_recompute
    except ImportError:  # the maintenance app is optional for the portal
        return
    request_recompute(patient)


def _observe(actor: Any, patient: Patient, area: str, day: dt.date, kind: str, value: float) -> Observation:
    obs = Observation.objects.create(patient=patient, area=area, observed_on=day, kind=kind, value=value,
                                     source="patient")
    audit.record("observation.record", actor=actor, patient=patient, obj=obs,
                 detail={"kind": kind, "area": area, "source": "patient"})
    return obs


@transaction.atomic
def record_checkin(*, actor: Any, patient: Patient, area: str, wearing_off: Any, observed_on: Any = None) -> Observation:
    """"Is it wearing off?" for one treated area: yes or no."""
    if area not in treated_areas(patient):
        raise InvalidInput("area", "choose one of your treated areas")
    if wearing_off not in (True, False):
        raise InvalidInput("wearing_off", "answer yes or no")
    day = _date(observed_on)
    obs = _observe(actor, patient, area, day, ObservationKind.WEARING_OFF_REPORTED, 1.0 if wearing_off else 0.0)
    _after_write(patient)
    return obs


@transaction.atomic
def record_headache_diary(*, actor: Any, patient: Patient, headache_days: Any, hit6: Any = None,
                          observed_on: Any = None) -> Observation:
    """Headache days in the 30 days up to the date (0-30), and optionally the HIT-6 (36-78)."""
    day = _date(observed_on)
    days = _whole(headache_days, "headache_days", *HEADACHE_DAYS)
    score = None if hit6 in (None, "") else _whole(hit6, "hit6", *HIT6)
    obs = _observe(actor, patient, "migraine", day, ObservationKind.HEADACHE_DAYS, float(days))
    if score is not None:
        row = Hit6Score.objects.create(patient=patient, observed_on=day, value=score, recorded_by=actor,
                                       recorded_at=timezone.now())
        audit.record("portal.hit6.record", actor=actor, patient=patient, obj=row)
    _after_write(patient)
    return obs


@transaction.atomic
def record_symptom_diary(*, actor: Any, patient: Patient, score: Any, observed_on: Any = None) -> Observation:
    """Neck symptoms over the past week on the 0-10 scale above."""
    day = _date(observed_on)
    value = _whole(score, "score", *SYMPTOM_SCALE)
    obs = _observe(actor, patient, "cervical_dystonia", day, ObservationKind.SYMPTOM_SCORE, float(value))
    _after_write(patient)
    return obs
