"""Patients: list, search (by POST: names are PHI and stay out of URLs), register, read, edit.

Front desk may do all of these; the clinical part of a patient (screenings, treatments)
is only filled in for roles that hold clinical.view (ASVS 8.2.3 field-level access).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import AfterValidator

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.services import patients as patient_services
from touchup.clinic.services import records

from .schemas import COMMON_ERRORS, OBJECT_ERRORS, IsoDate, Page, PageParams, page, text

router = Router(tags=["patients"])


def _email(value: str) -> str:
    if value:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise ValueError("is not an email address") from None
    return value


Email = Annotated[text(254), AfterValidator(_email)]  # type: ignore[valid-type]
Name = text(100, min_length=1)
Phone = text(32)
SexIn = Literal["female", "male", "other"]


class PatientIn(Schema):
    given_name: Name  # type: ignore[valid-type]
    family_name: Name  # type: ignore[valid-type]
    birth_date: IsoDate
    sex: SexIn
    email: Email = ""  # type: ignore[valid-type]
    phone: Phone = ""  # type: ignore[valid-type]


class PatientPatch(Schema):
    """Only the fields sent are changed. A field may not be set to null."""

    # Defaults are not validated, so "absent" is allowed while an explicit null is not.
    given_name: Name = None  # type: ignore[valid-type,assignment]
    family_name: Name = None  # type: ignore[valid-type,assignment]
    birth_date: IsoDate = None  # type: ignore[assignment]
    sex: SexIn = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[valid-type,assignment]
    phone: Phone = None  # type: ignore[valid-type,assignment]


class PatientSearchIn(Schema):
    q: text(100, min_length=1) = Field(  # type: ignore[valid-type]
        description="Words of the given or family name, or a birth date YYYY-MM-DD; every word must match"
    )
    limit: int = Field(20, ge=1, le=50)
    offset: int = Field(0, ge=0, le=1000)


class PatientSummaryOut(Schema):
    id: uuid.UUID
    given_name: str
    family_name: str
    birth_date: dt.date
    sex: str


class ScreeningSummaryOut(Schema):
    id: uuid.UUID
    indication: str
    recorded_at: dt.datetime
    blocking: bool
    requires_doctor: bool
    doctor_signed: bool


class TreatmentSummaryOut(Schema):
    id: uuid.UUID
    treated_on: dt.date
    product: str
    indication: str
    status: str


class PatientClinicalOut(Schema):
    screenings: list[ScreeningSummaryOut] = Field(description="Newest first (at most 20)")
    treatments: list[TreatmentSummaryOut] = Field(description="Newest first (at most 50)")


class PatientOut(PatientSummaryOut):
    email: str
    phone: str
    created_at: dt.datetime
    clinical: PatientClinicalOut | None = Field(
        description="Screenings and treatments; null for roles without clinical access (front desk)"
    )


def summary_out(p: Any) -> dict[str, Any]:
    return {
        "id": p.public_id, "given_name": p.given_name, "family_name": p.family_name,
        "birth_date": p.birth_date, "sex": p.sex,
    }


def screening_summary(s: Any) -> dict[str, Any]:
    return {
        "id": s.public_id, "indication": s.indication, "recorded_at": s.recorded_at,
        "blocking": s.blocking, "requires_doctor": s.requires_doctor, "doctor_signed": s.doctor_signed,
    }


def _clinical(user: Any, patient: Any) -> dict[str, Any] | None:
    if not access.can(user, "clinical.view"):
        return None
    treatments = access.treatments_visible_to(user).filter(patient=patient).order_by("-treated_on", "-pk")[:50]
    # The patient came through the gate, so its own screenings are in scope.
    screenings = patient.screenings.order_by("-recorded_at", "-pk")[:20]
    return {
        "screenings": [screening_summary(s) for s in screenings],
        "treatments": [
            {"id": t.public_id, "treated_on": t.treated_on, "product": t.product,
             "indication": t.indication, "status": t.status}
            for t in treatments
        ],
    }


def patient_out(user: Any, p: Any) -> dict[str, Any]:
    return {
        **summary_out(p), "email": p.email, "phone": p.phone, "created_at": p.created_at,
        "clinical": _clinical(user, p),
    }


@router.get("/patients", response={200: Page[PatientSummaryOut], **COMMON_ERRORS})
def list_patients(request: HttpRequest, params: Query[PageParams]) -> dict[str, Any]:
    """The clinic's patients by family name. To find someone, use POST /patients/search."""
    qs = access.patients_visible_to(request.user).order_by("family_name", "given_name", "pk")
    return page(qs, params, summary_out)


@router.post("/patients/search", response={200: Page[PatientSummaryOut], **COMMON_ERRORS})
def search_patients(request: HttpRequest, payload: PatientSearchIn) -> dict[str, Any]:
    """Find patients by name or birth date. A POST so the search words never reach a URL,
    a proxy log or the browser history (ASVS 14.2.1)."""
    qs = access.patients_visible_to(request.user)
    for word in payload.q.split()[:5]:
        try:
            born = dt.date.fromisoformat(word)
        except ValueError:
            qs = qs.filter(Q(given_name__icontains=word) | Q(family_name__icontains=word))
        else:
            qs = qs.filter(birth_date=born)
    qs = qs.order_by("family_name", "given_name", "pk")
    return page(qs, payload, summary_out)  # type: ignore[arg-type]


@router.post("/patients", response={201: PatientOut, **COMMON_ERRORS})
def create_patient(request: HttpRequest, payload: PatientIn) -> Status[Any]:
    """Register a patient in the caller's clinic."""
    m = access.require(request.user, "patient.edit")
    patient = patient_services.patient_create(actor=request.user, clinic=m.clinic, **payload.model_dump())
    return Status(201, patient_out(request.user, patient))


@router.get("/patients/{patient_id}", response={200: PatientOut, **OBJECT_ERRORS})
def get_patient(request: HttpRequest, patient_id: uuid.UUID) -> dict[str, Any]:
    """One patient. The read is audited (patient.view)."""
    patient = access.patient_for(request.user, patient_id)
    return patient_out(request.user, patient)


@router.patch("/patients/{patient_id}", response={200: PatientOut, **OBJECT_ERRORS})
def update_patient(request: HttpRequest, patient_id: uuid.UUID, payload: PatientPatch) -> dict[str, Any]:
    """Change the fields sent; the others stay as they are."""
    # The update's own audit event covers this read.
    patient = access.patient_for(request.user, patient_id, need="patient.edit", audit_read=False)
    fields = payload.model_dump(exclude_unset=True)
    if not fields:
        raise InvalidInput("body", "send at least one field to change")
    patient = patient_services.patient_update(actor=request.user, patient=patient, **fields)
    return patient_out(request.user, patient)


@router.get("/patients/{patient_id}/fhir", response={200: dict[str, Any], **OBJECT_ERRORS})
def export_patient_fhir(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """The patient's whole record as a FHIR R4B Bundle of type "collection", served as
    application/fhir+json (docs/interop.md):
    signed treatments only, no photos' pixels, no audit data. Clinicians and managers
    (patient.export); audited as patient.export with the resource counts."""
    # The export's own audit event stands for the read.
    patient = access.patient_for(request.user, patient_id, need="patient.export", audit_read=False)
    export = records.patient_export_fhir(actor=request.user, patient=patient, via="api")
    response = HttpResponse(export.data, content_type=f"{export.media_type}; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
