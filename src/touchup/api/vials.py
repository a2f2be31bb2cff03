"""Vial stock: list, receive, read, reconstitute, and the recall list for a lot.

Vials are clinic stock, not patient data, so they use plain integer ids. Clinicians and
managers only (vial.view / vial.manage); the front desk never sees stock or doses.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import AwareDatetime

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.services import vials as vial_services

from .patients import PatientSummaryOut, summary_out
from .schemas import COMMON_ERRORS, OBJECT_ERRORS, DetailOut, IsoDate, Page, PageParams, PathId, page, text

router = Router(tags=["vials"])

ProductKey = text(40, min_length=1)
Lot = text(64, min_length=1)


class VialIn(Schema):
    product: ProductKey = Field(description="Catalogue product key, e.g. onabotulinumtoxinA")  # type: ignore[valid-type]
    lot: Lot  # type: ignore[valid-type]
    expiry: IsoDate
    units: int = Field(strict=True, gt=0, le=10_000, description="Units in the vial (product's own units)")


class ReconstituteIn(Schema):
    diluent_ml: float = Field(strict=True, gt=0, le=20, allow_inf_nan=False, description="Saline added, mL")
    reconstituted_at: AwareDatetime | None = Field(
        None, description="Defaults to now; with a time zone offset; not in the future"
    )


class VialFilters(PageParams):
    product: text(40) | None = None  # type: ignore[valid-type]
    lot: text(64) | None = None  # type: ignore[valid-type]
    include_discarded: bool = False


class RecallIn(Schema):
    product: ProductKey  # type: ignore[valid-type]
    lot: Lot  # type: ignore[valid-type]


class VialOut(Schema):
    id: int
    product: str
    lot: str
    expiry: dt.date
    units: int
    received_at: dt.datetime
    reconstituted_at: dt.datetime | None
    diluent_ml: float | None
    units_per_0_1ml: float | None = Field(description="Concentration once reconstituted")
    discarded_at: dt.datetime | None
    units_remaining: float = Field(description="units less those charted from this vial in signed treatments")
    units_in_drafts: float = Field(description="units charted from it on draft charts, not yet taken off")
    expiry_warning: str | None = Field(
        description="Set when the vial has expired or expires within the clinic's warning window "
        "(catalogue practice.toml, expiry_warning_days): use it first"
    )


class RecallPatientOut(PatientSummaryOut):
    lot_signed: bool = Field(description="A signed chart names this lot")
    lot_in_draft: bool = Field(
        description="A draft (unsigned) chart names this lot; with lot_signed false the patient is "
        "listed only because of a draft (kept in the recall: the dose may have been given)"
    )


class RecallOut(Schema):
    product: str
    lot: str
    patients: list[RecallPatientOut]


def vial_out(v: Any) -> dict[str, Any]:
    if not hasattr(v, "units_signed"):  # a single vial: one aggregate query
        v = vial_services.with_units_charted(type(v).objects.filter(pk=v.pk)).get()
    return {
        "id": v.pk, "product": v.product, "lot": v.lot, "expiry": v.expiry, "units": v.units,
        "received_at": v.received_at, "reconstituted_at": v.reconstituted_at,
        "diluent_ml": float(v.diluent_ml) if v.diluent_ml is not None else None,
        "units_per_0_1ml": round(v.units_per_0_1ml, 4) if v.units_per_0_1ml else None,
        "discarded_at": v.discarded_at,
        "units_remaining": float(v.units - v.units_signed), "units_in_drafts": float(v.units_in_drafts),
        "expiry_warning": getattr(vial_services.vial_expiry_finding(v), "message", None),
    }


def vial_in_body(user: Any, vial_id: int | None, field: str = "vial_id") -> Any:
    """A vial named inside a request body: missing or another clinic's is a field error
    (the gate still audits the miss), not a 404 of the whole request."""
    if vial_id is None:
        return None
    try:
        return access.vial_for(user, vial_id)
    except Http404:
        raise InvalidInput(field, "no such vial in this clinic") from None


@router.get("/vials", response={200: Page[VialOut], **COMMON_ERRORS})
def list_vials(request: HttpRequest, params: Query[VialFilters]) -> dict[str, Any]:
    """The clinic's vials, soonest expiry first."""
    qs = access.vials_visible_to(request.user)
    if params.product:
        qs = qs.filter(product=params.product)
    if params.lot:
        qs = qs.filter(lot=params.lot)
    if not params.include_discarded:
        qs = qs.filter(discarded_at__isnull=True)
    return page(vial_services.with_units_charted(qs.order_by("expiry", "pk")), params, vial_out)


@router.post("/vials", response={201: VialOut, **COMMON_ERRORS})
def receive_vial(request: HttpRequest, payload: VialIn) -> Status[Any]:
    """Book a vial into stock. An expired vial is refused (422 on `expiry`); one expiring
    soon is received with `expiry_warning` set."""
    m = access.require(request.user, "vial.manage")
    vial = vial_services.vial_receive(actor=request.user, clinic=m.clinic, **payload.model_dump())
    return Status(201, vial_out(vial))


# Before /vials/{vial_id}: URL patterns match in order, and "recall" is not an id.
@router.post("/vials/recall", response={200: RecallOut, **COMMON_ERRORS})
def recall_list(request: HttpRequest, payload: RecallIn) -> dict[str, Any]:
    """Everyone charted from any vial of this lot, draft charts included and flagged
    (a read of patient data: audited)."""
    m = access.require(request.user, "vial.view")
    access.require(request.user, "patient.view")
    patients = vial_services.vial_recall_list(
        actor=request.user, clinic=m.clinic, product=payload.product, lot=payload.lot
    )
    return {"product": payload.product, "lot": payload.lot, "patients": [
        {**summary_out(p), "lot_signed": p.lot_signed, "lot_in_draft": p.lot_in_draft} for p in patients
    ]}


@router.get("/vials/{vial_id}", response={200: VialOut, **OBJECT_ERRORS})
def get_vial(request: HttpRequest, vial_id: PathId) -> dict[str, Any]:
    return vial_out(access.vial_for(request.user, vial_id))


@router.post("/vials/{vial_id}/reconstitute", response={200: VialOut, 409: DetailOut, **OBJECT_ERRORS})
def reconstitute_vial(request: HttpRequest, vial_id: PathId, payload: ReconstituteIn) -> dict[str, Any]:
    """Record the saline added. Once only: a second time is 409."""
    vial = access.vial_for(request.user, vial_id, need="vial.manage")
    vial = vial_services.vial_reconstitute(
        actor=request.user, vial=vial, diluent_ml=str(payload.diluent_ml), at=payload.reconstituted_at
    )
    return vial_out(vial)
