"""Read-only helpers for the pages. Every query starts from the access gate's querysets
(touchup.clinic.access), so it is already limited to the user's clinic and role."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.functional import cached_property

from touchup.clinic import access
from touchup.clinic.models import AuditEvent, Patient, Treatment, TreatmentStatus, Vial
from touchup.clinic.services.vials import with_units_charted

SEARCH_LIMIT = 50


def search_patients(user: Any, q: str) -> QuerySet[Patient]:
    """Patients whose names contain every word of `q` (or born on the ISO date in it)."""
    qs = access.patients_visible_to(user)
    for word in q.split()[:5]:
        try:
            born = dt.date.fromisoformat(word)
        except ValueError:
            qs = qs.filter(Q(given_name__icontains=word) | Q(family_name__icontains=word))
        else:
            qs = qs.filter(birth_date=born)
    return qs.order_by("family_name", "given_name", "pk")[:SEARCH_LIMIT]


def recent_patients(user: Any, limit: int = 20) -> QuerySet[Patient]:
    return access.patients_visible_to(user).order_by("-created_at", "-pk")[:limit]


# --- treatment history -----------------------------------------------------------------


@dataclass
class Cycle:
    treatment: Treatment
    total_units: Decimal
    units_by_area: dict[str, Decimal]
    days_since_previous: int | None = None
    # Filled in by the view from the catalogue (names are presentation, not data).
    product_name: str = ""
    total_text: str = ""
    area_text: str = ""

    @property
    def weeks_since_previous(self) -> float | None:
        return None if self.days_since_previous is None else round(self.days_since_previous / 7, 1)


@dataclass
class CycleGroup:
    indication: str
    cycles: list[Cycle] = field(default_factory=list)
    name: str = ""

    @property
    def areas(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.cycles:
            seen.update(dict.fromkeys(c.units_by_area))
        return list(seen)


def treatment_cycles(user: Any, patient: Patient) -> list[CycleGroup]:
    """The patient's treatments grouped by indication, newest first within a group, each
    with its total units and the interval since the previous signed treatment of that
    indication (the number a clinician checks against the minimum retreatment interval)."""
    treatments = (
        access.treatments_visible_to(user)
        .filter(patient=patient)
        .prefetch_related("points")
        .order_by("treated_on", "created_at")
    )
    groups: "OrderedDict[str, CycleGroup]" = OrderedDict()
    last_signed: dict[str, dt.date] = {}
    for t in treatments:
        by_area: dict[str, Decimal] = defaultdict(Decimal)
        for p in t.points.all():
            by_area[p.area] += p.units or Decimal(0)
        cycle = Cycle(treatment=t, total_units=sum(by_area.values(), Decimal(0)), units_by_area=dict(by_area))
        prev = last_signed.get(t.indication)
        if prev is not None:
            cycle.days_since_previous = (t.treated_on - prev).days
        if t.status == TreatmentStatus.SIGNED:
            last_signed[t.indication] = t.treated_on
        groups.setdefault(t.indication, CycleGroup(indication=t.indication)).cycles.append(cycle)
    for g in groups.values():
        g.cycles.reverse()
    # The group treated most recently first.
    return sorted(groups.values(), key=lambda g: g.cycles[0].treatment.treated_on, reverse=True)


def latest_signed_treatment(user: Any, patient: Patient) -> Treatment | None:
    return (
        access.treatments_visible_to(user)
        .filter(patient=patient, status=TreatmentStatus.SIGNED)
        .order_by("-treated_on", "-signed_at")
        .first()
    )


# The treatment list counts at most this many rows past the page asked for. An exact
# count of a large clinic's treatments reads every one of them (55-95 ms for 360,000 on
# PostgreSQL, growing with the years); "page 2 of more than 400" needs only a bounded scan.
COUNT_AHEAD = 10_000


class CappedPaginator(Paginator):
    """A paginator whose count stops at `cap` rows; `capped` says the real count is larger."""

    def __init__(self, object_list: Any, per_page: int, *, cap: int):
        super().__init__(object_list, per_page)
        self.cap = cap

    @cached_property
    def count(self) -> int:
        # Sliced, the count is SELECT COUNT(*) FROM (SELECT id ... LIMIT cap + 1): it walks
        # the list's index in order and stops.
        return self.object_list[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def known_pages(self) -> int:
        return self.cap // self.per_page


def _page_number(page: Any) -> int:
    try:
        return max(1, int(page))
    except (TypeError, ValueError):
        return 1


def clinic_treatments(user: Any, *, status: str = "", indication: str = "", page: Any = 1, per_page: int = 25) -> Page:
    """The clinic's treatments, newest first. The page's rows come first, walking an index
    in the list's order; their totals are summed for those rows only (one more query),
    never grouped over the whole clinic (a GROUP BY over every treatment before the LIMIT
    cost seconds at 100,000 patients: docs/performance.md)."""
    qs = access.treatments_visible_to(user).select_related("patient", "clinician").order_by(
        "-treated_on", "-created_at", "-pk"
    )
    if status:
        qs = qs.filter(status=status)
    if indication:
        qs = qs.filter(indication=indication)
    cap = _page_number(page) * per_page + COUNT_AHEAD
    result = CappedPaginator(qs, per_page, cap=cap).get_page(page)
    rows = list(result.object_list)
    totals = {
        pk: (total, count)
        for pk, total, count in access.treatments_visible_to(user)
        .filter(pk__in=[t.pk for t in rows])
        .annotate(total_units=Sum("points__units"), point_count=Count("points"))
        .values_list("pk", "total_units", "point_count")
    }
    for t in rows:
        t.total_units, t.point_count = totals.get(t.pk, (None, 0))
    result.object_list = rows
    return result


# --- vials ---------------------------------------------------------------------------


def vial_list(user: Any) -> QuerySet[Vial]:
    """The stock in one query, each vial with the units charted from it (signed, drafts)."""
    return with_units_charted(
        access.vials_visible_to(user)
        .filter(discarded_at__isnull=True)
        .order_by("product", "expiry", "lot", "pk")
    )


def vials_for_chart(user: Any, *, product: str, keep: set[int] | None = None) -> list[Vial]:
    """In-date, not discarded vials of the treatment's product, plus any vial the chart
    already uses (so an expired one still shows, and the findings say why it is a problem)."""
    today = timezone.localdate()
    qs = access.vials_visible_to(user).filter(
        Q(product=product, expiry__gte=today, discarded_at__isnull=True) | Q(pk__in=keep or set())
    )
    return list(qs.order_by("-reconstituted_at", "expiry", "lot"))


def treated_areas(user: Any, patient: Any) -> list[str]:
    """The areas of the patient's signed treatments, most recent first (the gate has
    already let `user` see `patient`; the treatments are filtered by it again)."""
    rows = (access.treatments_visible_to(user).filter(patient=patient, status="signed")
            .order_by("-treated_on").values_list("points__area", flat=True))
    return list(dict.fromkeys(a for a in rows if a))


# --- audit ---------------------------------------------------------------------------


def clinic_audit(user: Any, *, page: Any = 1, per_page: int = 50) -> Page:
    """The clinic's audit trail, newest first (managers only)."""
    m = access.require(user, "audit.view")
    qs = AuditEvent.objects.filter(clinic_id_ref=m.clinic_id).select_related("actor").order_by("-id")
    return Paginator(qs, per_page).get_page(page)


# --- the clinic's staff (the manager's clinic page) -------------------------------------


@dataclass(frozen=True)
class StaffRow:
    membership: Any
    two_step: bool
    pending: bool = False  # has not set a password yet (touchup.clinic.services.staff)


def clinic_staff(user: Any) -> list[StaffRow]:
    """Every staff member of the manager's clinic, with whether they have two-step
    sign-in set up and whether they have chosen a password yet (one query each for all of them)."""
    from allauth.mfa.models import Authenticator

    from touchup.clinic.services.staff import pending_user_ids

    members = list(access.staff_visible_to(user))
    with_app = set(Authenticator.objects.filter(
        user_id__in=[m.user_id for m in members], type=Authenticator.Type.TOTP,
    ).values_list("user_id", flat=True))
    pending = pending_user_ids([m.user_id for m in members])
    return [StaffRow(m, m.user_id in with_app, m.user_id in pending) for m in members]
