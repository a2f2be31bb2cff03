"""Vial stock rules: when a vial may be received, and when its expiry needs a word.

    expiry_finding(lot=..., expiry=date, today=date) -> Finding | None
    receipt_refusal(lot=..., expiry=date, today=date) -> str | None

One place for the rule, so the web form, the API and anything else that books a vial in
agree (touchup.clinic.services.vials.vial_receive is the only writer and asks here). Pure:
`today` comes in as an argument (the clinic's local date), the warning window from the
catalogue (data/practice.toml, expiry_warning_days).
"""

from __future__ import annotations

import datetime as dt

from touchup.core.catalogue import load_catalogue
from touchup.core.dates import day_text
from touchup.core.findings import Finding


def days_to_expiry_if_soon(expiry: dt.date, today: dt.date) -> int | None:
    """Days left when the vial is within the catalogue's warning window (0 = expires
    today), else None. The one test of "soon": receipt and the stock list both ask here."""
    days = (expiry - today).days
    return days if 0 <= days <= load_catalogue().practice.expiry_warning_days else None


def expiry_finding(*, lot: str, expiry: dt.date, today: dt.date) -> Finding | None:
    """`block` once the expiry date has passed (the expiry day itself is still usable, as
    in the chart's vial_expired check); `warn` within the warning window; else None."""
    cat = load_catalogue()
    if expiry < today:
        return Finding("block", "vial_expired", f"Vial lot {lot} expired on {day_text(expiry)}.",
                       "vial.expiry", "clinic_policy")
    days = days_to_expiry_if_soon(expiry, today)
    if days is not None:
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return Finding("warn", "vial_expires_soon",
                       f"Vial lot {lot} expires {when} ({day_text(expiry)}): use it before other stock.",
                       "practice.expiry_warning_days",
                       cat.cite(cat.practice.sources.get("expiry_warning_days", ("clinic_policy",))))
    return None


def receipt_refusal(*, lot: str, expiry: dt.date, today: dt.date) -> str | None:
    """Why this vial may not be received, or None. Expired toxin must never enter stock:
    once booked in it would be offered to the chart until someone noticed."""
    finding = expiry_finding(lot=lot, expiry=expiry, today=today)
    if finding is not None and finding.severity == "block":
        return (f"the vial expired on {day_text(expiry)} (today is {day_text(today)}): "
                "expired toxin must not enter stock")
    return None
