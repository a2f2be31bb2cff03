"""Treatments (charts): list, start, read, place points, edit, check, sign, amend, discard.

Reading is for clinical roles (clinical.view: clinicians and managers); charting,
signing, amending and discarding for clinicians (treatment.chart). A signed chart is
never edited: a second sign is 409, corrections are amendments with a reason.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.clinic.services import treatments as treatment_services

from .schemas import (
    OBJECT_ERRORS, BodyId, DetailOut, IsoDate, JsonObject, Page, PageParams, RefusedOut, page, text,
)
from .screenings import FindingOut
from .vials import vial_in_body

router = Router(tags=["treatments"])

Key = text(60, min_length=1)
MAX_POINTS = 200


# --- in ------------------------------------------------------------------------------


class TreatmentFilters(PageParams):
    patient_id: uuid.UUID | None = None
    status: Literal["draft", "signed"] | None = None
    indication: text(40) | None = None  # type: ignore[valid-type]
    product: text(40) | None = None  # type: ignore[valid-type]
    treated_from: dt.date | None = None
    treated_to: dt.date | None = None


class TreatmentStartIn(Schema):
    indication: Key  # type: ignore[valid-type]
    product: Key  # type: ignore[valid-type]
    protocol: text(60) | None = Field(  # type: ignore[valid-type]
        None, description="Pre-fills the protocol's injection sites with their label units"
    )
    treated_on: IsoDate | None = Field(None, description="Defaults to today; not in the future")
    vial_id: BodyId | None = Field(None, description="Vial for the pre-filled points")


class PointIn(Schema):
    site: text(60) = Field("", description="Catalogue site key; empty for a free point")  # type: ignore[valid-type]
    area: text(40) = Field("", description="Defaults to the site's area")  # type: ignore[valid-type]
    units: float | None = Field(None, strict=True, gt=0, le=500, allow_inf_nan=False)
    vial_id: BodyId | None = None
    view: Literal["front", "back"] = "front"
    x: float = Field(strict=True, ge=0, le=treatment_services.CHART_WIDTH, allow_inf_nan=False)
    y: float = Field(strict=True, ge=0, le=treatment_services.CHART_HEIGHT, allow_inf_nan=False)


class PointsIn(Schema):
    points: list[PointIn] = Field(max_length=MAX_POINTS, description="The full list; it replaces the chart's points")


class SignIn(Schema):
    accepted_warnings: list[text(120)] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=50,
        description="The `key` of each warning (severity 'warn' in /check) the clinician reviewed and accepts. "
                    "Every warning standing must be accepted by its key, which changes with the warning's "
                    "site or message (a bigger dose): a code alone is refused. A chart without warnings needs none.",
    )


class TreatmentPatch(Schema):
    """Only the fields sent are changed; a draft only."""

    product: Key = None  # type: ignore[valid-type,assignment]
    treated_on: IsoDate = None  # type: ignore[assignment]
    notes: text(5000) = None  # type: ignore[valid-type,assignment]
    vial_id: BodyId = Field(None, description="Applies this vial to every point")  # type: ignore[assignment]


class AmendmentIn(Schema):
    reason: text(2000, min_length=5)  # type: ignore[valid-type]
    changes: JsonObject = Field(description="What is corrected, e.g. {\"points[2].units\": {\"was\": 4, \"now\": 5}}")


# --- out -----------------------------------------------------------------------------


class PointOut(Schema):
    site: str
    area: str
    units: float | None
    vial_id: int | None
    lot: str | None
    view: str
    x: float
    y: float


class AmendmentOut(Schema):
    reason: str
    changes: dict[str, Any]
    amended_by: str
    amended_at: dt.datetime


class TreatmentSummaryOut(Schema):
    id: uuid.UUID
    patient_id: uuid.UUID
    treated_on: dt.date
    product: str
    indication: str
    protocol: str
    status: str
    clinician: str


class TreatmentOut(TreatmentSummaryOut):
    notes: str
    created_at: dt.datetime
    signed_at: dt.datetime | None
    signed_by: str | None
    points: list[PointOut]
    amendments: list[AmendmentOut]


class CheckOut(Schema):
    findings: list[FindingOut]
    problems: list[str] = Field(description="What stops signing now (empty: it can be signed)")
    can_sign: bool


def summary_out(t: Any) -> dict[str, Any]:
    return {
        "id": t.public_id, "patient_id": t.patient.public_id, "treated_on": t.treated_on,
        "product": t.product, "indication": t.indication, "protocol": t.protocol, "status": t.status,
        "clinician": t.clinician.get_username(),
    }


def treatment_out(t: Any) -> dict[str, Any]:
    points = t.points.select_related("vial").order_by("pk")
    amendments = t.amendments.select_related("amended_by").order_by("amended_at", "pk")
    return {
        **summary_out(t), "notes": t.notes, "created_at": t.created_at, "signed_at": t.signed_at,
        "signed_by": t.signed_by.get_username() if t.signed_by_id else None,
        "points": [
            {"site": p.site, "area": p.area, "units": float(p.units) if p.units is not None else None,
             "vial_id": p.vial_id, "lot": p.vial.lot if p.vial else None, "view": p.view, "x": p.x, "y": p.y}
            for p in points
        ],
        "amendments": [
            {"reason": a.reason, "changes": a.changes, "amended_by": a.amended_by.get_username(),
             "amended_at": a.amended_at}
            for a in amendments
        ],
    }


# --- routes --------------------------------------------------------------------------


@router.get("/treatments", response={200: Page[TreatmentSummaryOut], **OBJECT_ERRORS})
def list_treatments(request: HttpRequest, params: Query[TreatmentFilters]) -> dict[str, Any]:
    """The clinic's treatments, newest first. Filter by patient (404 if not in the clinic),
    status, indication, product and date range."""
    qs = access.treatments_visible_to(request.user)
    if params.patient_id is not None:
        # Through the gate: another clinic's patient id is a 404, not an empty page.
        qs = qs.filter(patient=access.patient_for(request.user, params.patient_id, need="clinical.view"))
    for name in ("status", "indication", "product"):
        if getattr(params, name):
            qs = qs.filter(**{name: getattr(params, name)})
    if params.treated_from:
        qs = qs.filter(treated_on__gte=params.treated_from)
    if params.treated_to:
        qs = qs.filter(treated_on__lte=params.treated_to)
    qs = qs.select_related("patient", "clinician").order_by("-treated_on", "-pk")
    return page(qs, params, summary_out)


@router.post("/patients/{patient_id}/treatments", response={201: TreatmentOut, **OBJECT_ERRORS})
def start_treatment(request: HttpRequest, patient_id: uuid.UUID, payload: TreatmentStartIn) -> Status[Any]:
    """Start a draft chart; with a protocol, its sites come pre-filled with label units."""
    patient = access.patient_for(request.user, patient_id, need="treatment.chart", audit_read=False)
    vial = vial_in_body(request.user, payload.vial_id)
    treatment = treatment_services.treatment_start(
        actor=request.user, patient=patient, indication=payload.indication, product=payload.product,
        protocol=payload.protocol or None, treated_on=payload.treated_on, vial=vial,
    )
    return Status(201, treatment_out(treatment))


@router.get("/treatments/{treatment_id}", response={200: TreatmentOut, **OBJECT_ERRORS})
def get_treatment(request: HttpRequest, treatment_id: uuid.UUID) -> dict[str, Any]:
    """One chart with its injection points and amendments (audited)."""
    return treatment_out(access.treatment_for(request.user, treatment_id))


@router.put("/treatments/{treatment_id}/points", response={200: TreatmentOut, 409: DetailOut, **OBJECT_ERRORS})
def set_points(request: HttpRequest, treatment_id: uuid.UUID, payload: PointsIn) -> dict[str, Any]:
    """Replace the draft's injection points with this list."""
    treatment = access.treatment_for(request.user, treatment_id, need="treatment.chart")
    treatment = treatment_services.treatment_set_points(
        actor=request.user, treatment=treatment, points=[p.model_dump() for p in payload.points]
    )
    return treatment_out(treatment)


@router.patch("/treatments/{treatment_id}", response={200: TreatmentOut, 409: DetailOut, **OBJECT_ERRORS})
def update_treatment(request: HttpRequest, treatment_id: uuid.UUID, payload: TreatmentPatch) -> dict[str, Any]:
    """Change a draft's product, date or notes, or put one vial on every point."""
    treatment = access.treatment_for(request.user, treatment_id, need="treatment.chart")
    fields = payload.model_dump(exclude_unset=True)
    if not fields:
        raise InvalidInput("body", "send at least one field to change")
    vial = vial_in_body(request.user, fields.pop("vial_id", None))
    treatment = treatment_services.treatment_update(actor=request.user, treatment=treatment, vial=vial, **fields)
    return treatment_out(treatment)


@router.get("/treatments/{treatment_id}/check", response={200: CheckOut, **OBJECT_ERRORS})
def check_treatment(request: HttpRequest, treatment_id: uuid.UUID) -> dict[str, Any]:
    """The safety findings for the chart as it stands, and what would stop signing."""
    treatment = access.treatment_for(request.user, treatment_id)
    findings = treatment_services.treatment_check(treatment)
    problems = treatment_services.signing_problems(treatment, findings) if not treatment.is_signed else []
    return {
        "findings": treatment_services.findings_as_dicts(findings),
        "problems": problems,
        "can_sign": not treatment.is_signed and not problems,
    }


@router.post(
    "/treatments/{treatment_id}/sign",
    response={200: TreatmentOut, 409: DetailOut, 422: RefusedOut, **{k: v for k, v in OBJECT_ERRORS.items() if k != 422}},
)
def sign_treatment(request: HttpRequest, treatment_id: uuid.UUID, payload: SignIn | None = None) -> dict[str, Any]:
    """Sign the chart. 422 with reasons while a blocking finding stands, a point lacks
    units or lot, or a warning stands whose key is not in `accepted_warnings` (the
    warnings changed since they were read, too); 409 if it is already signed. The body is
    optional for a chart without warnings."""
    treatment = access.treatment_for(request.user, treatment_id, need="treatment.chart")
    accepted = payload.accepted_warnings if payload is not None else []
    treatment = treatment_services.treatment_sign(actor=request.user, treatment=treatment, accepted_warnings=accepted)
    return treatment_out(treatment)


@router.post("/treatments/{treatment_id}/amendments", response={201: AmendmentOut, 409: DetailOut, **OBJECT_ERRORS})
def amend_treatment(request: HttpRequest, treatment_id: uuid.UUID, payload: AmendmentIn) -> Status[Any]:
    """Append a correction to a signed chart (a draft is edited instead: 409)."""
    treatment = access.treatment_for(request.user, treatment_id, need="treatment.chart")
    a = treatment_services.treatment_amend(
        actor=request.user, treatment=treatment, reason=payload.reason, changes=payload.changes
    )
    return Status(201, {"reason": a.reason, "changes": a.changes, "amended_by": a.amended_by.get_username(), "amended_at": a.amended_at})


@router.delete("/treatments/{treatment_id}", response={204: None, 409: DetailOut, **OBJECT_ERRORS})
def discard_treatment(request: HttpRequest, treatment_id: uuid.UUID) -> Status[Any]:
    """Throw away a draft. A signed chart is never deleted (409)."""
    treatment = access.treatment_for(request.user, treatment_id, need="treatment.chart")
    treatment_services.treatment_discard(actor=request.user, treatment=treatment)
    return Status(204, None)
