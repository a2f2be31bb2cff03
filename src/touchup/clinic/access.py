"""The access gate: the only way a view or API route gets a patient-data object.

One function per object type. "Does not exist" and "belongs to another clinic" give the
same 404, so ids cannot be probed; the attempt is audited as denied. A role that may see
an object but not do the asked thing gets a 403. Reads that succeed are audited too.
List queries come from the same module, already filtered to the user's clinic.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from . import audit
from .models import Membership, Patient, Photo, Role, Screening, Treatment, Vial

# What each role may do. Front desk books and records intake, but does not chart,
# sign or see doses; managers see everything and run the vial stock and the audit.
PERMISSIONS: dict[str, frozenset[str]] = {
    "patient.view": frozenset({Role.CLINICIAN, Role.FRONT_DESK, Role.MANAGER}),
    "patient.edit": frozenset({Role.CLINICIAN, Role.FRONT_DESK, Role.MANAGER}),
    "clinical.view": frozenset({Role.CLINICIAN, Role.MANAGER}),
    # The whole record as a file (FHIR, docs/interop.md): a referral or a move to another
    # clinic. It holds doses and notes, so not the front desk (a patient takes their own copy
    # from the portal).
    "patient.export": frozenset({Role.CLINICIAN, Role.MANAGER}),
    "screening.record": frozenset({Role.CLINICIAN, Role.FRONT_DESK}),
    "screening.doctor_signoff": frozenset({Role.CLINICIAN}),
    "treatment.chart": frozenset({Role.CLINICIAN}),
    "vial.view": frozenset({Role.CLINICIAN, Role.MANAGER}),
    "vial.manage": frozenset({Role.CLINICIAN, Role.MANAGER}),
    "audit.view": frozenset({Role.MANAGER}),
    # Photos after they are kept (docs/photos.md "Consent, removal and the baseline"):
    # recording a consent change on the patient's instruction and removing a photo (taken
    # in error, or the patient's erasure request) are for the roles that see photos;
    # choosing the baseline every measurement is aligned to is a clinician's decision.
    "photo.consent": frozenset({Role.CLINICIAN, Role.MANAGER}),
    "photo.remove": frozenset({Role.CLINICIAN, Role.MANAGER}),
    "photo.baseline": frozenset({Role.CLINICIAN}),
    # Asking for a failed analysis to be run again (docs/photos.md "An analysis is never
    # lost"): the clinician who reads the measurements.
    "photo.reanalyse": frozenset({Role.CLINICIAN}),
    # The clinic's own settings and its staff's sign-in (the two-step policy, resetting a
    # lost authenticator): the manager.
    "clinic.manage": frozenset({Role.MANAGER}),
}


def membership_of(user: Any) -> Membership | None:
    """The user's active staff membership (one clinic per user in this version)."""
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_touchup_membership", False)
    if cached is not False:
        return cached
    m = Membership.objects.select_related("clinic").filter(user=user, active=True).first()
    user._touchup_membership = m
    return m


def require_staff(user: Any, *, permission: str = "staff") -> Membership:
    """The user's membership, whatever the role; otherwise 403 (audited). Only this: the
    pages a staff member needs while two-step sign-in is still owed (Your account) use it."""
    m = membership_of(user)
    if m is None:
        audit.record_denied("access.no_membership", actor=user, detail={"permission": permission})
        raise PermissionDenied("You are not a member of a clinic.")
    return m


def require(user: Any, permission: str) -> Membership:
    """The user's membership if their role grants `permission`; otherwise 403 (audited)."""
    m = require_staff(user, permission=permission)
    # The pages and the API refuse earlier (touchup.web.middleware, touchup.api.auth); this
    # is the same rule where every patient-data object is handed out.
    check_two_step(user, via=permission)
    if m.role not in PERMISSIONS[permission]:
        # Under the actor's clinic, so its manager sees the refusal on the audit page.
        audit.record_denied("access.role", actor=user, detail={"permission": permission, "role": m.role},
                            clinic=m.clinic_id)
        raise PermissionDenied(f"Your role ({m.get_role_display()}) cannot do this.")
    return m


# --- two-step sign-in ------------------------------------------------------------------
#
# A clinic whose manager requires two-step sign-in (Clinic.require_two_step) lets a staff
# member reach patient data only once they have an authenticator app set up (allauth.mfa's
# TOTP; its recovery codes come with it). The pages send them to set it up, the API
# answers 403; patients are never concerned (they choose in the portal).

TWO_STEP_SETUP_URL = "/accounts/2fa/totp/activate/"
TWO_STEP_REFUSAL = (
    "Your clinic requires two-step sign-in: set up an authenticator app "
    f"(sign in to Touchup, or open {TWO_STEP_SETUP_URL}) before you can use patient data."
)


class TwoStepRequired(PermissionDenied):
    """The user's clinic requires two-step sign-in and they have not set it up."""

    code = "two_step_required"

    def __init__(self, message: str = TWO_STEP_REFUSAL):
        super().__init__(message)


def has_two_step(user: Any) -> bool:
    """Whether the user has an activated authenticator app (remembered for the request)."""
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_touchup_two_step", None)
    if cached is None:
        from allauth.mfa.models import Authenticator

        cached = Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()
        user._touchup_two_step = cached
    return cached


def two_step_owed(user: Any) -> bool:
    """True for a staff member whose clinic requires two-step sign-in and who has not set it
    up. No query unless the clinic requires it (the membership carries its clinic)."""
    m = membership_of(user)
    return m is not None and m.clinic.require_two_step and not has_two_step(user)


def check_two_step(user: Any, *, via: str) -> None:
    """Refuse (403, audited with `via`: a permission or "api") while two-step is owed."""
    if two_step_owed(user):
        audit.record_denied("access.two_step_required", actor=user, detail={"via": via},
                            clinic=membership_of(user).clinic_id)
        raise TwoStepRequired()


def can(user: Any, permission: str) -> bool:
    m = membership_of(user)
    return m is not None and m.role in PERMISSIONS[permission]


def parse_uuid(value: Any) -> uuid.UUID | None:
    """A public id from a URL or body, or None when it is not one (every gate answers 404)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _not_found(user: Any, kind: str, ident: Any) -> Http404:
    # Filed under the asker's own clinic (never the one the id may belong to): that is where
    # a manager looks for someone probing ids.
    m = membership_of(user)
    audit.record_denied(f"{kind}.not_found", actor=user, detail={"id": str(ident)[:64]},
                        clinic=m.clinic_id if m is not None else None)
    return Http404(f"No such {kind}.")


# --- lists -------------------------------------------------------------------------


def patients_visible_to(user: Any) -> QuerySet[Patient]:
    m = require(user, "patient.view")
    return Patient.objects.filter(clinic=m.clinic)


def treatments_visible_to(user: Any) -> QuerySet[Treatment]:
    m = require(user, "clinical.view")
    return Treatment.objects.filter(clinic=m.clinic)


def photos_visible_to(user: Any) -> QuerySet[Photo]:
    m = require(user, "clinical.view")
    return Photo.objects.filter(patient__clinic=m.clinic)


def vials_visible_to(user: Any) -> QuerySet[Vial]:
    m = require(user, "vial.view")
    return Vial.objects.filter(clinic=m.clinic)


def staff_visible_to(user: Any) -> QuerySet[Membership]:
    """The clinic's staff, for its manager (names and roles; no patient data)."""
    m = require(user, "clinic.manage")
    return (Membership.objects.select_related("user").filter(clinic=m.clinic)
            .order_by("-active", "user__last_name", "user__first_name", "user__username"))


# --- single objects ----------------------------------------------------------------


def patient_for(user: Any, public_id: Any, *, need: str = "patient.view", audit_read: bool = True) -> Patient:
    m = require(user, need)
    pid = parse_uuid(public_id)
    patient = Patient.objects.filter(public_id=pid, clinic=m.clinic).first() if pid else None
    if patient is None:
        raise _not_found(user, "patient", public_id)
    if audit_read:
        audit.record("patient.view", actor=user, patient=patient, obj=patient, detail={"need": need})
    return patient


def treatment_for(user: Any, public_id: Any, *, need: str = "clinical.view") -> Treatment:
    m = require(user, need)
    tid = parse_uuid(public_id)
    treatment = (
        Treatment.objects.select_related("patient").filter(public_id=tid, clinic=m.clinic).first()
        if tid
        else None
    )
    if treatment is None:
        raise _not_found(user, "treatment", public_id)
    audit.record("treatment.view", actor=user, patient=treatment.patient, obj=treatment, detail={"need": need})
    return treatment


def screening_for(user: Any, public_id: Any, *, need: str = "clinical.view") -> Screening:
    m = require(user, need)
    sid = parse_uuid(public_id)
    screening = (
        Screening.objects.select_related("patient").filter(public_id=sid, patient__clinic=m.clinic).first()
        if sid
        else None
    )
    if screening is None:
        raise _not_found(user, "screening", public_id)
    audit.record("screening.view", actor=user, patient=screening.patient, obj=screening)
    return screening


def photo_for(
    user: Any, public_id: Any, *, need: str = "clinical.view", purpose: str = "view", patient_may: bool = False,
    removed_ok: bool = False,
) -> Photo:
    """A photo for clinic staff whose role grants `need`, or, where `patient_may`, for the
    patient in it (the portal): a patient account has no membership and sees only their
    own photos. A removed photo (a tombstone without its file) is 404 unless `removed_ok`
    (the staff photo page, which shows the removal)."""
    pid = parse_uuid(public_id)
    qs = Photo.objects.select_related("patient", "treatment")
    if (patient_may and membership_of(user) is None and getattr(user, "is_authenticated", False)
            and hasattr(user, "patient")):
        photo = qs.filter(public_id=pid, patient__user=user).first() if pid else None
    else:
        m = require(user, need)
        photo = qs.filter(public_id=pid, patient__clinic=m.clinic).first() if pid else None
    if photo is None:
        raise _not_found(user, "photo", public_id)
    if photo.removed_at is not None and not removed_ok:
        audit.record_denied("photo.removed", actor=user, detail={"id": str(photo.public_id), "purpose": purpose})
        raise Http404("This photo was removed.")
    audit.record("photo.view", actor=user, patient=photo.patient, obj=photo, detail={"purpose": purpose})
    return photo


def vial_for(user: Any, vial_id: Any, *, need: str = "vial.view") -> Vial:
    """Vials are clinic stock, not patient data: no read audit, same 404 rule."""
    m = require(user, need)
    try:
        pk = int(vial_id)
    except (TypeError, ValueError):
        pk = None
    vial = Vial.objects.filter(pk=pk, clinic=m.clinic).first() if pk is not None else None
    if vial is None:
        raise _not_found(user, "vial", vial_id)
    return vial


def member_for(user: Any, membership_id: Any, *, need: str = "clinic.manage") -> Membership:
    """One staff member of the user's own clinic (another clinic's: the same 404)."""
    m = require(user, need)
    try:
        pk = int(membership_id)
    except (TypeError, ValueError):
        pk = None
    member = (Membership.objects.select_related("user", "clinic").filter(pk=pk, clinic=m.clinic).first()
              if pk is not None else None)
    if member is None:
        raise _not_found(user, "membership", membership_id)
    return member
