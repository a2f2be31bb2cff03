from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from touchup.core.catalogue import load_catalogue
from touchup.core.screening import InvalidScreening, evaluate_screening, missing_details

from .. import audit
from ..errors import Conflict, InvalidInput
from ..models import Membership, Patient, Screening


@transaction.atomic
def screening_record(*, actor: Any, patient: Patient, indication: str, answers: dict[str, Any]) -> Screening:
    """Record the intake answers; the core turns them into block/warn findings."""
    if indication not in load_catalogue().indications:
        raise InvalidInput("indication", f"unknown indication {indication!r}")
    try:
        result = evaluate_screening(answers, indication)
    except InvalidScreening as exc:
        raise InvalidInput(getattr(exc, "question", "answers"), str(exc)) from None
    for exc in missing_details(answers, indication):
        raise InvalidInput(exc.question, exc.message)
    screening = Screening.objects.create(
        patient=patient,
        indication=indication,
        answers=answers,
        findings=[asdict(f) for f in result.findings],
        blocking=result.blocking,
        requires_doctor=result.requires_doctor,
        recorded_by=actor,
        recorded_at=timezone.now(),
    )
    audit.record(
        "screening.record", actor=actor, patient=patient, obj=screening,
        detail={"indication": indication, "blocking": result.blocking},
    )
    return screening


@transaction.atomic
def screening_doctor_signoff(*, actor: Any, screening: Screening) -> Screening:
    """A doctor confirms the patient may be treated (needed for therapeutic indications)."""
    is_doctor = Membership.objects.filter(
        user=actor, clinic=screening.patient.clinic_id, active=True, is_doctor=True
    ).exists()
    if not is_doctor:
        raise PermissionDenied("Only a doctor can sign off a screening.")
    # FOR NO KEY UPDATE: a chart signed meanwhile names this screening (Treatment.screening)
    # and PostgreSQL checks that key at its commit (FOR KEY SHARE) while it holds the audit
    # head, which this transaction asks for last; FOR UPDATE made the two wait for each other.
    screening = Screening.objects.select_for_update(no_key=True).get(pk=screening.pk)
    if screening.doctor_signed:
        raise Conflict("This screening is already signed off.")
    screening.doctor_signed_by = actor
    screening.doctor_signed_at = timezone.now()
    screening.save(update_fields=["doctor_signed_by", "doctor_signed_at"])
    audit.record("screening.doctor_signoff", actor=actor, patient=screening.patient, obj=screening)
    return screening


def latest_screening(patient: Patient) -> Screening | None:
    return patient.screenings.order_by("-recorded_at", "-pk").first()
