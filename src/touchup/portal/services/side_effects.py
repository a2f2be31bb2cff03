"""Side-effect reports from patients, and the clinic's review of them.

A report is on the clinic's worklist the moment it commits. Trouble swallowing or
breathing is a sign the toxin has spread (every product's boxed warning): the report is
flagged urgent and the page sends the patient to emergency care at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.models import Patient, Treatment

from ..models import URGENT_KINDS, SideEffectKind, SideEffectReport

MAX_DETAILS = 1000
# Side effects start within days to weeks; a year back is a typo.
MAX_DAYS_BACK = 365


def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(field, "must be a date (YYYY-MM-DD)") from None


@transaction.atomic
def side_effect_report(*, actor: Any, patient: Patient, kind: str, details: str = "", started_on: Any = None,
                       treatment: Treatment | None = None) -> SideEffectReport:
    if kind not in SideEffectKind.values:
        raise InvalidInput("kind", "choose what you noticed")
    details = (details or "").strip()
    if len(details) > MAX_DETAILS:
        raise InvalidInput("details", f"must be at most {MAX_DETAILS} characters")
    if kind == SideEffectKind.OTHER and not details:
        raise InvalidInput("details", "tell us what you noticed")
    today = timezone.localdate()
    started_on = today if started_on in (None, "") else _date(started_on, "started_on")
    if started_on > today:
        raise InvalidInput("started_on", "cannot be in the future")
    if started_on < today - dt.timedelta(days=MAX_DAYS_BACK):
        raise InvalidInput("started_on", "is more than a year ago")
    if treatment is not None and treatment.patient_id != patient.pk:
        raise InvalidInput("treatment", "is not one of your treatments")
    report = SideEffectReport.objects.create(
        patient=patient, clinic_id=patient.clinic_id, treatment=treatment, kind=kind, details=details,
        started_on=started_on, urgent=kind in URGENT_KINDS, reported_by=actor, reported_at=timezone.now(),
    )
    audit.record("portal.side_effect.report", actor=actor, patient=patient, obj=report,
                 detail={"kind": kind, "urgent": report.urgent})
    return report


@transaction.atomic
def side_effect_review(*, actor: Any, report: SideEffectReport, note: str = "") -> SideEffectReport:
    """A clinician has dealt with the report (called the patient, booked a review...)."""
    # The report row only (of=self): with select_related, PostgreSQL would lock the patient
    # row FOR UPDATE too (a deadlock with a reading of the patient: docs/reliability.md).
    report = SideEffectReport.objects.select_for_update(of=("self",)).select_related("patient").get(pk=report.pk)
    if report.reviewed_at is not None:
        raise Conflict("This report has already been reviewed.")
    note = (note or "").strip()
    if len(note) > MAX_DETAILS:
        raise InvalidInput("note", f"must be at most {MAX_DETAILS} characters")
    report.reviewed_by, report.reviewed_at, report.review_note = actor, timezone.now(), note
    report.save(update_fields=["reviewed_by", "reviewed_at", "review_note"])
    audit.record("portal.side_effect.review", actor=actor, patient=report.patient, obj=report)
    return report
