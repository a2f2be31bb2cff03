"""Readings and forecasts over the API: a clinician records a reading at a visit, and any
clinical role reads the patient's maintenance forecast per area."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status

from touchup.clinic import access, audit
from touchup.clinic.services.observations import observation_record

from .schemas import OBJECT_ERRORS, IsoDate, text

router = Router(tags=["forecasts"])


class ObservationIn(Schema):
    area: text(40)  # type: ignore[valid-type]
    kind: Literal["fws_grade", "headache_days", "symptom_score"]
    value: float
    observed_on: IsoDate | None = None


class ObservationOut(Schema):
    area: str
    kind: str
    value: float
    observed_on: dt.date
    source: str


class AreaForecastOut(Schema):
    area: str
    product: str
    treatment_date: dt.date
    wear_off_date: dt.date
    wear_off_interval: list[dt.date]
    book_from: dt.date
    book_by: dt.date
    earliest_allowed: dt.date
    basis: str
    computed_at: dt.datetime


@router.post("/patients/{patient_id}/observations", response={201: ObservationOut, **OBJECT_ERRORS})
def record_observation(request: HttpRequest, patient_id: uuid.UUID, payload: ObservationIn) -> Status[Any]:
    """Record a clinician's reading (FWS grade 0-3, headache days 0-30, symptom score 0-10);
    the forecast is recomputed in the background."""
    patient = access.patient_for(request.user, patient_id, need="treatment.chart", audit_read=False)
    obs = observation_record(actor=request.user, patient=patient, area=payload.area, kind=payload.kind,
                             value=payload.value, observed_on=payload.observed_on)
    return Status(201, ObservationOut(area=obs.area, kind=obs.kind, value=obs.value,
                                      observed_on=obs.observed_on, source=obs.source))


@router.get("/patients/{patient_id}/forecasts", response={200: list[AreaForecastOut], **OBJECT_ERRORS})
def forecasts(request: HttpRequest, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The maintenance forecast per area of the patient's latest treatment of it (the
    `touchup forecast` result, as last computed)."""
    from touchup.maintenance.models import AreaForecast

    patient = access.patient_for(request.user, patient_id, need="clinical.view", audit_read=False)
    rows = list(AreaForecast.objects.filter(patient=patient).order_by("area"))
    with transaction.atomic():
        audit.record("forecast.view", actor=request.user, patient=patient, detail={"areas": len(rows)})
    return [
        {"area": r.area, "product": r.product, "treatment_date": r.treated_on, "wear_off_date": r.wear_off_date,
         "wear_off_interval": [r.wear_off_low, r.wear_off_high], "book_from": r.book_from, "book_by": r.book_by,
         "earliest_allowed": r.earliest_allowed, "basis": r.basis, "computed_at": r.computed_at}
        for r in rows
    ]
