"""The front desk's day: every clinician's booked appointments on one date of the clinic,
grouped by clinician, for the phone and the waiting room ("who is Dr Lee seeing at 10?").

One query over Appointment (patient and clinician names by join, plain values out: the
page shows a whole clinic's day); the clinic's active clinicians come in so that one with
an empty day is listed too, and a clinician who has left still shows the visits booked
with them. The read shows patient names, so it is audited as one event for the page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


from touchup.clinic import access, audit
from touchup.clinic.errors import InvalidInput
from touchup.clinic.zones import clinic_today

from touchup.core.stale_visits import StaleVisit

from ..models import Appointment, AppointmentStatus, WorkingHours
from .booking import MAX_DAYS_AHEAD, clinic_zone, clinicians_of
from .stale import Visit, stale_visits

# How far back the page goes: the clinic's records of past visits are the charts; this is
# for the day in hand, and a date typed years off is a typo.
MAX_DAYS_BACK = 366


@dataclass(frozen=True, slots=True)
class DayAppointment:
    public_id: Any
    patient_public_id: Any
    patient_name: str
    starts_at: dt.datetime  # in the clinic's zone
    ends_at: dt.datetime
    areas: tuple[str, ...]  # catalogue keys, as on the appointment
    # Made too early by a treatment since it was booked (touchup.core.stale_visits), or None.
    stale: StaleVisit | None = None


@dataclass(frozen=True)
class ClinicianDay:
    clinician_id: int
    name: str
    works_today: bool  # has working hours on this weekday
    active: bool  # still one of the clinic's clinicians
    appointments: list[DayAppointment]


@dataclass(frozen=True)
class Day:
    day: dt.date
    today: dt.date
    clinicians: list[ClinicianDay]
    total: int

    @property
    def prev_day(self) -> dt.date:
        return self.day - dt.timedelta(days=1)

    @property
    def next_day(self) -> dt.date:
        return self.day + dt.timedelta(days=1)


def parse_day(value: str | None, today: dt.date, *, field: str = "date") -> dt.date:
    """The date asked for (YYYY-MM-DD), today when none; InvalidInput naming `field` else."""
    if not value:
        return today
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(field, "must be a date (YYYY-MM-DD)") from None
    if day < today - dt.timedelta(days=MAX_DAYS_BACK) or day > today + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(field, f"must be within {MAX_DAYS_BACK} days back and {MAX_DAYS_AHEAD} days ahead")
    return day


def _name(first: str, last: str, username: str) -> str:
    return f"{first} {last}".strip() or username


def day_appointments(user: Any, day: dt.date | None = None, *, now: dt.datetime | None = None) -> Day:
    """The clinic's booked appointments on `day` (the clinic's today when None), by
    clinician, earliest first; for any staff role that sees patients (the gate decides)."""
    membership = access.require(user, "patient.view")
    clinic = membership.clinic
    zone = clinic_zone(clinic)
    today = clinic_today(clinic, now)
    day = day or today
    # Midnight to midnight on the clinic's wall clock (23 or 25 hours on a DST change).
    start = dt.datetime.combine(day, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    rows = list(Appointment.objects.filter(
        clinic=clinic, status=AppointmentStatus.BOOKED, starts_at__gte=start, starts_at__lt=end,
    ).order_by("starts_at", "clinician_id").values_list(
        "public_id", "patient__public_id", "patient__given_name", "patient__family_name", "starts_at", "ends_at",
        "areas", "clinician_id", "clinician__first_name", "clinician__last_name", "clinician__username",
        "patient_id", "booked_at",
    ))
    # One more query for the whole day, whatever its number of visits.
    stale = stale_visits((Visit(r[0], r[11], r[4], r[12], r[6] or ()) for r in rows), zone=zone, now=now)
    by_clinician: dict[int, list[DayAppointment]] = {}
    names: dict[int, str] = {}
    for (pid, patient_pid, given, family, starts_at, ends_at, areas, cid, c_first, c_last, c_user, _, _) in rows:
        by_clinician.setdefault(cid, []).append(DayAppointment(
            pid, patient_pid, f"{given} {family}", starts_at.astimezone(zone), ends_at.astimezone(zone),
            tuple(areas or ()), stale.get(pid),
        ))
        names[cid] = _name(c_first, c_last, c_user)
    active = clinicians_of(clinic)
    working = set(WorkingHours.objects.filter(clinic=clinic, weekday=day.weekday()).values_list("clinician_id",
                                                                                                 flat=True))
    columns = [ClinicianDay(c.pk, c.get_full_name() or c.get_username(), c.pk in working, True,
                            by_clinician.pop(c.pk, [])) for c in active]
    # Booked with someone no longer a clinician here: still the patient's visit that day.
    columns += [ClinicianDay(cid, names[cid], cid in working, False, appts)
                for cid, appts in sorted(by_clinician.items(), key=lambda kv: names[kv[0]].lower())]
    total = sum(len(c.appointments) for c in columns)
    audit.record("appointment.day_view", actor=user, clinic=clinic,
                 detail={"date": day.isoformat(), "appointments": total})
    return Day(day, today, columns, total)
