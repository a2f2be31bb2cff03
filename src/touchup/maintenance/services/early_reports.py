"""Early wear-off reports (touchup.core.early_report) where people see them: the staff
patient page and the portal read them per patient; the Due worklist's "Reported wearing
off early" section lists the clinic's.

Reads only: each caller's own audited read covers them (the patient page's patient.view,
the portal's results read, the worklist's worklist.view, whose detail counts the section).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from touchup.clinic.models import Observation, ObservationKind, Patient
from touchup.core.dates import day_month_text, day_text
from touchup.core.early_report import EarlyReport, early_report

from ..models import AreaForecast

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


def reports_of(patient: Patient) -> list[EarlyReport]:
    """The patient's early reports (two queries), in the order of their forecast areas."""
    forecasts = list(AreaForecast.objects.filter(patient=patient).order_by("book_from", "area"))
    if not forecasts:
        return []
    checkins = Observation.objects.filter(
        patient=patient, kind=ObservationKind.WEARING_OFF_REPORTED, area__in=[f.area for f in forecasts],
        observed_on__gt=min(f.treated_on for f in forecasts),
    ).order_by("observed_on", "pk")
    return list(reports_for(forecasts, checkins).values())


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
    one query on the partial index forecast_early_report (patients and clinicians by join).

    A row leaves when a later check-in says "no" or a new treatment starts a cycle (the
    recompute clears early_report_on), or when its booking window reaches the main list
    (book_from within the horizon), where the desk calls them anyway."""
    values = (
        AreaForecast.objects.filter(clinic=clinic, early_report_on__isnull=False, book_from__gt=horizon)
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
