"""Screening: the intake questions, recording a patient's answers, reading them back,
and a doctor's sign-off (needed before a therapeutic indication is treated).

The front desk records intake but does not see findings (clinical data): its answer to
a recording is a receipt. Clinicians get the findings straight away.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from touchup.clinic import access
from touchup.clinic.services import screenings as screening_services

from .catalogue import plain
from .schemas import COMMON_ERRORS, OBJECT_ERRORS, DetailOut, JsonObject, text

router = Router(tags=["screenings"])


class QuestionsQuery(Schema):
    indication: text(40) | None = Field(None, description="Only the questions asked for this indication")  # type: ignore[valid-type]


class ScreeningIn(Schema):
    indication: text(40, min_length=1)  # type: ignore[valid-type]
    answers: JsonObject = Field(description="Question key → answer, as listed by GET /screening/questions")


class FindingOut(Schema):
    severity: str = Field(description="block | warn | info")
    code: str
    message: str
    rule: str | None = None
    source: str | None = None
    site: str | None = None
    key: str | None = Field(default=None, description="For a chart's findings: names this finding exactly "
                            "(code@site#digest of its message); a warning is accepted for signing by its key")


class ScreeningReceiptOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    indication: str
    recorded_at: dt.datetime


class ScreeningOut(ScreeningReceiptOut):
    answers: dict[str, Any]
    findings: list[FindingOut]
    blocking: bool
    requires_doctor: bool
    recorded_by: str
    doctor_signed_by: str | None
    doctor_signed_at: dt.datetime | None


def receipt_out(s: Any) -> ScreeningReceiptOut:
    return ScreeningReceiptOut(
        id=s.public_id, patient_id=s.patient.public_id, indication=s.indication, recorded_at=s.recorded_at
    )


def screening_out(s: Any) -> ScreeningOut:
    return ScreeningOut(
        **receipt_out(s).model_dump(),
        answers=s.answers,
        findings=[FindingOut(**{k: f.get(k) for k in FindingOut.model_fields}) for f in s.findings],
        blocking=s.blocking,
        requires_doctor=s.requires_doctor,
        recorded_by=s.recorded_by.get_username(),
        doctor_signed_by=s.doctor_signed_by.get_username() if s.doctor_signed_by_id else None,
        doctor_signed_at=s.doctor_signed_at,
    )


@router.get("/screening/questions", response={200: list[dict[str, Any]], **COMMON_ERRORS})
def questions(request: HttpRequest, params: Query[QuestionsQuery]) -> list[dict[str, Any]]:
    """The intake questionnaire from the clinical core (any staff role)."""
    from touchup.core.screening import QUESTIONS, questions_for

    access.require(request.user, "patient.view")  # every staff role; not patients
    return [plain(q) for q in (questions_for(params.indication) if params.indication else QUESTIONS)]


@router.post(
    "/patients/{patient_id}/screenings",
    response={201: ScreeningOut | ScreeningReceiptOut, **OBJECT_ERRORS},
)
def record_screening(request: HttpRequest, patient_id: uuid.UUID, payload: ScreeningIn) -> Status[Any]:
    """Record the patient's answers. Clinicians get the findings back; the front desk a receipt."""
    patient = access.patient_for(request.user, patient_id, need="screening.record", audit_read=False)
    screening = screening_services.screening_record(
        actor=request.user, patient=patient, indication=payload.indication, answers=payload.answers
    )
    if access.can(request.user, "clinical.view"):
        return Status(201, screening_out(screening))
    return Status(201, receipt_out(screening))


@router.get("/screenings/{screening_id}", response={200: ScreeningOut, **OBJECT_ERRORS})
def get_screening(request: HttpRequest, screening_id: uuid.UUID) -> ScreeningOut:
    """One screening with its answers and findings (clinical roles; audited)."""
    return screening_out(access.screening_for(request.user, screening_id))


@router.post(
    "/screenings/{screening_id}/doctor-signoff",
    response={200: ScreeningOut, 409: DetailOut, **OBJECT_ERRORS},
)
def doctor_signoff(request: HttpRequest, screening_id: uuid.UUID) -> ScreeningOut:
    """A doctor confirms the patient may be treated. Doctors only; once (then 409)."""
    screening = access.screening_for(request.user, screening_id, need="screening.doctor_signoff")
    screening = screening_services.screening_doctor_signoff(actor=request.user, screening=screening)
    return screening_out(screening)
