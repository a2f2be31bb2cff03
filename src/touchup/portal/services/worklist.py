"""What the clinic sees of the portal: open side-effect reports (urgent first), patients'
own screening answers waiting for review, and requests to be called to book. Filtered to
the staff member's clinic; the caller has already passed touchup.clinic.access."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.models import Membership, Screening

from ..models import BookingRequest, SideEffectReport

RECENT = dt.timedelta(days=30)


def side_effects_open(membership: Membership) -> list[SideEffectReport]:
    return list(
        SideEffectReport.objects.filter(clinic=membership.clinic, reviewed_at__isnull=True)
        .select_related("patient", "treatment").order_by("-urgent", "-reported_at")[:200]
    )


def side_effects_reviewed(membership: Membership) -> list[SideEffectReport]:
    return list(
        SideEffectReport.objects.filter(clinic=membership.clinic, reviewed_at__isnull=False,
                                        reviewed_at__gte=timezone.now() - RECENT)
        .select_related("patient", "reviewed_by").order_by("-reviewed_at")[:50]
    )


def patient_screenings(membership: Membership) -> list[Screening]:
    """Screenings the patients filled in themselves in the last 30 days that need someone:
    a finding to discuss, or a doctor's sign-off still missing."""
    rows = (
        Screening.objects.filter(patient__clinic=membership.clinic, recorded_by__patient__isnull=False,
                                 recorded_at__gte=timezone.now() - RECENT)
        .select_related("patient").order_by("-recorded_at")[:200]
    )
    return [s for s in rows if s.blocking or s.findings and any(f.get("severity") != "info" for f in s.findings)
            or (s.requires_doctor and not s.doctor_signed)]


def booking_requests_open(membership: Membership) -> list[BookingRequest]:
    return list(
        BookingRequest.objects.filter(clinic=membership.clinic, handled_at__isnull=True)
        .select_related("patient").order_by("requested_at")[:200]
    )


def audit_worklist_read(user: Any, membership: Membership, counts: dict[str, int]) -> None:
    audit.record("portal.worklist.view", actor=user, clinic=membership.clinic, detail=counts)


def side_effect_for(user: Any, membership: Membership, public_id: Any) -> SideEffectReport:
    report = (SideEffectReport.objects.select_related("patient").filter(public_id=public_id, clinic=membership.clinic)
              .first())
    if report is None:
        audit.record_denied("portal.side_effect.not_found", actor=user, detail={"id": str(public_id)[:64]})
        raise Http404("No such report.")
    audit.record("portal.side_effect.view", actor=user, patient=report.patient, obj=report)
    return report


def booking_request_for(user: Any, membership: Membership, public_id: Any) -> BookingRequest:
    req = BookingRequest.objects.select_related("patient").filter(public_id=public_id, clinic=membership.clinic).first()
    if req is None:
        audit.record_denied("portal.booking_request.not_found", actor=user, detail={"id": str(public_id)[:64]})
        raise Http404("No such request.")
    return req
