"""Appointments as iCalendar (RFC 5545), for one appointment's .ics file and for a
clinician's subscription feed.

Calendar programs keep what they import, often on someone else's servers, so an event
says as little as possible: "Touchup visit", the patient's initials, and a link to the
appointment in Touchup (which asks for a login). No names, areas, products or doses.
A moved appointment keeps its UID and raises SEQUENCE, so programs replace their copy;
a cancelled one stays in the feed as STATUS:CANCELLED so they remove it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from icalendar import Calendar, Event

PRODID = "-//Touchup//Maintenance booking//EN"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    starts_at: dt.datetime  # aware
    ends_at: dt.datetime
    summary: str
    url: str
    sequence: int
    cancelled: bool
    updated_at: dt.datetime
    location: str = ""


def initials(given_name: str, family_name: str) -> str:
    return "".join(f"{n.strip()[0].upper()}." for n in (given_name, family_name) if n.strip())


def event_for(appointment, *, base_url: str) -> CalendarEvent:
    """A CalendarEvent for a touchup.maintenance Appointment (patient and clinic loaded)."""
    patient = appointment.patient
    return CalendarEvent(
        uid=f"{appointment.public_id}@touchup",
        starts_at=appointment.starts_at,
        ends_at=appointment.ends_at,
        summary=f"Touchup visit: {initials(patient.given_name, patient.family_name)}",
        url=f"{base_url.rstrip('/')}/appointments/{appointment.public_id}/",
        sequence=appointment.sequence,
        cancelled=appointment.status == "cancelled",
        updated_at=appointment.updated_at,
        location=appointment.clinic.name,
    )


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc)


def to_calendar(events: Iterable[CalendarEvent], *, name: str, now: dt.datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    # Ask subscribers to poll hourly (RFC 7986 REFRESH-INTERVAL, and Outlook's own).
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for e in events:
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", _utc(now))
        ev.add("last-modified", _utc(e.updated_at))
        ev.add("dtstart", _utc(e.starts_at))
        ev.add("dtend", _utc(e.ends_at))
        ev.add("summary", e.summary)
        ev.add("url", e.url)
        ev.add("description", f"Open in Touchup: {e.url}")
        if e.location:
            ev.add("location", e.location)
        ev.add("sequence", e.sequence)
        ev.add("status", "CANCELLED" if e.cancelled else "CONFIRMED")
        ev.add("transp", "OPAQUE")
        cal.add_component(ev)
    return cal.to_ical()


def parse(data: bytes) -> list[dict]:
    """Read a calendar back (for checks): one dict per VEVENT with the fields above."""
    cal = Calendar.from_ical(data)
    out = []
    for ev in cal.walk("VEVENT"):
        out.append({
            "uid": str(ev["UID"]),
            "starts_at": ev.decoded("DTSTART"),
            "ends_at": ev.decoded("DTEND"),
            "summary": str(ev["SUMMARY"]),
            "status": str(ev["STATUS"]),
            "sequence": int(ev["SEQUENCE"]),
            "url": str(ev["URL"]),
        })
    return out
