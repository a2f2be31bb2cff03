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
from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce

from touchup.clinic import access, audit
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import AuditEvent, Membership, Patient
from touchup.core.audit_actions import KINDS, actions_of_kind

from .selectors import CappedPaginator, _page_number

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
    return [(str(m.user_id), person_label(m.user) + ("" if m.active else " (deactivated)")) for m in rows]


def person_label(user) -> str:
    """"Lee Moreau (manager.lee)": the name people know, with the username the table's
    rows show beneath it (the audit event keeps the username, which outlives the user)."""
    full, username = user.get_full_name().strip(), user.get_username()
    return f"{full} ({username})" if full else username


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


# Events are numbered in the order they are written, with the time they are written, so
# a day's events are a run of ids: a date filter becomes an id range as well, which the
# list walks in its own order (a filter on `at` alone scans every older event, or sorts
# the whole range). The range starts after the last event written over an hour before
# the first day, and ends before the first one written over an hour after the last: an
# event inside the dates can only lie outside if the server's clock was stepped back by
# more than an hour between the two. `at` keeps the filter exact.
CLOCK_SLACK = dt.timedelta(hours=1)


def _ids_from(moment: dt.datetime) -> int | None:
    before = AuditEvent.objects.filter(at__lt=moment - CLOCK_SLACK).order_by("-at").values_list("id", flat=True).first()
    return None if before is None else before + 1


def _ids_until(moment: dt.datetime) -> int | None:
    after = AuditEvent.objects.filter(at__gte=moment + CLOCK_SLACK).order_by("at").values_list("id", flat=True).first()
    return None if after is None else after - 1


# A kind of action with at least this many events is read newest first off the table,
# keeping the rows of the kind (a few in every page's worth); a rarer one off its action
# index, sorted. Without statistics (a clinic's SQLite database never has ANALYZE run)
# SQLite takes the index for both, and sorting 400,000 "patient records" events took 1.4 s.
COMMON = 5000


def _common(clinic_id: int, codes: list[str]) -> bool:
    # Counted on the action index alone, unordered, and only up to COMMON.
    return AuditEvent.objects.filter(clinic_id_ref=clinic_id, action__in=codes).order_by()[:COMMON].count() >= COMMON


def _no_index(column: str) -> Coalesce:
    """`column`, in a form no index serves (COALESCE(x, x)): the filter is then checked on
    the rows the list walks in id order, and the database does not pick that column's
    index and sort everything it finds."""
    return Coalesce(F(column), F(column))


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
        codes = actions_of_kind(f.kind)
        if _common(m.clinic_id, codes):
            qs = qs.alias(action_any=_no_index("action")).filter(action_any__in=codes)
        else:
            qs = qs.filter(action__in=codes)
    if f.outcome:
        qs = qs.filter(outcome=f.outcome)
    # Dates are UTC days, as the page shows the times.
    if f.since or f.until:
        qs = qs.alias(at_any=_no_index("at"))
    if f.since:
        start = _utc_start(f.since)
        qs = qs.filter(at_any__gte=start)
        if (first := _ids_from(start)) is not None:
            qs = qs.filter(id__gte=first)
    if f.until:
        end = _utc_start(f.until + dt.timedelta(days=1))
        qs = qs.filter(at_any__lt=end)
        if (last := _ids_until(end)) is not None:
            qs = qs.filter(id__lte=last)
    if f.patient:
        qs = qs.filter(patient_id_ref=_patient_row_id(user, f.patient))
    return qs.select_related("actor").order_by("-id")


# Counted at most this far past the page ("page 1 of more than 21"): a rare filter's
# count would otherwise walk far back through the table (touchup.web.selectors.CappedPaginator).
COUNT_AHEAD = 1000


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
