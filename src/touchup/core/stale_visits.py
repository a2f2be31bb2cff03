"""Booked maintenance visits that a later treatment has made too early ("stale").

    stale_visit(visit_day=, booked_on=, areas=, treated=, today=) -> StaleVisit | None
    interval_earliest(treated_on, product, indication) -> date  (the label's interval only)

A maintenance visit is booked for areas (Appointment.areas). When one of those areas is
treated after the visit was booked (a walk-in, a visit booked elsewhere in the diary), the
minimum retreatment interval now starts from that treatment, and a visit before the new
earliest_allowed cannot be used to treat the area. Such a visit is stale for that area:

- the visit is still to come (its day is today or later);
- the area was treated on or after the day the visit was booked (the same day counts: a
  visit booked that morning could not know of the treatment, and the booking pages only
  refuse days before earliest_allowed once the forecast has caught up), and before the
  visit's own day (a treatment on the visit's day is taken as the visit itself: the
  patient came early);
- the visit's day is before the earliest_allowed that follows that treatment.

A visit stale for every one of its areas is of no use for treatment (`partly` False); one
stale for some (glabella + forehead booked, glabella treated since) is still of use for
the others (`partly` True), and the notices say which. Nothing here cancels anything: the
patient may still want the visit (another area, a review), so a person decides.

earliest_allowed comes in with each treatment: the forecast's own (which also respects
the cumulative dose limit) once it has been recomputed for that treatment, else
interval_earliest (the minimum interval alone, never later than the forecast's), so the
check is right from the moment the chart is signed.

Pure: dates and the treatments come in as arguments; area names and intervals from the
catalogue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Sequence

from touchup.core.catalogue import load_catalogue
from touchup.core.dates import day_text, long_day_text


@dataclass(frozen=True, slots=True)
class AreaTreated:
    """One signed treatment of an area: its day and the earliest day it may be repeated."""

    area: str
    treated_on: dt.date
    earliest_allowed: dt.date


@dataclass(frozen=True, slots=True)
class StaleVisit:
    """A booked visit made too early by a later treatment. `treated`: its areas treated
    since it was booked (latest treatment of each, sorted by area); `still_for`: its other
    areas, for which the visit may still be wanted."""

    visit_day: dt.date
    treated: tuple[AreaTreated, ...]
    still_for: tuple[str, ...]

    @property
    def partly(self) -> bool:
        return bool(self.still_for)

    @property
    def areas(self) -> tuple[str, ...]:
        return tuple(t.area for t in self.treated)

    @property
    def treated_on(self) -> dt.date:
        """The latest treatment that made it stale."""
        return max(t.treated_on for t in self.treated)

    @property
    def earliest_allowed(self) -> dt.date:
        """The first day the visit could treat every one of its stale areas again."""
        return max(t.earliest_allowed for t in self.treated)

    def staff_notice(self) -> str:
        """For the appointment and patient pages: what happened and what to do."""
        rules = "; ".join(f"{_names([t.area])} cannot be treated again before {day_text(t.earliest_allowed)}"
                          for t in self.treated)
        text = f"Booked before the treatment on {_treatment_days(self.treated)}; {rules}."
        if self.partly:
            return (text + f" The visit is still of use for {_names(self.still_for)} only: keep it for that, "
                           "move it into the new window, or cancel it.")
        return text + " Cancel it or move it into the new window."

    def day_label(self) -> str:
        """The Day view's mark, in words."""
        if self.partly:
            return f"{_names(self.areas)} treated since booking"
        return "treated since booking"

    def signing_notice(self, given_name: str, visit_time_text: str) -> str:
        """For the clinician who has just signed the treatment that made it stale."""
        if self.partly:
            return (f"{given_name} has a maintenance visit on {visit_time_text} for {_names(self.areas)} and "
                    f"{_names(self.still_for)}: it is now too early for {_names(self.areas)}. Cancel or move it?")
        return (f"{given_name} has a maintenance visit on {visit_time_text} for this area: it is now too early. "
                "Cancel it?")

    def patient_notice(self) -> str:
        """For the patient's portal: honest and plain; a person at the clinic decides."""
        return (f"You were treated on {long_day_text(self.treated_on)}, after this visit was booked. "
                "Your clinic will confirm whether you still need this visit.")


def stale_visit(*, visit_day: dt.date, booked_on: dt.date, areas: Sequence[str], treated: Iterable[AreaTreated],
                today: dt.date) -> StaleVisit | None:
    """Whether a booked visit on `visit_day` (booked on `booked_on`, for `areas`) is stale
    given the patient's signed treatments `treated` (any areas; others are ignored), as of
    `today` (all in the clinic's zone). None when it is not (see the module docstring)."""
    if visit_day < today or not areas:
        return None
    since: dict[str, AreaTreated] = {}
    for t in treated:
        if t.area in areas and booked_on <= t.treated_on < visit_day:
            kept = since.get(t.area)
            if kept is None or (t.earliest_allowed, t.treated_on) > (kept.earliest_allowed, kept.treated_on):
                since[t.area] = t
    stale = tuple(since[a] for a in sorted(since) if visit_day < since[a].earliest_allowed)
    if not stale:
        return None
    stale_areas = {t.area for t in stale}
    return StaleVisit(visit_day=visit_day, treated=stale,
                      still_for=tuple(a for a in sorted(set(areas)) if a not in stale_areas))


def interval_earliest(treated_on: dt.date, product: str, indication: str) -> dt.date:
    """The earliest day after a treatment on `treated_on` by the minimum retreatment
    interval alone (the indication's, else the product's), for a treatment the forecast
    has not caught up with yet. Raises KeyError for a product or indication the catalogue
    lacks."""
    return treated_on + dt.timedelta(days=load_catalogue().min_retreatment_days(product, indication))


def _names(areas: Iterable[str]) -> str:
    """'glabella (frown lines) and forehead': catalogue names, lower-case, mid-sentence."""
    cat = load_catalogue()
    names = []
    for a in areas:
        found = cat.areas.get(a)
        name = found.name if found else a.replace("_", " ")
        names.append(name[:1].lower() + name[1:])
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _treatment_days(treated: Sequence[AreaTreated]) -> str:
    days = sorted({t.treated_on for t in treated})
    return " and ".join(day_text(d) for d in days)
