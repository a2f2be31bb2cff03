"""The gate for maintenance objects, in the manner of touchup.clinic.access: the same 404
for "does not exist" and "another clinic's" (audited as denied), reads audited."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from touchup.clinic import access, audit
from touchup.clinic.models import Role

from .models import Appointment


def appointment_for(user: Any, public_id: Any, *, need: str = "patient.view") -> Appointment:
    m = access.require(user, need)
    aid = access.parse_uuid(public_id)
    appointment = (
        Appointment.objects.select_related("patient", "clinician", "clinic").filter(public_id=aid, clinic=m.clinic).first()
        if aid else None
    )
    if appointment is None:
        audit.record_denied("appointment.not_found", actor=user, detail={"id": str(public_id)[:64]})
        raise Http404("No such appointment.")
    audit.record("appointment.view", actor=user, patient=appointment.patient, obj=appointment, detail={"need": need})
    return appointment


def may_manage_hours(user: Any, clinician: Any) -> bool:
    """Managers set anyone's hours; a clinician sets their own."""
    m = access.membership_of(user)
    if m is None:
        return False
    return m.role == Role.MANAGER or (m.role == Role.CLINICIAN and clinician.pk == user.pk)


def require_hours(user: Any, clinician: Any) -> None:
    if not may_manage_hours(user, clinician):
        audit.record_denied("access.role", actor=user, detail={"permission": "schedule.hours"})
        raise PermissionDenied("Only a manager, or the clinician themself, sets working hours.")


def require_calibration(user: Any) -> Any:
    """Only the clinic's manager fits and applies the clinic's own wear-off medians: they
    move every patient's forecast."""
    m = access.membership_of(user)
    if m is None or m.role != Role.MANAGER:
        audit.record_denied("access.role", actor=user, detail={"permission": "forecast.calibrate"})
        raise PermissionDenied("Only the clinic's manager recalibrates the forecasts.")
    return m
