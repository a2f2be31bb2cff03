"""Invitations: the only way a patient account is made (sign-up is closed).

Staff invite a patient who has an email address; the email carries a link with a
256-bit single-use token (only its SHA-256 is stored) that expires after 7 days. Opening
it lets the patient choose a username and password; the account is created, linked to
the Patient and the invitation used up, in one transaction. An expired, used, revoked
or unknown link creates nothing and says which it is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from touchup.clinic import audit, secret_tokens
from touchup.clinic.credentials import chosen_password, new_username, username_taken
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Patient
from touchup.clinic.zones import clinic_zone
from touchup.core.dates import long_day_text

from ..models import Invitation

VALID_FOR = dt.timedelta(days=7)
class InvitationInvalid(Exception):
    """The link cannot be used; `reason` is unknown | expired | used | revoked."""

    MESSAGES = {
        "unknown": "This invitation link is not valid. Check that you opened the whole link from the email, "
                   "or ask the clinic to send a new invitation.",
        "expired": "This invitation link has expired (links last 7 days). Ask the clinic to send a new one.",
        "used": "This invitation link has already been used. Sign in with the username and password you chose, "
                "or ask the clinic for a new invitation.",
        "revoked": "This invitation link was replaced by a newer one. Use the link in the latest email "
                   "from the clinic.",
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(self.MESSAGES[reason])


@dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    link: str  # shown to staff only in tests/dev consoles; never stored


@transaction.atomic
def invitation_create(*, actor: Any, patient: Patient, base_url: str, now: dt.datetime | None = None) -> SentInvitation:
    """Make a new invitation (retiring any open one) and email the link to the patient."""
    now = now or timezone.now()
    if patient.user_id is not None:
        raise InvalidInput("patient", "already has a portal account")
    if not patient.email:
        raise InvalidInput("email", "the patient has no email address: add one first")
    Invitation.objects.filter(patient=patient, used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    token, token_sha256 = secret_tokens.new_token()
    invitation = Invitation.objects.create(
        patient=patient, clinic_id=patient.clinic_id, token_sha256=token_sha256, email=patient.email,
        created_by=actor, created_at=now, expires_at=now + VALID_FOR,
    )
    link = f"{base_url.rstrip('/')}/portal/join/{token}/"
    clinic = patient.clinic.name
    # The day in the clinic's zone, written as every page writes dates ("3 December", not
    # "03 December"; a UTC date could be the day before the patient's).
    expires = timezone.localtime(invitation.expires_at, clinic_zone(patient.clinic))
    # Nothing clinical in the email: it crosses providers and lock screens.
    send_mail(
        subject=f"{clinic}: your patient portal",
        message=(
            f"Hello {patient.given_name},\n\n{clinic} invites you to your Touchup patient portal: aftercare, "
            f"check-ins, diaries and booking your next visit.\n\nSet your password here (the link works once "
            f"and expires on {long_day_text(expires)}):\n{link}\n\nIf you did not expect this email, "
            f"ignore it.\n— {clinic}"
        ),
        from_email=None, recipient_list=[patient.email],
    )
    audit.record("portal.invitation.create", actor=actor, patient=patient, obj=invitation,
                 detail={"expires_at": invitation.expires_at.isoformat()})
    return SentInvitation(invitation, link)


def invitation_for_token(token: str, *, now: dt.datetime | None = None, lock: bool = False) -> Invitation:
    """The usable invitation for `token`, or InvitationInvalid saying why not."""
    now = now or timezone.now()
    qs = Invitation.objects.select_related("patient", "patient__clinic")
    if lock:
        # The invitation row only: with select_related, PostgreSQL would lock the patient and
        # clinic rows FOR UPDATE too, and every write naming either by foreign key (a reading,
        # any new patient or chart of the clinic) would wait for it at its commit while
        # holding the audit head this transaction asks for (a deadlock).
        qs = qs.select_for_update(of=("self",))
    invitation = secret_tokens.find(qs, token)
    if invitation is None:
        raise InvitationInvalid("unknown")
    reason = secret_tokens.why_unusable(invitation, used=invitation.patient.user_id is not None, now=now)
    if reason:
        raise InvitationInvalid(reason)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, username: str, password1: str, password2: str,
                      now: dt.datetime | None = None) -> Any:
    """Create the patient's account from a usable invitation; returns the new user."""
    now = now or timezone.now()
    invitation = invitation_for_token(token, now=now, lock=True)
    # FOR NO KEY UPDATE, as every lock on a patient row taken before the audit head: see
    # the linking of the account below.
    patient = Patient.objects.select_for_update(no_key=True).get(pk=invitation.patient_id)
    if patient.user_id is not None:
        raise InvitationInvalid("used")
    username = new_username(username, missing="choose a username", name_it=False)
    candidate = get_user_model()(username=username, email=invitation.email, first_name=patient.given_name,
                                 last_name=patient.family_name)
    candidate.set_password(chosen_password(password1, password2, candidate))
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise username_taken(username, name_it=False) from None
    invitation.used_at = now
    invitation.save(update_fields=["used_at"])
    audit.record("portal.invitation.accept", actor=candidate, patient=patient, obj=invitation)
    # After the audit event, unlike other writes: Patient.user is unique, so setting it
    # changes a key of the row, and PostgreSQL then locks the row as FOR UPDATE does. Before
    # the event, a transaction naming this patient by foreign key (a reading) that held the
    # head would wait at its commit for the row while this one waited for the head. Once
    # this transaction holds the head, no such commit can be waiting.
    patient.user = candidate
    patient.save(update_fields=["user"])
    return candidate


def invitations_of(patient: Patient) -> list[Invitation]:
    return list(Invitation.objects.filter(patient=patient).order_by("-created_at")[:10])


def invitation_state(invitation: Invitation, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    if invitation.used_at:
        return "used"
    if invitation.revoked_at:
        return "replaced"
    if invitation.expires_at <= now:
        return "expired"
    return "open"
