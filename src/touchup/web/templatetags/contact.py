"""`{{ clinic.phone|call_the_clinic }}`: the one wording of "call the clinic[ on N]"
(touchup.core.contact) for templates that have the clinic at hand."""

from __future__ import annotations

from django import template

from touchup.core import contact

register = template.Library()


@register.filter
def call_the_clinic(phone: str | None) -> str:
    return contact.call_the_clinic(phone)
