"""Which days a patient may book their maintenance visit for, online.

    booking_window(areas, today=date) -> BookingWindow | None
    window.refusal(day) -> str | None     (why `day` may not be booked; None: it may)
    window.is_later(day) -> bool          (after the recommended window: say so)

The recommended window runs from the forecast's book_from (never before the areas'
earliest_allowed, nor before today) to book_by; an overdue window (book_by already
passed) runs OVERDUE_DAYS from its start. After it, the clinic's policy
(data/practice.toml, portal_booking_after_window_days) allows a visit that many days
later again, marked "later than recommended", so that a patient who cannot come inside
the window (a holiday, work) can still book without calling. Nothing is ever allowed
before earliest_allowed: the label's minimum interval between treatments and its
cumulative dose limit are a safety rule, not a recommendation.

Pure: the areas' dates and today come in as arguments; the policy from the catalogue.
The portal's booking service asks here for every booking and move; its pages list only
days this allows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from touchup.core.catalogue import load_catalogue
from touchup.core.dates import long_day_text

# An overdue window (the effect has probably worn off already) stays open this long from
# today: "the sooner, the better", but a patient needs more than the next few days.
OVERDUE_DAYS = 28


@dataclass(frozen=True, slots=True)
class AreaDates:
    """One area's dates from its forecast (touchup.core.forecast.AreaForecast)."""

    area: str
    book_from: dt.date
    book_by: dt.date
    earliest_allowed: dt.date


@dataclass(frozen=True, slots=True)
class BookingWindow:
    """`start`..`end`: the recommended days; `end` + 1..`last`: later than recommended
    (empty when the policy is 0). `earliest_allowed` is the latest of the areas' own."""

    start: dt.date
    end: dt.date
    last: dt.date
    earliest_allowed: dt.date
    today: dt.date
    areas: tuple[str, ...]
    overdue: bool

    @property
    def later_start(self) -> dt.date:
        return self.end + dt.timedelta(days=1)

    @property
    def offers_later(self) -> bool:
        return self.last > self.end

    def is_later(self, day: dt.date) -> bool:
        return day > self.end

    def refusal(self, day: dt.date) -> str | None:
        """Why the visit may not be on `day`, completing "That time …"; None when it may.
        The safety rule is checked first, so its reason is the one given."""
        if day < self.earliest_allowed:
            return (f"is before {long_day_text(self.earliest_allowed)}, the earliest your treatment may be "
                    "repeated (the minimum time between treatments, a safety rule)")
        if day < self.today:
            return "is in the past"
        if day < self.start:
            return f"is before your booking window opens on {long_day_text(self.start)}"
        if day > self.last:
            if self.offers_later:
                return (f"is after {long_day_text(self.last)}, the latest you can book online "
                        f"({(self.last - self.end).days} days after your recommended window): please call the "
                        "clinic, or ask us to call you")
            return (f"is after {long_day_text(self.end)}, the end of your booking window: please call the clinic, "
                    "or ask us to call you")
        return None


def after_window_days() -> int:
    """The clinic's policy: how many days after the window the portal still offers."""
    return load_catalogue().practice.portal_booking_after_window_days


def booking_window(areas: Iterable[AreaDates], *, today: dt.date,
                   after_days: int | None = None) -> BookingWindow | None:
    """The days for booking one visit for all of `areas`; None when there are none.
    `after_days` defaults to the catalogue's portal_booking_after_window_days."""
    rows = list(areas)
    if not rows:
        return None
    after = after_window_days() if after_days is None else after_days
    if after < 0:
        raise ValueError(f"after_days must be 0 or more, got {after}")
    earliest = max(r.earliest_allowed for r in rows)
    start = max(min(r.book_from for r in rows), earliest, today)
    end = max(r.book_by for r in rows)
    overdue = end < start
    if overdue:
        end = start + dt.timedelta(days=OVERDUE_DAYS)
    return BookingWindow(start=start, end=end, last=end + dt.timedelta(days=after), earliest_allowed=earliest,
                         today=today, areas=tuple(sorted(r.area for r in rows)), overdue=overdue)


def window_without_forecast(areas: Iterable[str], *, today: dt.date,
                            after_days: int | None = None) -> BookingWindow:
    """A visit whose areas have no forecast any more (a recompute dropped them): an overdue
    window from today, with nothing of the forecast's to enforce."""
    after = after_window_days() if after_days is None else after_days
    end = today + dt.timedelta(days=OVERDUE_DAYS)
    return BookingWindow(start=today, end=end, last=end + dt.timedelta(days=after), earliest_allowed=dt.date.min,
                         today=today, areas=tuple(sorted(areas)), overdue=True)
