"""Booking the maintenance visit from the portal, through touchup.maintenance's booking
services (free slots, book, move, cancel); this module adds the patient's rules:

- a visit is booked on a day touchup.core.booking allows: inside the patient's window
  (from the forecast's book_from, never before the label's earliest_allowed, until
  book_by; an overdue window runs from today for OVERDUE_DAYS), or up to the clinic's
  portal_booking_after_window_days after it, marked later than recommended; never before
  earliest_allowed (checked here for every booking and move, whatever the page showed);
- online changes stop CHANGE_CUTOFF before the visit (after that, the patient calls);
- the calendar invite (.ics) goes to the patient's email on booking, moving and cancelling.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.mail import EmailMessage
from django.utils import timezone

from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.models import Patient
from touchup.clinic.zones import clinic_today
from touchup.core.booking import AreaDates, BookingWindow, booking_window, window_without_forecast
from touchup.core.contact import call_the_clinic

CHANGE_CUTOFF = dt.timedelta(hours=24)  # clinic policy: late changes go through the front desk
# One page of free times, short enough for a phone: DAYS_PER_PAGE days with free times, fewer
# when they hold more than MAX_SLOTS times (never less than one day); "Earlier days" and
# "Later days" page through the rest of the window (the list used to stop at 60 times, about
# three days, with no way to see the later ones).
DAYS_PER_PAGE = 4
MAX_SLOTS = 60


def available() -> bool:
    try:
        import touchup.maintenance.services.booking  # noqa: F401
    except ImportError:
        return False
    return True


def forecasts_of(patient: Patient) -> list[Any]:
    from touchup.maintenance.models import AreaForecast

    return list(AreaForecast.objects.filter(patient=patient).select_related("appointment").order_by("book_from", "area"))


def _dates(rows: list[Any]) -> list[AreaDates]:
    return [AreaDates(f.area, f.book_from, f.book_by, f.earliest_allowed) for f in rows]


def window_for(patient: Patient, *, today: dt.date | None = None,
               forecasts: list[Any] | None = None) -> BookingWindow | None:
    """The days the patient may book, for the areas not yet booked; None when nothing is due."""
    rows = [f for f in (forecasts if forecasts is not None else forecasts_of(patient)) if f.appointment_id is None
            or not f.appointment.is_booked]
    return booking_window(_dates(rows), today=today or clinic_today(patient.clinic))


@dataclass(frozen=True)
class SlotChoice:
    clinician_id: int
    clinician_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    later: bool = False  # after the recommended window (touchup.core.booking)

    @property
    def value(self) -> str:
        return f"{self.clinician_id}|{self.starts_at.isoformat()}"


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


def slots_in(patient: Patient, window: BookingWindow, *, ignore: Any = None, later: bool = False) -> list[SlotChoice]:
    """Every free time in the recommended window, or (`later`) in the days after it that the
    clinic's policy allows, by time; slot_page cuts them into pages."""
    from touchup.maintenance.services.booking import clinicians_of, free_slots

    start, end = (window.later_start, window.last) if later else (window.start, window.end)
    out = []
    for clinician in clinicians_of(patient.clinic):
        for s in free_slots(patient.clinic, clinician, start, end, ignore=ignore):
            out.append(SlotChoice(clinician.pk, _name(clinician), s.starts_at, s.ends_at, later))
    out.sort(key=lambda s: (s.starts_at, s.clinician_name))
    return out


@dataclass(frozen=True)
class SlotPage:
    """Some days of free times, and the first day of the pages before and after (None at
    either end of the window)."""

    days: list[tuple[dt.date, list[SlotChoice]]]
    earlier: dt.date | None = None
    later: dt.date | None = None

    @property
    def first_day(self) -> dt.date | None:
        return self.days[0][0] if self.days else None


def _days_that_fit(counts: Any, size: int, cap: int) -> int:
    """How many of the days (their numbers of free times, in the order they are taken) one
    page shows: up to `size` days and `cap` times, at least one day."""
    n = total = 0
    for count in counts:
        if n == size or (n and total + count > cap):
            break
        n, total = n + 1, total + count
    return n


def page_of_days(days: list[tuple[dt.date, list[Any]]], start: dt.date | None, *,
                 size: int = DAYS_PER_PAGE, cap: int = MAX_SLOTS) -> SlotPage:
    """The page of `days` (day, times; in date order) from the first day on or after `start`
    (the first page without it; the last page when it is past the last day). Every day is on
    some page: "Later days" starts at the first day not shown, "Earlier days" at the first
    day of the page that ends just before this one."""
    if not days:
        return SlotPage([])
    dates = [d for d, _ in days]
    i = 0 if start is None else next((k for k, d in enumerate(dates) if d >= start), len(dates))
    if i == len(dates):
        i = len(dates) - _days_that_fit((len(t) for _, t in reversed(days)), size, cap)
    n = _days_that_fit((len(t) for _, t in days[i:]), size, cap)
    back = _days_that_fit((len(t) for _, t in reversed(days[:i])), size, cap)
    return SlotPage(days[i:i + n], earlier=dates[i - back] if i else None,
                    later=dates[i + n] if i + n < len(dates) else None)


def slot_page(patient: Patient, window: BookingWindow, *, start: dt.date | None = None, ignore: Any = None,
              later: bool = False) -> SlotPage:
    """One page of the free times slots_in lists, by the clinic's calendar day. What a page
    shows decides nothing: book_visit and move_visit check every time against the window."""
    from touchup.maintenance.services.booking import clinic_zone

    zone = clinic_zone(patient.clinic)
    days: list[tuple[dt.date, list[SlotChoice]]] = []
    for s in slots_in(patient, window, ignore=ignore, later=later):
        day = s.starts_at.astimezone(zone).date()
        if not days or days[-1][0] != day:
            days.append((day, []))
        days[-1][1].append(s)
    return page_of_days(days, start)


def parse_choice(value: str, patient: Patient) -> tuple[Any, dt.datetime]:
    from touchup.maintenance.services.booking import clinician_in

    clinician_id, _, start = (value or "").partition("|")
    if not start:
        raise InvalidInput("slot", "choose a time")
    clinician = clinician_in(patient.clinic, clinician_id, field="slot")
    try:
        starts_at = dt.datetime.fromisoformat(start)
    except ValueError:
        raise InvalidInput("slot", "choose one of the times shown") from None
    return clinician, starts_at


def _check_in_window(window: BookingWindow | None, starts_at: dt.datetime, patient: Patient) -> None:
    """The day rule of touchup.core.booking, on the clinic's calendar day of `starts_at`."""
    from touchup.maintenance.services.booking import clinic_zone

    if window is None:
        raise InvalidInput("slot", "you have no visit to book right now")
    refusal = window.refusal(starts_at.astimezone(clinic_zone(patient.clinic)).date())
    if refusal:
        raise InvalidInput("slot", refusal)


def book_visit(*, actor: Any, patient: Patient, choice: str) -> Any:
    from touchup.maintenance.services.booking import book

    clinician, starts_at = parse_choice(choice, patient)
    window = window_for(patient)
    _check_in_window(window, starts_at, patient)
    return book(actor=actor, patient=patient, clinician=clinician, starts_at=starts_at, areas=list(window.areas))


def may_change(appointment: Any, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    return appointment.is_booked and appointment.starts_at - now >= CHANGE_CUTOFF


def _check_change(appointment: Any) -> None:
    if not appointment.is_booked:
        raise Conflict("This visit is already cancelled.")
    if not may_change(appointment):
        raise Conflict(f"This visit is less than 24 hours away: please {call_the_clinic(appointment.clinic.phone)} "
                       "to change it.")


def move_window(appointment: Any) -> BookingWindow:
    """Where a booked visit may move: the same areas' window (today onwards) and the days
    after it the clinic allows."""
    from touchup.maintenance.models import AreaForecast

    rows = list(AreaForecast.objects.filter(patient=appointment.patient, area__in=appointment.areas or []))
    today = clinic_today(appointment.clinic)
    window = booking_window(_dates(rows), today=today)
    return window or window_without_forecast(appointment.areas or (), today=today)


def move_choice(appointment: Any, choice: str) -> SlotChoice:
    """The time `choice` names, checked as the move itself will check it (window, free, not
    the visit's own time), for the page that asks the patient to confirm; nothing changes."""
    from touchup.maintenance.services.booking import clinic_zone, free_slots

    _check_change(appointment)
    clinician, starts_at = parse_choice(choice, appointment.patient)
    window = move_window(appointment)
    _check_in_window(window, starts_at, appointment.patient)
    if starts_at == appointment.starts_at and clinician.pk == appointment.clinician_id:
        raise InvalidInput("slot", "is your visit's current time")
    day = starts_at.astimezone(clinic_zone(appointment.clinic)).date()
    for s in free_slots(appointment.clinic, clinician, day, day, ignore=appointment):
        if s.starts_at == starts_at:
            return SlotChoice(clinician.pk, _name(clinician), s.starts_at, s.ends_at, window.is_later(day))
    raise Conflict("That time is no longer free; please choose another.")


def move_visit(*, actor: Any, appointment: Any, choice: str) -> Any:
    from touchup.maintenance.services.booking import move

    _check_change(appointment)
    clinician, starts_at = parse_choice(choice, appointment.patient)
    _check_in_window(move_window(appointment), starts_at, appointment.patient)
    return move(actor=actor, appointment=appointment, starts_at=starts_at, clinician=clinician)


def cancel_visit(*, actor: Any, appointment: Any) -> Any:
    from touchup.maintenance.services.booking import cancel

    _check_change(appointment)
    return cancel(actor=actor, appointment=appointment)


def appointments_of(patient: Patient) -> list[Any]:
    from touchup.maintenance.models import Appointment

    return list(
        Appointment.objects.filter(patient=patient, ends_at__gte=timezone.now() - dt.timedelta(days=1))
        .select_related("clinician", "clinic").order_by("starts_at")
    )


def mark_stale(visits: list[Any]) -> list[Any]:
    """The booked `visits` (one patient's), each given `stale_notice`: the plain words for a
    visit a treatment since its booking made too early (touchup.core.stale_visits), or "".
    One query for them all. Nothing is cancelled: the clinic decides, and says so."""
    from touchup.maintenance.services.stale import stale_appointments

    stale = stale_appointments(visits)
    for a in visits:
        a.stale_notice = stale[a.pk].patient_notice() if a.pk in stale else ""
    return visits


def calendar_file(appointment: Any, *, base_url: str) -> bytes:
    """The visit as an iCalendar file for the patient's own calendar: no names, areas or
    products (calendars sync to third parties), a link back into the portal."""
    from touchup.interop.ical import CalendarEvent, to_calendar

    event = CalendarEvent(
        uid=f"{appointment.public_id}@touchup",
        starts_at=appointment.starts_at, ends_at=appointment.ends_at,
        summary=f"Visit: {appointment.clinic.name}",
        url=f"{base_url.rstrip('/')}/portal/visits/{appointment.public_id}/",
        sequence=appointment.sequence, cancelled=not appointment.is_booked,
        updated_at=appointment.updated_at, location=appointment.clinic.name,
    )
    return to_calendar([event], name=appointment.clinic.name, now=timezone.now())


def email_calendar(appointment: Any, *, base_url: str, what: str) -> bool:
    """Send the calendar invite to the patient's email; False when there is no address."""
    patient = appointment.patient
    if not patient.email:
        return False
    clinic = appointment.clinic.name
    msg = EmailMessage(
        subject=f"{clinic}: your visit is {what}",
        body=(f"Hello {patient.given_name},\n\nyour visit is {what}. The attached calendar file adds it to your "
              f"calendar. Details and changes: {base_url.rstrip('/')}/portal/visits/{appointment.public_id}/\n"
              f"— {clinic}"),
        to=[patient.email],
    )
    msg.attach("visit.ics", calendar_file(appointment, base_url=base_url), "text/calendar")
    msg.send()
    return True
