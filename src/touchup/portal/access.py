"""The patient gate: a portal page reaches patient data only through here.

A patient account (Patient.user) sees its own Patient and nothing else. Staff members
have no Patient, so the portal refuses them (403), and staff pages refuse patients
because a patient has no clinic membership (touchup.clinic.access.require). An id that
is not the patient's own — missing or someone else's — is the same 404, audited as
denied; every successful read is audited by `read`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from touchup.clinic import audit
from touchup.clinic.access import membership_of, parse_uuid
from touchup.clinic.models import Patient, Treatment, TreatmentStatus


def patient_of(user: Any) -> Patient:
    """The signed-in patient's own record; 403 (audited) for anyone else."""
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied("Sign in to see your portal.")
    cached = getattr(user, "_touchup_patient", None)
    if cached is not None:
        return cached
    patient = None
    if membership_of(user) is None:
        patient = Patient.objects.select_related("clinic").filter(user=user).first()
    if patient is None:
        audit.record_denied("portal.not_a_patient", actor=user)
        raise PermissionDenied("The patient portal is for patients of the clinic.")
    user._touchup_patient = patient
    return patient


def is_patient(user: Any) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and membership_of(user) is None
        and Patient.objects.filter(user=user).exists()
    )


def read(user: Any, patient: Patient, page: str, obj: Any = None) -> None:
    """Audit one read of the patient's own data (the page says which)."""
    audit.record("portal.view", actor=user, patient=patient, obj=obj, detail={"page": page})


def not_found(user: Any, kind: str, ident: Any) -> Http404:
    audit.record_denied(f"portal.{kind}.not_found", actor=user, detail={"id": str(ident)[:64]})
    return Http404(f"No such {kind}.")


def signed_treatments(patient: Patient):
    """The patient's signed treatments, newest first (drafts are the clinic's work in progress)."""
    return Treatment.objects.filter(patient=patient, status=TreatmentStatus.SIGNED).order_by("-treated_on", "-pk")


def own_treatment(user: Any, public_id: Any) -> Treatment:
    patient = patient_of(user)
    tid = parse_uuid(public_id)
    treatment = signed_treatments(patient).filter(public_id=tid).first() if tid else None
    if treatment is None:
        raise not_found(user, "treatment", public_id)
    read(user, patient, "treatment", treatment)
    return treatment


def own_appointment(user: Any, public_id: Any):
    """One of the patient's own appointments (touchup.maintenance), or 404."""
    from touchup.maintenance.models import Appointment

    patient = patient_of(user)
    aid = parse_uuid(public_id)
    appointment = (
        Appointment.objects.select_related("clinic", "patient", "clinician").filter(public_id=aid, patient=patient).first()
        if aid else None
    )
    if appointment is None:
        raise not_found(user, "appointment", public_id)
    read(user, patient, "appointment", appointment)
    return appointment


def own_photo(user: Any, public_id: Any):
    """One of the patient's own photos that is still kept (a removed photo has no file),
    or 404. The file itself is served by the clinic's gate (access.photo_for, patient_may)."""
    from touchup.clinic.models import Photo

    patient = patient_of(user)
    pid = parse_uuid(public_id)
    photo = Photo.objects.kept().select_related("patient").filter(public_id=pid, patient=patient).first() if pid else None
    if photo is None:
        raise not_found(user, "photo", public_id)
    read(user, patient, "photo", photo)
    return photo
