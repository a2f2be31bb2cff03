from __future__ import annotations

import functools
from django.utils import timezone

from django.contrib.auth.decorators import login_required

from touchup.clinic.zones import clinic_zone

PORTAL_LOGIN = "/portal/login/"


def portal_view(view):
    """A portal page: signed-in only (a visitor without a session goes to the patients'
    sign-in page rather than the staff one), patients only (the gate), and dates and
    times in the clinic's own time zone — the patient's visit is at the clinic's 09:00."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        from .. import access

        patient = access.patient_of(request.user)
        with timezone.override(clinic_zone(patient.clinic)):
            return view(request, *args, **kwargs)

    return login_required(wrapped, login_url=PORTAL_LOGIN)


def htmx_or(request, partial: str, full: str) -> str:
    """The fragment for an htmx request, the whole page otherwise (works without JS)."""
    return partial if getattr(request, "htmx", False) else full


__all__ = ["portal_view", "htmx_or"]
