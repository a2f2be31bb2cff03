"""Per-clinician calendar feeds: a secret URL that calendar programs subscribe to.

The token is the credential (calendar programs cannot sign in), so it is long and
random, stored only as its SHA-256, shown once when created, and revocable; creating a
new one revokes the old. The feed is read-only and its reads are audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit, secret_tokens
from touchup.clinic.models import Clinic

from ..models import Appointment, CalendarFeed

# What a feed holds: recent past (so programs see cancellations) and the year ahead.
FEED_PAST = dt.timedelta(days=30)
FEED_AHEAD = dt.timedelta(days=400)


@transaction.atomic
def feed_create(*, actor: Any, clinic: Clinic, clinician: Any) -> str:
    """A new feed token for the clinician (the old one stops working). Returned once."""
    now = timezone.now()
    CalendarFeed.objects.filter(clinic=clinic, clinician=clinician, revoked_at__isnull=True).update(revoked_at=now)
    token, token_sha256 = secret_tokens.new_token()
    CalendarFeed.objects.create(clinic=clinic, clinician=clinician, token_sha256=token_sha256, created_at=now)
    audit.record("calendar.feed_create", actor=actor, clinic=clinic, detail={"clinician": clinician.pk})
    return token


@transaction.atomic
def feed_revoke(*, actor: Any, clinic: Clinic, clinician: Any) -> int:
    n = CalendarFeed.objects.filter(clinic=clinic, clinician=clinician, revoked_at__isnull=True).update(
        revoked_at=timezone.now())
    audit.record("calendar.feed_revoke", actor=actor, clinic=clinic, detail={"clinician": clinician.pk})
    return n


def feed_active(clinic: Clinic, clinician: Any) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(clinic=clinic, clinician=clinician, revoked_at__isnull=True).first()


@transaction.atomic
def feed_appointments(token: str, *, now: dt.datetime | None = None) -> tuple[CalendarFeed, list[Appointment]] | None:
    """The feed and its appointments for a token, or None for an unknown or revoked one."""
    now = now or timezone.now()
    feed = secret_tokens.find(CalendarFeed.objects.select_related("clinic", "clinician").filter(revoked_at__isnull=True),
                              token)
    if feed is None:
        return None
    appointments = list(
        Appointment.objects.select_related("patient", "clinic").filter(
            clinic=feed.clinic, clinician=feed.clinician,
            starts_at__gte=now - FEED_PAST, starts_at__lte=now + FEED_AHEAD,
        ).order_by("starts_at")
    )
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    audit.record("calendar.feed_read", actor=feed.clinician, clinic=feed.clinic,
                 detail={"appointments": len(appointments)})
    return feed, appointments
