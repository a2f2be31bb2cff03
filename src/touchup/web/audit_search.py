"""The manager's audit trail, filtered: by person, kind of action, outcome, dates and
patient, so a privacy officer can answer "who opened this record, and when?", "what did
this staff member do last week?" and "which sign-ins failed today?".

The filters are GET parameters of ids and codes only: the patient is their public id,
never a name, and the page shows no patient data (the Object column is ids), so filtering
by a patient reads no record and writes no `patient.view`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page
from django.db.models import QuerySet

from touchup.clinic import access, audit
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import AuditEvent, Membership, Patient
from touchup.core.audit_actions import KINDS, actions_of_kind

from .selectors import COUNT_AHEAD, CappedPaginator, _page_number

PER_PAGE = 50
PORTAL = "patient"  # `who`: the patients themselves, on the portal
OUTCOMES = {"ok": "Allowed", "denied": "Refused"}
RECORD_ACCESS_LIMIT = 20


@dataclass(frozen=True)
class AuditFilters:
    who: str = ""  # a staff member's user id, PORTAL, or "" for everyone
    kind: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    patient: uuid.UUID | None = None
    page: int = 1

    def query(self) -> str:
        """The filters as a query string, for the pager's links (without the page)."""
        pairs = (("who", self.who), ("kind", self.kind), ("outcome", self.outcome),
                 ("since", self.since.isoformat() if self.since else ""),
                 ("until", self.until.isoformat() if self.until else ""),
                 ("patient", str(self.patient) if self.patient else ""))
        return urlencode([(k, v) for k, v in pairs if v])

    @property
    def any(self) -> bool:
        return bool(self.query())


def people(clinic_id: int) -> list[tuple[str, str]]:
    """The clinic's staff (the deactivated too: their past events stay), for the filter."""
    rows = (Membership.objects.filter(clinic_id=clinic_id).select_related("user")
            .order_by("-active", "user__last_name", "user__first_name", "user__username"))
    return [(str(m.user_id), (m.user.get_full_name() or m.user.get_username()) + ("" if m.active else " (deactivated)"))
            for m in rows]


def _date(params: Any, name: str) -> dt.date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(name, "must be a date (YYYY-MM-DD)") from None


def parse_filters(params: Any, clinic_id: int) -> AuditFilters:
    """Query parameters to filters; a bad one is InvalidInput naming it."""
    who = (params.get("who") or "").strip()
    if who and who != PORTAL and who not in {uid for uid, _ in people(clinic_id)}:
        raise InvalidInput("who", "no such person in this clinic")
    kind = (params.get("kind") or "").strip()
    if kind and kind not in KINDS:
        raise InvalidInput("kind", "unknown kind of action")
    outcome = (params.get("outcome") or "").strip()
    if outcome and outcome not in OUTCOMES:
        raise InvalidInput("outcome", "must be ok or denied")
    since, until = _date(params, "since"), _date(params, "until")
    if since and until and until < since:
        raise InvalidInput("until", "must not be before the start date")
    patient_text = (params.get("patient") or "").strip()
    patient = access.parse_uuid(patient_text) if patient_text else None
    if patient_text and patient is None:
        raise InvalidInput("patient", "must be a patient's id")
    page_text = (params.get("page") or "1").strip()
    if not page_text.isdigit() or not 1 <= int(page_text) <= 100000:
        raise InvalidInput("page", "must be a page number")
    return AuditFilters(who, kind, outcome, since, until, patient, int(page_text))


def _patient_row_id(user: Any, public_id: uuid.UUID) -> int:
    """The row id the audit trail files the patient under. Through the gate's list (this
    clinic only); an id of another clinic or none is refused like the gate refuses it."""
    pk = access.patients_visible_to(user).filter(public_id=public_id).values_list("pk", flat=True).first()
    if pk is None:
        m = access.membership_of(user)
        audit.record_denied("patient.not_found", actor=user, detail={"id": str(public_id)},
                            clinic=m.clinic_id if m is not None else None)
        raise InvalidInput("patient", "no such patient in this clinic")
    return pk


def _utc_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.timezone.utc)


def filtered_events(user: Any, f: AuditFilters) -> QuerySet[AuditEvent]:
    """This clinic's events matching `f`, newest first. Every filter narrows an indexed
    column (docs/performance.md, "Audit trail")."""
    m = access.require(user, "audit.view")
    qs = AuditEvent.objects.filter(clinic_id_ref=m.clinic_id)
    if f.who == PORTAL:
        qs = qs.filter(actor_id__in=access.patients_visible_to(user).filter(user__isnull=False).values("user_id"))
    elif f.who:
        qs = qs.filter(actor_id=int(f.who))
    if f.kind:
        qs = qs.filter(action__in=actions_of_kind(f.kind))
    if f.outcome:
        qs = qs.filter(outcome=f.outcome)
    # Dates are UTC days, as the page shows the times.
    if f.since:
        qs = qs.filter(at__gte=_utc_start(f.since))
    if f.until:
        qs = qs.filter(at__lt=_utc_start(f.until + dt.timedelta(days=1)))
    if f.patient:
        qs = qs.filter(patient_id_ref=_patient_row_id(user, f.patient))
    return qs.select_related("actor").order_by("-id")


def clinic_events(user: Any, f: AuditFilters) -> Page:
    cap = _page_number(f.page) * PER_PAGE + COUNT_AHEAD
    return CappedPaginator(filtered_events(user, f), PER_PAGE, cap=cap).get_page(f.page)


def record_access(user: Any, patient: Patient) -> list[AuditEvent]:
    """The latest events that name this patient, for the manager's card on the patient
    page. Not itself audited: it reads the audit trail, not the patient's data (the page
    around it has just written its own `patient.view`), and an event per glance would bury
    the very accesses the card is there to show."""
    m = access.require(user, "audit.view")
    return list(AuditEvent.objects.filter(clinic_id_ref=m.clinic_id, patient_id_ref=patient.pk)
                .select_related("actor").order_by("-id")[:RECORD_ACCESS_LIMIT])
