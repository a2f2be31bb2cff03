"""Early wear-off reports (touchup.core.early_report) where people see them: the staff
patient page and the portal read them per patient; the Due worklist's "Reported wearing
off early" section lists the clinic's.

The reads are covered by each caller's own audited read (the patient page's patient.view,
the portal's results read, the worklist's worklist.view, whose detail counts the section).
The one write, mark_handled, notes the front desk's call (audited worklist.early_report).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Observation, ObservationKind, Patient
from touchup.core.dates import day_month_text, day_text
from touchup.core.early_report import EarlyReport, early_report

from ..models import AreaForecast, EarlyReportOutcome
from .forecasts import lock_forecasts

# The section is short by nature (a few patients a week); a bound keeps it one small read
# even if something floods it.
SECTION_LIMIT = 100


def reports_for(forecasts: Iterable[Any], observations: Iterable[Any]) -> dict[str, EarlyReport]:
    """Each area's early report, by area, from a patient's forecast rows and observations
    (any kinds, in recording order; the rule keeps the current cycle's check-ins)."""
    answers: dict[str, list[tuple[dt.date, bool]]] = defaultdict(list)
    for o in observations:
        if o.kind == ObservationKind.WEARING_OFF_REPORTED:
            answers[o.area].append((o.observed_on, bool(o.value)))
    found = {}
    for f in forecasts:
        report = early_report(f.area, f.treated_on, (f.wear_off_low, f.wear_off_high), f.earliest_allowed,
                              answers.get(f.area, ()))
        if report is not None:
            found[f.area] = report
    return found


@dataclass(frozen=True, slots=True)
class StaffEarlyReport:
    """An early report on the staff patient page, with the front desk's call about it."""

    report: EarlyReport
    handled_at: dt.datetime | None = None
    handled_by: str = ""
    outcome: str = ""  # EarlyReportOutcome's words

    @property
    def area(self) -> str:
        return self.report.area

    @property
    def staff_text(self) -> str:
        return self.report.staff_text()

    @property
    def handled_text(self) -> str:
        if self.handled_at is None:
            return ""
        when = day_month_text(timezone.localtime(self.handled_at).date())
        return f"Called on {when} by {self.handled_by or 'a former staff member'}: {self.outcome}."


def _name(user: Any) -> str:
    if user is None:
        return ""
    return f"{user.first_name} {user.last_name}".strip() or user.username


def reports_of(patient: Patient) -> list[StaffEarlyReport]:
    """The patient's early reports (two queries), in the order of their forecast areas,
    each with the call noted about it (when the row's report is the same one: a recompute
    owed after a new check-in could otherwise lend an old report's note to a new one)."""
    forecasts = list(AreaForecast.objects.filter(patient=patient).select_related("early_report_handled_by")
                     .order_by("book_from", "area"))
    if not forecasts:
        return []
    checkins = Observation.objects.filter(
        patient=patient, kind=ObservationKind.WEARING_OFF_REPORTED, area__in=[f.area for f in forecasts],
        observed_on__gt=min(f.treated_on for f in forecasts),
    ).order_by("observed_on", "pk")
    rows = {f.area: f for f in forecasts}
    labels = dict(EarlyReportOutcome.choices)
    found = []
    for area, report in reports_for(forecasts, checkins).items():
        f = rows[area]
        if f.early_report_handled_at is not None and f.early_report_on == report.reported_on:
            found.append(StaffEarlyReport(report, f.early_report_handled_at, _name(f.early_report_handled_by),
                                          labels.get(f.early_report_outcome, f.early_report_outcome)))
        else:
            found.append(StaffEarlyReport(report))
    return found


@transaction.atomic
def mark_handled(*, actor: Any, patient: Patient, area: str, outcome: str) -> AreaForecast:
    """Note how the front desk's call about the area's early report ended; the report
    leaves the worklist section (until a new report: see recompute). Noting it again
    replaces the outcome. Under the patient's lock, as every write of forecast rows."""
    if outcome not in EarlyReportOutcome.values:
        raise InvalidInput("outcome", f"must be one of {', '.join(EarlyReportOutcome.values)}")
    if not area:
        raise InvalidInput("area", "name the area of the report")
    lock_forecasts(patient.pk)  # a recompute may be replacing the rows
    forecast = AreaForecast.objects.select_for_update().filter(patient=patient, area=area).first()
    if forecast is None:
        raise InvalidInput("area", "this patient has no forecast for that area")
    if forecast.early_report_on is None:
        # Taken back by a later "no" (or a new treatment) since the page was shown.
        raise InvalidInput("area", "this patient has no early wear-off report open for that area")
    forecast.early_report_handled_at = timezone.now()
    forecast.early_report_outcome = outcome
    forecast.early_report_handled_by = actor
    forecast.save(update_fields=["early_report_handled_at", "early_report_outcome", "early_report_handled_by"])
    audit.record("worklist.early_report", actor=actor, patient=patient,
                 detail={"area": area, "outcome": outcome, "reported_on": forecast.early_report_on.isoformat()})
    return forecast


@dataclass(frozen=True, slots=True)
class EarlyReportRow:
    """One patient-area in the worklist section, plain values (as WorklistRow)."""

    patient_public_id: Any
    patient_name: str
    phone: str
    area: str
    reported_on: dt.date
    days_after_treatment: int
    wear_off_low: dt.date
    clinician_name: str

    @property
    def reported_text(self) -> str:
        return (f"Reported {day_month_text(self.reported_on)}, {self.days_after_treatment} days after the "
                f"treatment; expected from {day_text(self.wear_off_low)}")


def worklist_section(clinic: Any, horizon: dt.date) -> list[EarlyReportRow]:
    """The clinic's early reports for the front desk to call about, oldest report first:
    one query on the partial index forecast_early_report_open (patients and clinicians by
    join).

    A row leaves when the desk notes the call (mark_handled), when a later check-in says
    "no" or a new treatment starts a cycle (the recompute clears early_report_on), or when
    its booking window reaches the main list (book_from within the horizon), where the desk
    calls them anyway."""
    values = (
        AreaForecast.objects.filter(clinic=clinic, early_report_on__isnull=False,
                                    early_report_handled_at__isnull=True, book_from__gt=horizon)
        .order_by("early_report_on", "id")
        .values_list("patient__public_id", "patient__given_name", "patient__family_name", "patient__phone", "area",
                     "early_report_on", "treated_on", "wear_off_low", "clinician__first_name",
                     "clinician__last_name", "clinician__username")[:SECTION_LIMIT]
    )
    return [
        EarlyReportRow(pid, f"{given} {family}", phone, area, reported, (reported - treated).days, low,
                       f"{c_first} {c_last}".strip() or (c_user or "—"))
        for pid, given, family, phone, area, reported, treated, low, c_first, c_last, c_user in values
    ]
