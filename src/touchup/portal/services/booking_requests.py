"""When no free slot suits the patient: a request to be called, on the clinic's list."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.models import Patient

from ..models import BookingRequest

MAX_PREFERRED = 300


@transaction.atomic
def booking_request_create(*, actor: Any, patient: Patient, areas: list[str], preferred: str = "") -> BookingRequest:
    preferred = (preferred or "").strip()
    if len(preferred) > MAX_PREFERRED:
        raise InvalidInput("preferred", f"must be at most {MAX_PREFERRED} characters")
    if BookingRequest.objects.filter(patient=patient, handled_at__isnull=True).exists():
        raise Conflict("You already asked us to call you; we will be in touch soon.")
    req = BookingRequest.objects.create(
        patient=patient, clinic_id=patient.clinic_id, areas=sorted(areas), preferred=preferred,
        requested_by=actor, requested_at=timezone.now(),
    )
    audit.record("portal.booking_request.create", actor=actor, patient=patient, obj=req, detail={"areas": req.areas})
    return req


@transaction.atomic
def booking_request_handle(*, actor: Any, request: BookingRequest) -> BookingRequest:
    # The request row only (of=self): with select_related, PostgreSQL would lock the patient
    # row FOR UPDATE too (a deadlock with a reading of the patient: docs/reliability.md).
    req = BookingRequest.objects.select_for_update(of=("self",)).select_related("patient").get(pk=request.pk)
    if req.handled_at is not None:
        raise Conflict("This request has already been dealt with.")
    req.handled_by, req.handled_at = actor, timezone.now()
    req.save(update_fields=["handled_by", "handled_at"])
    audit.record("portal.booking_request.handle", actor=actor, patient=req.patient, obj=req)
    return req
