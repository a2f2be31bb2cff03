"""How a patient reaches the clinic: the one wording of "call the clinic[ on N]" that the
portal, the printed aftercare sheet and the reminder texts share, and the rule for what a
phone number may look like (the clinic's own and a patient's).

Pure Python: the clinic's number comes in as a string ("" when it has none)."""

from __future__ import annotations

import re

# A number a person or an SMS gateway can dial: digits, with the spaces, brackets, dots and
# dashes people write them with and an optional leading +; 6 to 15 digits (E.164's most).
# "hello" was once kept as a patient's phone, and the text-message reminders went to it.
_PHONE = re.compile(r"\+?[0-9 ()./-]+")

PHONE_RULE = ("must be a phone number: 6 to 15 digits, with spaces, brackets or dashes if you "
              "like and + in front (e.g. +44 7700 900123)")


def clean_phone(value: str | None) -> str:
    """`value` with its runs of spaces made single ("" for none); ValueError(PHONE_RULE)
    when it is not a number someone can dial."""
    value = " ".join((value or "").split())
    digits = sum(c.isdigit() for c in value)
    if value and (not _PHONE.fullmatch(value) or not 6 <= digits <= 15):
        raise ValueError(PHONE_RULE)
    return value


def call_the_clinic(phone: str | None) -> str:
    """"call the clinic on 020 7946 0000", or "call the clinic" while the clinic has given
    no number (the wording patients read before clinics had one). Lower case, to sit inside
    a sentence; capitalise at the start of one."""
    phone = (phone or "").strip()
    return f"call the clinic on {phone}" if phone else "call the clinic"
