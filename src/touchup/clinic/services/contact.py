"""The clinic's contact details for patients: the phone number and email the portal, the
printed aftercare sheet and the reminder texts give when they say "call the clinic"."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from touchup.core.contact import clean_phone

from .. import audit
from ..errors import InvalidInput
from ..models import Clinic


def clean_contact(*, phone: str | None, email: str | None) -> tuple[str, str]:
    """The phone and email as they will be kept ("" for none); InvalidInput naming the
    field that is not a phone number or an email address."""
    try:
        phone = clean_phone(phone)
    except ValueError as exc:
        raise InvalidInput("phone", str(exc)) from None
    if len(phone) > Clinic._meta.get_field("phone").max_length:
        raise InvalidInput("phone", "is longer than 32 characters")
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput("email", "must be an email address (e.g. reception@example.org)") from None
    return phone, email


@transaction.atomic
def clinic_contact_set(*, actor: Any, clinic: Clinic, phone: str | None, email: str | None) -> list[str]:
    """Keep the clinic's phone and email for patients (either may be empty: no number means
    the old words, "call the clinic"). Returns the fields that changed; nothing changed
    writes nothing. The audit event names the fields that changed, not their values
    (audit details hold codes only; who changed the number, and when, is what it keeps)."""
    phone, email = clean_contact(phone=phone, email=email)
    clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
    changed = [name for name, new in (("phone", phone), ("email", email)) if getattr(clinic, name) != new]
    if not changed:
        return []
    clinic.phone, clinic.email = phone, email
    clinic.save(update_fields=changed)
    audit.record("clinic.contact", actor=actor, clinic=clinic, obj=clinic, detail={"changed": changed})
    return changed
