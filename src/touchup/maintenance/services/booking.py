"""Clinicians' working hours, free slots, and booking patients into them.

A slot is a `slot_minutes` piece of a working-hours block, in the clinic's time zone. A
clinician can be in one appointment at a time: `book` and `move` lock the clinician's
membership row (so concurrent bookings for one clinician queue), check for any overlap,
and the database refuses a second booked appointment at the same start regardless
(`one_booking_per_slot`). Every write is one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.models import Clinic, Membership, Patient, Role
# clinic_zone is also this module's public name for it: views call svc.clinic_zone.
from touchup.clinic.zones import clinic_zone
from touchup.core.dates import day_text

from ..models import AreaForecast, Appointment, AppointmentStatus, WorkingHours
from .forecasts import lock_forecasts
from .reminders import sync_forecast_reminders

# Bookings further ahead than this are typos (and would make slot lists unbounded).
MAX_DAYS_AHEAD = 400
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Slot:
    starts_at: dt.datetime
    ends_at: dt.datetime


def clinicians_of(clinic: Clinic) -> list[Any]:
    """The clinic's active clinicians (users), by name."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(
        memberships__clinic=clinic, memberships__role=Role.CLINICIAN, memberships__active=True
    )
    return sorted(users, key=lambda u: (u.get_full_name() or u.get_username()).lower())


def clinician_in(clinic: Clinic, clinician_id: Any, *, field: str = "clinician") -> Any:
    """The active clinician with this user id in the clinic, or InvalidInput naming `field`."""
    try:
        pk = int(clinician_id)
    except (TypeError, ValueError):
        raise InvalidInput(field, "choose a clinician") from None
    for user in clinicians_of(clinic):
        if user.pk == pk:
            return user
    raise InvalidInput(field, "no such clinician in this clinic")


# --- working hours -----------------------------------------------------------------------

def _time(value: Any, field: str) -> dt.time:
    if isinstance(value, dt.time):
        return value
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(field, "must be a time as HH:MM") from None


def _int(value: Any, field: str, lo: int, hi: int) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise InvalidInput(field, f"must be a whole number from {lo} to {hi}") from None
    if not lo <= number <= hi:
        raise InvalidInput(field, f"must be a whole number from {lo} to {hi}")
    return number


@transaction.atomic
def set_working_hours(*, actor: Any, clinic: Clinic, clinician: Any, blocks: Sequence[dict]) -> list[WorkingHours]:
    """Replace the clinician's weekly hours with `blocks` ({weekday, start, end, slot_minutes}).
    Overlapping blocks on one day are refused (naming the block)."""
    cleaned: list[WorkingHours] = []
    for i, b in enumerate(blocks):
        where = f"blocks[{i}]"
        weekday = _int(b.get("weekday"), f"{where}.weekday", 0, 6)
        start = _time(b.get("start"), f"{where}.start")
        end = _time(b.get("end"), f"{where}.end")
        if end <= start:
            raise InvalidInput(f"{where}.end", "must be after the start")
        slot = _int(b.get("slot_minutes", 30), f"{where}.slot_minutes", 5, 240)
        for j, other in enumerate(cleaned):
            if other.weekday == weekday and start < other.end and other.start < end:
                raise InvalidInput(f"{where}.start", f"overlaps blocks[{j}] on {WEEKDAYS[weekday]}")
        cleaned.append(WorkingHours(clinic=clinic, clinician=clinician, weekday=weekday, start=start, end=end,
                                    slot_minutes=slot))
    WorkingHours.objects.filter(clinic=clinic, clinician=clinician).delete()
    WorkingHours.objects.bulk_create(cleaned)
    audit.record("schedule.hours", actor=actor, clinic=clinic, detail={"clinician": clinician.pk, "blocks": len(cleaned)})
    return cleaned


def forecasts_of(patient: Patient) -> list[AreaForecast]:
    """The patient's forecast rows (the caller got `patient` through the gate)."""
    return list(AreaForecast.objects.filter(patient=patient).select_related("appointment").order_by("book_from"))


def upcoming(clinic: Clinic, clinician: Any, *, days: int = 14, now: dt.datetime | None = None) -> list[Appointment]:
    """The clinician's booked appointments from a few hours ago to `days` ahead."""
    now = now or timezone.now()
    return list(Appointment.objects.select_related("patient").filter(
        clinic=clinic, clinician=clinician, status=AppointmentStatus.BOOKED,
        starts_at__gte=now - dt.timedelta(hours=12), starts_at__lt=now + dt.timedelta(days=days),
    ).order_by("starts_at"))


def upcoming_of_patient(patient: Patient, *, now: dt.datetime | None = None) -> list[Appointment]:
    """The patient's booked visits still to come, soonest first (the patient page lists them,
    so whoever has the patient on the phone sees the next visit)."""
    now = now or timezone.now()
    return list(Appointment.objects.select_related("clinician").filter(
        patient=patient, status=AppointmentStatus.BOOKED, ends_at__gte=now,
    ).order_by("starts_at")[:10])


def hours_of(clinic: Clinic, clinician: Any) -> list[WorkingHours]:
    return list(WorkingHours.objects.filter(clinic=clinic, clinician=clinician))


# --- slots --------------------------------------------------------------------------------

def _grid(hours: Iterable[WorkingHours], day: dt.date, zone: zoneinfo.ZoneInfo) -> list[Slot]:
    slots = []
    for h in hours:
        if h.weekday != day.weekday():
            continue
        t = dt.datetime.combine(day, h.start, tzinfo=zone)
        end = dt.datetime.combine(day, h.end, tzinfo=zone)
        step = dt.timedelta(minutes=h.slot_minutes)
        while t + step <= end:
            slots.append(Slot(t, t + step))
            t += step
    return slots


def free_slots(clinic: Clinic, clinician: Any, start: dt.date, end: dt.date, *,
               now: dt.datetime | None = None, ignore: Appointment | None = None) -> list[Slot]:
    """The clinician's unbooked slots on the days start..end (inclusive), not in the past."""
    now = now or timezone.now()
    zone = clinic_zone(clinic)
    hours = hours_of(clinic, clinician)
    if not hours or end < start:
        return []
    window_start = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    window_end = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    booked = Appointment.objects.filter(
        clinician=clinician, status=AppointmentStatus.BOOKED, starts_at__lt=window_end, ends_at__gt=window_start
    )
    if ignore is not None:
        booked = booked.exclude(pk=ignore.pk)
    taken = [(a.starts_at, a.ends_at) for a in booked]
    out = []
    day = start
    while day <= end:
        for s in _grid(hours, day, zone):
            if s.starts_at >= now and not any(s.starts_at < e and b < s.ends_at for b, e in taken):
                out.append(s)
        day += dt.timedelta(days=1)
    return out


def _slot_at(clinic: Clinic, clinician: Any, starts_at: dt.datetime) -> Slot:
    zone = clinic_zone(clinic)
    local = starts_at.astimezone(zone)
    for s in _grid(hours_of(clinic, clinician), local.date(), zone):
        if s.starts_at == local:
            return s
    raise InvalidInput("starts_at", "is not one of the clinician's slots")


def _parse_start(value: Any, clinic: Clinic) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput("starts_at", "must be a date and time (YYYY-MM-DDTHH:MM)") from None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=clinic_zone(clinic))
    return parsed


# --- appointments ---------------------------------------------------------------------------

def _lock_clinician(clinic: Clinic, clinician: Any) -> None:
    """Serialise bookings per clinician (PostgreSQL; SQLite's IMMEDIATE transactions already
    serialise all writers)."""
    Membership.objects.select_for_update().filter(clinic=clinic, user=clinician).first()


def _check_free(clinician: Any, slot: Slot, ignore: Appointment | None = None) -> None:
    clash = Appointment.objects.filter(
        clinician=clinician, status=AppointmentStatus.BOOKED, starts_at__lt=slot.ends_at, ends_at__gt=slot.starts_at
    )
    if ignore is not None:
        clash = clash.exclude(pk=ignore.pk)
    if clash.exists():
        raise Conflict("That slot is already booked; choose another.")


def _check_time(starts_at: dt.datetime, now: dt.datetime) -> None:
    if starts_at < now:
        raise InvalidInput("starts_at", "is in the past")
    if starts_at > now + dt.timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput("starts_at", f"is more than {MAX_DAYS_AHEAD} days ahead")


def _forecasts_for(patient: Patient, areas: Sequence[str] | None) -> list[AreaForecast]:
    rows = list(AreaForecast.objects.filter(patient=patient))
    if areas:
        known = {r.area for r in rows}
        for i, a in enumerate(areas):
            if a not in known:
                raise InvalidInput(f"areas[{i}]", f"{a!r} has no forecast for this patient")
        rows = [r for r in rows if r.area in set(areas)]
    return rows


def _area_name(area: str) -> str:
    """The catalogue's name of an area ("Crow's feet"), for a message a person reads."""
    from touchup.core.catalogue import load_catalogue

    found = load_catalogue().areas.get(area)
    return found.name if found else area.replace("_", " ")


def _check_allowed(forecasts: Sequence[AreaForecast], starts_at: dt.datetime, zone: zoneinfo.ZoneInfo) -> None:
    day = starts_at.astimezone(zone).date()
    for f in forecasts:
        if day < f.earliest_allowed:
            raise InvalidInput(
                "starts_at",
                f"is before {day_text(f.earliest_allowed)}, the earliest the label allows retreating "
                f"{_area_name(f.area)}",
            )


def _save_unique(appointment: Appointment) -> None:
    try:
        with transaction.atomic():  # a savepoint: the outer transaction survives to roll back cleanly
            appointment.save()
    except IntegrityError:
        raise Conflict("That slot is already booked; choose another.") from None


@transaction.atomic
def book(*, actor: Any, patient: Patient, clinician: Any, starts_at: Any, areas: Sequence[str] | None = None,
         now: dt.datetime | None = None) -> Appointment:
    """Book `patient` with `clinician` at one of the clinician's free slots. `areas` default
    to every area with a forecast and no appointment yet; the visit may not be before any
    of their `earliest_allowed` dates."""
    now = now or timezone.now()
    # Before the forecast rows are read (a recompute may be replacing them); and the patient
    # as locked, whose reminder channel the reminders follow.
    patient = lock_forecasts(patient.pk) or patient
    clinic = patient.clinic
    if not Membership.objects.filter(clinic=clinic, user=clinician, role=Role.CLINICIAN, active=True).exists():
        raise InvalidInput("clinician", "no such clinician in this clinic")
    starts_at = _parse_start(starts_at, clinic)
    _check_time(starts_at, now)
    slot = _slot_at(clinic, clinician, starts_at)
    forecasts = _forecasts_for(patient, areas)
    if not areas:
        forecasts = [f for f in forecasts if f.appointment_id is None]
    _check_allowed(forecasts, slot.starts_at, clinic_zone(clinic))
    _lock_clinician(clinic, clinician)
    _check_free(clinician, slot)
    appointment = Appointment(
        clinic=clinic, patient=patient, clinician=clinician, starts_at=slot.starts_at, ends_at=slot.ends_at,
        areas=sorted(f.area for f in forecasts), booked_by=actor, booked_at=now, updated_at=now,
    )
    _save_unique(appointment)
    AreaForecast.objects.filter(pk__in=[f.pk for f in forecasts]).update(appointment=appointment)
    sync_forecast_reminders(patient, AreaForecast.objects.filter(patient=patient), now=now)
    audit.record("appointment.book", actor=actor, patient=patient, obj=appointment,
                 detail={"clinician": clinician.pk, "areas": appointment.areas})
    return appointment


@transaction.atomic
def move(*, actor: Any, appointment: Appointment, starts_at: Any, clinician: Any = None,
         now: dt.datetime | None = None) -> Appointment:
    now = now or timezone.now()
    # The patient first, as cancel does: a move may link the visit to forecast rows a
    # recompute is replacing (below).
    patient = lock_forecasts(appointment.patient_id) or appointment.patient
    # FOR NO KEY UPDATE (moving changes no key: the one-booking-per-slot index is partial): a
    # recompute carries the booking over to the patient's new forecast rows and checks that
    # foreign key at its commit (FOR KEY SHARE) while it holds the audit head, which this
    # transaction asks for last; FOR UPDATE made the two wait for each other.
    appointment = Appointment.objects.select_for_update(no_key=True).get(pk=appointment.pk)
    if not appointment.is_booked:
        raise Conflict("This appointment is cancelled; book a new one.")
    clinic = appointment.patient.clinic
    clinician = clinician or appointment.clinician
    if not Membership.objects.filter(clinic=clinic, user=clinician, role=Role.CLINICIAN, active=True).exists():
        raise InvalidInput("clinician", "no such clinician in this clinic")
    starts_at = _parse_start(starts_at, clinic)
    _check_time(starts_at, now)
    slot = _slot_at(clinic, clinician, starts_at)
    if slot.starts_at == appointment.starts_at and clinician.pk == appointment.clinician_id:
        # Not a move: it would only bump the calendar sequence and audit "moved" to where it was.
        raise InvalidInput("starts_at", "is the appointment's current time; choose another")
    _check_allowed(_forecasts_for(appointment.patient, appointment.areas or None), slot.starts_at,
                   clinic_zone(clinic))
    _lock_clinician(clinic, clinician)
    _check_free(clinician, slot, ignore=appointment)
    before = appointment.starts_at
    appointment.clinician = clinician
    appointment.starts_at, appointment.ends_at = slot.starts_at, slot.ends_at
    appointment.sequence += 1
    appointment.updated_at = now
    _save_unique(appointment)
    # A visit booked in an earlier cycle and moved into the new one (the area was treated
    # after it was booked: core.stale_visits) now serves the new cycle's forecast, which a
    # recompute left without a booking. Linked, the area leaves the Due worklist and its
    # maintenance reminder is dropped, as for a visit booked into the window. The time was
    # checked against the new forecasts' earliest_allowed above.
    relinked = AreaForecast.objects.filter(patient=patient, area__in=appointment.areas or [],
                                           appointment__isnull=True).update(appointment=appointment)
    if relinked:
        sync_forecast_reminders(patient, AreaForecast.objects.filter(patient=patient), now=now)
    audit.record("appointment.move", actor=actor, patient=appointment.patient, obj=appointment,
                 detail={"from": before.isoformat(), "to": slot.starts_at.isoformat(), "clinician": clinician.pk})
    return appointment


@transaction.atomic
def cancel(*, actor: Any, appointment: Appointment, now: dt.datetime | None = None) -> Appointment:
    now = now or timezone.now()
    # The patient first, as a recompute does: cancelling clears the booking from the forecast
    # rows a recompute may be replacing (see move for the appointment's FOR NO KEY UPDATE).
    patient = lock_forecasts(appointment.patient_id) or appointment.patient  # the row as locked: see book
    appointment = Appointment.objects.select_for_update(no_key=True).get(pk=appointment.pk)
    if not appointment.is_booked:
        raise Conflict("This appointment is already cancelled.")
    appointment.status = AppointmentStatus.CANCELLED
    appointment.sequence += 1
    appointment.updated_at = now
    appointment.save(update_fields=["status", "sequence", "updated_at"])
    AreaForecast.objects.filter(appointment=appointment).update(appointment=None)
    # Back on the worklist, and the maintenance reminder comes back if still ahead.
    sync_forecast_reminders(patient, AreaForecast.objects.filter(patient=patient), now=now)
    audit.record("appointment.cancel", actor=actor, patient=patient, obj=appointment)
    return appointment
