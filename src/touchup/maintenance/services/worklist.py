"""The "due for maintenance" worklist: whose booking window opens this week or next, or
is open already, and who has not booked yet, with how far the front desk got in
reaching them.

One query over AreaForecast (clinic, clinician and booking state are on the row; the
partial indexes `worklist_open*` cover it), one count, one grouped count; patients and
clinicians come in by join for the page shown only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from touchup.clinic import access, audit
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Membership, Patient
from touchup.core.dates import day_text, day_month_text, weekday_day_text

from ..models import MAX_WINDOW_DAYS, AreaForecast, ContactStatus
from . import early_reports
from .forecasts import lock_forecasts

# A window that closed longer ago than this drops off the list (the patient has lapsed or
# gone elsewhere; a recompute after any new data puts them back).
OVERDUE_DAYS = 60
PER_PAGE = 50
SHOW = ("open", "booked")


@dataclass(frozen=True)
class WorklistFilters:
    area: str = ""
    clinician: int | None = None
    contact: str = ""  # one of ContactStatus values, "" for any
    show: str = "open"  # open: not booked; booked: booked ones in the same dates
    page: int = 1


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One patient-area on the list: plain values, already formatted (a page of these
    renders in a few milliseconds; model instances with three joins did not)."""

    forecast_id: int
    patient_public_id: Any
    patient_name: str
    phone: str
    area: str
    book_from: dt.date
    book_by: dt.date
    clinician_name: str
    contact_status: str
    contact_text: str
    contact_at: dt.datetime | None
    booked_at: dt.datetime | None  # the appointment's start, when booked
    state: str  # overdue | open | this_week | next_week
    state_text: str

    @property
    def area_text(self) -> str:
        """The catalogue's name ("Crow's feet"), as the filters and the summary say it."""
        from touchup.core.catalogue import load_catalogue

        area = load_catalogue().areas.get(self.area)
        return area.name if area else self.area.replace("_", " ").capitalize()

    @property
    def window_text(self) -> str:
        return f"{day_month_text(self.book_from)} – {day_text(self.book_by)}"


@dataclass(frozen=True, slots=True)
class WorklistEntry:
    """One patient on the page, with every area of theirs that the page holds (most
    urgent first). The front desk calls a person once and one booking covers all their
    due areas (services.booking.book), so a patient is one line, not one per area."""

    rows: tuple[WorklistRow, ...]

    @property
    def first(self) -> WorklistRow:
        return self.rows[0]

    @property
    def areas(self) -> list[str]:
        return [r.area for r in self.rows]

    @property
    def clinician_names(self) -> str:
        return ", ".join(dict.fromkeys(r.clinician_name for r in self.rows))


def by_patient(rows: list[WorklistRow]) -> list[WorklistEntry]:
    """Group a page's rows by patient, in the order of each patient's most urgent area.
    Only within the page: a patient whose other area closes much later may appear again
    on a later page, which keeps the list one indexed range scan (see the module doc)."""
    grouped: dict[Any, list[WorklistRow]] = {}
    for row in rows:
        grouped.setdefault(row.patient_public_id, []).append(row)
    return [WorklistEntry(tuple(g)) for g in grouped.values()]


@dataclass(frozen=True)
class Worklist:
    today: dt.date
    horizon: dt.date
    rows: list[WorklistRow]
    total: int
    page: int
    pages: int
    by_area: list[tuple[str, int]]
    filters: WorklistFilters
    # The "Reported wearing off early" section (services.early_reports), read with the page.
    early_reports: list = field(default_factory=list)

    @property
    def entries(self) -> list[WorklistEntry]:
        return by_patient(self.rows)


def horizon_for(today: dt.date) -> dt.date:
    """The Sunday that ends next week."""
    return today + dt.timedelta(days=(6 - today.weekday()) + 7)


def parse_filters(params: Any, clinic: Any) -> WorklistFilters:
    """Query parameters to filters; a bad one is InvalidInput naming it."""
    from touchup.core.wearoff import load_priors

    areas = load_priors().areas
    area = (params.get("area") or "").strip()
    if area and area not in areas:
        raise InvalidInput("area", f"unknown area {area!r}")
    clinician = (params.get("clinician") or "").strip()
    clinician_id = None
    if clinician:
        if not clinician.isdigit() or not Membership.objects.filter(
            clinic=clinic, user_id=int(clinician), role="clinician"
        ).exists():
            raise InvalidInput("clinician", "no such clinician in this clinic")
        clinician_id = int(clinician)
    contact = (params.get("contact") or "").strip()
    if contact and contact not in ContactStatus.values:
        raise InvalidInput("contact", f"must be one of {', '.join(v for v in ContactStatus.values if v)}")
    show = (params.get("show") or "open").strip()
    if show not in SHOW:
        raise InvalidInput("show", "must be open or booked")
    page_text = (params.get("page") or "1").strip()
    if not page_text.isdigit() or int(page_text) < 1 or int(page_text) > 100000:
        raise InvalidInput("page", "must be a page number")
    return WorklistFilters(area, clinician_id, contact, show, int(page_text))


def _state(book_from: dt.date, book_by: dt.date, today: dt.date) -> tuple[str, str]:
    # Dates as the page writes them beside the label ("1 Oct", not "01 Oct").
    if book_by < today:
        return "overdue", f"Overdue since {day_month_text(book_by)}"
    if book_from <= today:
        return "open", f"Open until {day_month_text(book_by)}"
    this_sunday = today + dt.timedelta(days=6 - today.weekday())
    if book_from <= this_sunday:
        return "this_week", f"Opens {weekday_day_text(book_from)}"
    return "next_week", f"Opens {weekday_day_text(book_from)}"


def due_for_maintenance(user: Any, filters: WorklistFilters | None = None, *,
                        today: dt.date | None = None) -> Worklist:
    """The worklist page for the user's clinic (the gate decides who may see it)."""
    membership = access.require(user, "patient.view")
    filters = filters or WorklistFilters()
    today = today or timezone.localdate()
    horizon = horizon_for(today)
    oldest = today - dt.timedelta(days=OVERDUE_DAYS)
    qs = AreaForecast.objects.filter(
        clinic=membership.clinic, book_by__gte=oldest, appointment__isnull=filters.show == "open",
        # book_by <= book_from + MAX_WINDOW_DAYS, so this upper bound loses nothing and
        # keeps the index range short.
        book_by__lte=horizon + dt.timedelta(days=MAX_WINDOW_DAYS), book_from__lte=horizon,
    )
    if filters.clinician is not None:
        qs = qs.filter(clinician_id=filters.clinician)
    if filters.contact:
        qs = qs.filter(contact_status=filters.contact)
    # COUNT(*), not COUNT(id): id is not in the index, and PostgreSQL would visit the table.
    by_area = sorted(qs.values_list("area").annotate(n=Count("*")).order_by())
    if filters.area:
        qs = qs.filter(area=filters.area)
        total = next((n for a, n in by_area if a == filters.area), 0)
    else:
        total = sum(n for _, n in by_area)
    pages = max(1, -(-total // PER_PAGE))
    page = min(filters.page, pages)
    offset = (page - 1) * PER_PAGE
    # Most urgent first: the window that closes soonest (overdue ones lead).
    values = qs.order_by("book_by", "id").values_list(
        "id", "patient__public_id", "patient__given_name", "patient__family_name", "patient__phone", "area",
        "book_from", "book_by", "clinician__first_name", "clinician__last_name", "clinician__username",
        "contact_status", "contact_at", "appointment__starts_at",
    )[offset:offset + PER_PAGE]
    labels = dict(ContactStatus.choices)
    rows = []
    for (fid, pid, given, family, phone, area, book_from, book_by, c_first, c_last, c_user, contact, contact_at,
         booked_at) in values:
        rows.append(WorklistRow(
            fid, pid, f"{given} {family}", phone, area, book_from, book_by,
            f"{c_first} {c_last}".strip() or (c_user or "—"), contact, labels.get(contact, ""), contact_at,
            booked_at, *_state(book_from, book_by, today),
        ))
    early = early_reports.worklist_section(membership.clinic, horizon)
    # Reading the list shows names and due dates: one audit event for the page (the early
    # reports section's names and check-in dates included).
    audit.record(
        "worklist.view", actor=user, clinic=membership.clinic,
        detail={"page": page, "rows": len(rows), "total": total, "area": filters.area,
                "clinician": filters.clinician, "show": filters.show, "early_reports": len(early)},
    )
    return Worklist(today, horizon, rows, total, page, pages, by_area, filters, early)


@transaction.atomic
def mark_contact(*, actor: Any, patient: Patient, area: str | Sequence[str], status: str) -> int:
    """Note the outcome of contacting the patient about the windows of one area or of
    several (one call covers every area on their worklist line; "" clears it). Returns how
    many forecast rows changed. An area without a forecast changes nothing."""
    if status not in ContactStatus.values:
        raise InvalidInput("status", f"must be one of {', '.join(v or 'none' for v in ContactStatus.values)}")
    areas = [area] if isinstance(area, str) else list(dict.fromkeys(area))
    if not areas:
        raise InvalidInput("area", "name at least one area")
    lock_forecasts(patient.pk)  # a recompute may be replacing the rows
    found = {f.area: f for f in AreaForecast.objects.select_for_update().filter(patient=patient, area__in=areas)}
    for i, name in enumerate(areas):
        if name not in found:
            field = "area" if len(areas) == 1 else f"area[{i}]"
            raise InvalidInput(field, "this patient has no forecast for that area")
    now = timezone.now()
    AreaForecast.objects.filter(pk__in=[f.pk for f in found.values()]).update(
        contact_status=status, contact_at=now if status else None)
    audit.record("worklist.contact", actor=actor, patient=patient,
                 detail={"area": areas[0] if len(areas) == 1 else areas, "status": status})
    return len(found)
