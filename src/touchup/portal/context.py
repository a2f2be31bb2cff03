"""Template context for portal pages: how the patient reaches their clinic, for the
footer and every "please call the clinic" (the words: touchup.core.contact)."""

from __future__ import annotations

from typing import Any

from touchup.core.contact import call_the_clinic


def clinic_contact(request: Any) -> dict[str, Any]:
    # Portal pages only: staff pages have no patient's clinic to name, and must not pay a
    # query for it. Signed out (sign-in, password reset) the clinic is not known yet.
    if not request.path.startswith("/portal/"):
        return {}
    clinic = None
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        # portal_view's gate has usually found the patient already (access.patient_of caches it).
        patient = getattr(user, "_touchup_patient", None)
        if patient is None:
            from touchup.clinic.access import membership_of
            from touchup.clinic.models import Patient

            if membership_of(user) is None:
                patient = Patient.objects.select_related("clinic").filter(user=user).first()
        clinic = patient.clinic if patient is not None else None
    phone = clinic.phone if clinic is not None else ""
    return {"clinic_phone": phone, "clinic_email": clinic.email if clinic is not None else "",
            "call_clinic": call_the_clinic(phone)}
