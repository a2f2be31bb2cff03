"""The clinic's time zone: one rule for reading `Clinic.time_zone`.

A clinic's 09:00 is the time on its wall, so bookings, reminders, expiry dates in emails
and the portal's pages all turn instants into the clinic's local time. The name is
checked when the clinic is created, but a row edited by hand or a zone dropped from the
system's tz database must not take a page or the reminder worker down: an empty or
unknown name falls back to UTC, which is also the field's default.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.utils import timezone

FALLBACK = "UTC"


def zone_named(name: str | None) -> zoneinfo.ZoneInfo:
    """The zone called `name`; UTC when the name is empty or not a known zone."""
    try:
        return zoneinfo.ZoneInfo(name or FALLBACK)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(FALLBACK)


def clinic_zone(clinic: Any) -> zoneinfo.ZoneInfo:
    """The zone the clinic keeps its clock in (see zone_named for the fallback)."""
    return zone_named(clinic.time_zone)


def clinic_today(clinic: Any, now: dt.datetime | None = None) -> dt.date:
    """Today where the clinic is (the server may run in UTC while the clinic is in Sydney)."""
    return timezone.localtime(now or timezone.now(), clinic_zone(clinic)).date()
