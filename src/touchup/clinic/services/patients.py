from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.core.contact import clean_phone

from .. import audit
from ..errors import InvalidInput
from ..models import Clinic, Patient, Sex

_EDITABLE = ("given_name", "family_name", "birth_date", "sex", "email", "phone")


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in _EDITABLE:
            raise InvalidInput(name, "is not a patient field")
        if name in ("given_name", "family_name"):
            value = (value or "").strip()
            if not value:
                raise InvalidInput(name, "is required")
            if len(value) > 100:
                raise InvalidInput(name, "is longer than 100 characters")
        if name == "birth_date":
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value)
                except ValueError:
                    raise InvalidInput(name, "must be a date (YYYY-MM-DD)") from None
            if not isinstance(value, dt.date):
                raise InvalidInput(name, "must be a date (YYYY-MM-DD)")
            if value > timezone.localdate():
                raise InvalidInput(name, "is in the future")
            if value.year < 1900:
                raise InvalidInput(name, "is before 1900")
        if name == "phone":
            # The clinic's own number follows the same rule (touchup.core.contact).
            try:
                value = clean_phone(value)
            except ValueError as exc:
                raise InvalidInput(name, str(exc)) from None
        if name == "sex" and value not in Sex.values:
            raise InvalidInput(name, f"must be one of {', '.join(Sex.values)}")
        out[name] = value
    return out


@transaction.atomic
def patient_create(*, actor: Any, clinic: Clinic, **fields: Any) -> Patient:
    missing = [f for f in ("given_name", "family_name", "birth_date", "sex") if not fields.get(f)]
    if missing:
        raise InvalidInput(missing[0], "is required")
    patient = Patient.objects.create(clinic=clinic, **_clean(fields))
    audit.record("patient.create", actor=actor, patient=patient, obj=patient)
    return patient


@transaction.atomic
def patient_update(*, actor: Any, patient: Patient, **fields: Any) -> Patient:
    cleaned = _clean(fields)
    for name, value in cleaned.items():
        setattr(patient, name, value)
    patient.save(update_fields=list(cleaned))
    audit.record("patient.update", actor=actor, patient=patient, obj=patient, detail={"fields": sorted(cleaned)})
    return patient
