"""`{% load form_words %}{{ error.field|field_label }}`: the words a page's error message
names a field by. Services name fields as the API does ("starts_at", "end_0", "areas[1]");
a person at the front desk reads "Time" or "Monday, to" (the field is still on the error
box as data-error-field, for tests and scripts)."""

from __future__ import annotations

import re

from django import template

register = template.Library()

_LABELS = {
    "starts_at": "Time",
    "from": "From",
    "clinician": "Clinician",
    "areas": "Areas",
    "area": "Area",
    "contact": "Contact",
    "show": "Show",
    "page": "Page",
}
_DAY_PARTS = {"start": "from", "end": "to", "slot": "slot length"}
_DAY_FIELD = re.compile(r"^(start|end|slot)_([0-6])$")


@register.filter
def field_label(field: str) -> str:
    from touchup.maintenance.services.booking import WEEKDAYS

    field = str(field or "")
    if m := _DAY_FIELD.match(field):  # the schedule's hours grid: one row per weekday
        return f"{WEEKDAYS[int(m[2])]}, {_DAY_PARTS[m[1]]}"
    base = field.split("[", 1)[0]
    return _LABELS.get(base, base.replace("_", " ").capitalize())
