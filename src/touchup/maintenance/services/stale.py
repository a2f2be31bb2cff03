"""Which booked maintenance visits a later treatment has made too early (the rule:
touchup.core.stale_visits).

    stale_visits(visits, zone=, now=)      -> {key: StaleVisit} for the stale ones only
    stale_appointments(appointments, ...)  -> the same for Appointment rows, by pk
    caused_by(treatment, ...)              -> [(Appointment, StaleVisit)] made stale by this
                                              signed treatment (the chart page after signing)

One query for however many visits a page shows (the Day view shows a whole clinic's day):
the signed injection points of those patients, for those areas, dated between the
earliest booking and the latest visit, each with its forecast's earliest_allowed by a
subquery (the forecast row of that same treatment day, when the recompute has caught
up; otherwise the label's interval: core.stale_visits.interval_earliest).

Reads only; the callers audit the page that shows the result, as they already do.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from touchup.clinic.models import InjectionPoint, TreatmentStatus
from touchup.clinic.zones import clinic_zone
from touchup.core.dates import weekday_day_text
from touchup.core.stale_visits import AreaTreated, StaleVisit, interval_earliest, stale_visit

from ..models import AreaForecast, Appointment, AppointmentStatus


@dataclass(frozen=True, slots=True)
class Visit:
    """A booked visit as the check needs it (aware datetimes; `key` is the caller's)."""

    key: Hashable
    patient_id: int
    starts_at: dt.datetime
    booked_at: dt.datetime
    areas: Sequence[str]


def stale_visits(visits: Iterable[Visit], *, zone: zoneinfo.ZoneInfo,
                 now: dt.datetime | None = None) -> dict[Hashable, StaleVisit]:
    """The stale ones of `visits` (all booked), by key; one query, none without visits to
    check. `zone`: the clinic's, in which days are counted."""
    today = timezone.localtime(now or timezone.now(), zone).date()
    todo = [(v, v.starts_at.astimezone(zone).date(), v.booked_at.astimezone(zone).date())
            for v in visits if v.areas]
    todo = [(v, day, booked) for v, day, booked in todo if day >= today and booked < day]
    if not todo:
        return {}
    forecast_earliest = AreaForecast.objects.filter(
        patient_id=OuterRef("treatment__patient_id"), area=OuterRef("area"),
        treated_on=OuterRef("treatment__treated_on"),
    ).values("earliest_allowed")[:1]
    rows = (
        InjectionPoint.objects.filter(
            treatment__patient_id__in={v.patient_id for v, _, _ in todo},
            treatment__status=TreatmentStatus.SIGNED,
            treatment__treated_on__gte=min(b for _, _, b in todo),
            treatment__treated_on__lt=max(d for _, d, _ in todo),
            area__in={a for v, _, _ in todo for a in v.areas},
        )
        .annotate(forecast_earliest=Subquery(forecast_earliest))
        .order_by()
        .values_list("treatment__patient_id", "area", "treatment__treated_on", "treatment__product",
                     "treatment__indication", "forecast_earliest")
        .distinct()
    )
    treated: dict[int, list[AreaTreated]] = defaultdict(list)
    for patient_id, area, treated_on, product, indication, earliest in rows:
        treated[patient_id].append(AreaTreated(
            area, treated_on, earliest if earliest is not None else interval_earliest(treated_on, product, indication),
        ))
    found = {}
    for v, day, booked in todo:
        stale = stale_visit(visit_day=day, booked_on=booked, areas=v.areas, treated=treated.get(v.patient_id, ()),
                            today=today)
        if stale is not None:
            found[v.key] = stale
    return found


def stale_appointments(appointments: Iterable[Appointment], *, zone: zoneinfo.ZoneInfo | None = None,
                       now: dt.datetime | None = None) -> dict[int, StaleVisit]:
    """stale_visits for Appointment rows of one clinic (cancelled ones are never stale), by pk."""
    rows = [a for a in appointments if a.status == AppointmentStatus.BOOKED]
    if not rows:
        return {}
    zone = zone or clinic_zone(rows[0].clinic)
    return stale_visits((Visit(a.pk, a.patient_id, a.starts_at, a.booked_at, a.areas or ()) for a in rows),
                        zone=zone, now=now)


@dataclass(frozen=True, slots=True)
class CausedStale:
    """A visit made stale by a treatment just signed, with the sentence for its clinician."""

    appointment: Appointment
    stale: StaleVisit
    notice: str


def caused_by(treatment: Any, *, now: dt.datetime | None = None) -> list[CausedStale]:
    """The patient's booked visits to come that this signed treatment made stale (an area
    treated on its day), soonest first. Two queries: the visits, then the check."""
    if treatment.status != TreatmentStatus.SIGNED:
        return []
    now = now or timezone.now()
    zone = clinic_zone(treatment.clinic)
    upcoming = list(Appointment.objects.filter(
        patient_id=treatment.patient_id, status=AppointmentStatus.BOOKED, starts_at__gte=now,
    ).order_by("starts_at")[:10])
    stale = stale_appointments(upcoming, zone=zone, now=now)
    found = []
    for a in upcoming:
        s = stale.get(a.pk)
        if s is not None and any(t.treated_on == treatment.treated_on for t in s.treated):
            when = weekday_day_text(a.starts_at.astimezone(zone).date())
            found.append(CausedStale(a, s, s.signing_notice(treatment.patient.given_name, when)))
    return found
