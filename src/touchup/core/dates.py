"""How dates read in text people see: one rule, so a finding, a message and a page agree.

Every shape writes the day of the month without a leading zero ('5', never '05', which is
what strftime's %d gives and what people do not write); months are English abbreviations
('Jan') in staff pages and findings, and full names ('January') in what patients read.
Times are the 24-hour clock. Callers pass dates and times already in the clinic's zone.
"""

from __future__ import annotations

import datetime as dt


def day_text(d: dt.date) -> str:
    """'5 Jan 2027', as every page writes dates (strftime's %d gives '05')."""
    return f"{d.day} {d:%b %Y}"


def day_month_text(d: dt.date) -> str:
    """'5 Jan': the start of a range whose end carries the year, or a date this season."""
    return f"{d.day} {d:%b}"


def weekday_day_text(d: dt.date) -> str:
    """'Tue 5 Jan': a day in the coming weeks, where the weekday is what people plan by."""
    return f"{d:%a} {d.day} {d:%b}"


def day_time_text(t: dt.datetime) -> str:
    """'5 Jan 14:30': a moment within days of now (a use-by, a reconstitution)."""
    return f"{t.day} {t:%b %H:%M}"


def weekday_day_time_text(t: dt.datetime) -> str:
    """'Tue 5 Jan 14:30': an appointment."""
    return f"{t:%a} {t.day} {t:%b %H:%M}"


def long_day_text(d: dt.date) -> str:
    """'5 January 2027': dates in what patients read (portal, emails)."""
    return f"{d.day} {d:%B %Y}"


def long_day_time_text(t: dt.datetime) -> str:
    """'5 January 2027 at 14:30': a deadline in an email."""
    return f"{t.day} {t:%B %Y at %H:%M}"
