"""The clinic's own wear-off medians (touchup.core.calibration), proposed and applied.

    propose(clinic, actor=None)   -> MedianCalibration (not yet applied): the medians fitted
                                     to every patient's chart, audited as one bulk read
    apply(calibration, actor)     -> marks it the clinic's active one (audited); the clinic's
                                     forecasts are recomputed (recompute_many) and its track
                                     record scored again (services.track_record) in the
                                     background
    request_fit(clinic_id, actor) -> a fit in the background (the manager's "Fit now"): a
                                     CalibrationFitRequest row until a fit has run, so it is
                                     never lost with its worker (forecasts.requeue_due)
    run_requested_fit(clinic_id)  -> what that task does
    priors_for(clinic_id)         -> the priors the clinic's forecasts use: the published
                                     ones with the active calibration's shifts, if any

Only the medians move; areas with too few patients keep the published median
(core.calibration.MIN_PATIENTS). A calibration is a proposal until the manager applies
it, so that a clinic can look at what changed before every forecast moves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.models import Clinic, Patient, Treatment, TreatmentStatus
from touchup.core.history import History
from touchup.core.wearoff import Priors, load_priors

from ..models import CalibrationFitRequest, MedianCalibration
from .forecasts import ForecastUnavailable, histories_data, parse_chart

_CHUNK = 2000  # charts read per three queries


class NothingToCalibrate(Exception):
    """The clinic has no signed treatments yet."""


def propose(clinic: Clinic, *, actor: Any = None, as_of: dt.date | None = None) -> MedianCalibration:
    from touchup.core.calibration import calibrate

    as_of = as_of or timezone.localdate()
    histories = clinic_histories(clinic, as_of)
    if not histories:
        raise NothingToCalibrate(clinic.slug)
    found = calibrate(histories)
    result = {
        area: {"patients": c.patients, "calibrated": c.calibrated, "shift": round(c.shift, 5),
               "sd": round(c.sd, 5), "percent": round(c.percent, 1),
               "before": round(c.median_days_before, 1), "after": round(c.median_days_after, 1)}
        for area, c in found.items()
    }
    with transaction.atomic():
        row = MedianCalibration.objects.create(
            clinic=clinic, created_at=timezone.now(), created_by=_user(actor), as_of=as_of,
            patients=len(histories), result=result,
        )
        # One event for the bulk read: which clinic, how many charts, nothing about anyone.
        audit.record("forecast.calibration.propose", actor=actor, clinic=clinic, obj=row,
                     detail={"patients": len(histories)})
    return row


def clinic_histories(clinic: Clinic, as_of: dt.date) -> list[History]:
    """Every patient's signed chart of the clinic as a History on `as_of` (not audited: the
    caller records its one bulk read). A chart that cannot be read is left out."""
    patient_ids = (
        Treatment.objects.filter(patient__clinic=clinic, status=TreatmentStatus.SIGNED, treated_on__lte=as_of)
        .values_list("patient_id", flat=True).distinct()
    )
    patients = list(Patient.objects.filter(pk__in=patient_ids).order_by("pk"))  # a subquery, not a list of ids
    histories = []
    for lo in range(0, len(patients), _CHUNK):
        for data in histories_data(patients[lo:lo + _CHUNK], as_of).values():
            if data is None:
                continue
            try:
                histories.append(parse_chart(data))
            except ForecastUnavailable:
                continue  # counted by the forecast itself; one bad chart must not block the rest
    return histories


def apply(calibration: MedianCalibration, *, actor: Any = None, queue: bool = True) -> MedianCalibration:
    """Make the fit the clinic's medians, and recompute every forecast of the clinic and
    score its track record again in the background once that commits (queue=False: the
    caller runs forecasts.recompute_clinic_forecasts itself, and the worker does if it does
    not finish; the scoring is queued either way, the caller does not run it)."""
    from .forecasts import request_clinic_recompute
    from .track_record import request_scoring

    with transaction.atomic():
        calibration.applied_at = timezone.now()
        calibration.applied_by = _user(actor)
        calibration.save(update_fields=["applied_at", "applied_by"])
        audit.record("forecast.calibration.apply", actor=actor, clinic=calibration.clinic_id, obj=calibration,
                     detail={"shifts": calibration.shifts()})
        # With the medians, so forecasts on the old ones cannot outlive a lost task.
        request_clinic_recompute(calibration.clinic_id, queue=queue)
        # The kept track record scored the old medians: score it again with these.
        request_scoring(calibration.clinic_id, actor)
    _cached.clear()
    return calibration


def published_medians() -> list[dict[str, Any]]:
    """What the forecasts start from before any fit: each area's published median with the
    catalogue sources it rests on (for the manager's page, which cannot link into docs/)."""
    from touchup.core.catalogue import load_catalogue

    catalogue = load_catalogue()
    rows = []
    for key, prior in load_priors().areas.items():
        area = catalogue.areas.get(key)
        rows.append({
            "area": area.name if area else key.replace("_", " ").capitalize(),
            "median_days": prior.median_days,
            "sources": [catalogue.sources[k] for k in prior.source if k in catalogue.sources],
        })
    return rows


def can_fit(clinic_id: int) -> bool:
    """Whether the clinic has anything to fit to (a signed treatment)."""
    return Treatment.objects.filter(patient__clinic_id=clinic_id, status=TreatmentStatus.SIGNED).exists()


def request_fit(clinic_id: int, actor: Any) -> None:
    """Fit the clinic's medians in the background once the current transaction commits.
    Asking again while a fit is under way asks for one more after it (a new token), so
    charts signed meanwhile are read."""
    from .forecasts import FIT, _request

    with transaction.atomic():
        _request(FIT, clinic_id, requested_by=_user(actor))
        audit.record("forecast.calibration.request", actor=actor, clinic=clinic_id)


def pending_fit(clinic_id: int) -> CalibrationFitRequest | None:
    """The fit asked for and not yet done, if any (for the page)."""
    return CalibrationFitRequest.objects.select_related("requested_by").filter(pk=clinic_id).first()


def run_requested_fit(clinic_id: int, *, actor: Any = None, only_if_requested: bool = False) -> dict:
    """The fit task: propose() for whoever asked, then the request done (unless asked for
    again meanwhile). A clinic with nothing to fit drops the request too: the page says
    why before offering the button, and asking again would fail the same way."""
    from .forecasts import FIT, request_done

    pending = pending_fit(clinic_id)
    if pending is None and only_if_requested:
        return {}  # another run has done it
    if pending is not None and pending.requested_by is not None:
        actor = pending.requested_by
    clinic = Clinic.objects.get(pk=clinic_id)
    try:
        row = propose(clinic, actor=actor)
        outcome = {"calibration": row.pk, "patients": row.patients}
    except NothingToCalibrate:
        outcome = {"patients": 0}
    request_done(clinic_id, pending.token if pending else None, FIT)
    return outcome


def _applied(clinic_id: int):
    """The clinic's applied calibrations, the one in use first."""
    return MedianCalibration.objects.filter(clinic_id=clinic_id, applied_at__isnull=False).order_by(
        "-applied_at", "-pk")


def active(clinic_id: int) -> MedianCalibration | None:
    return _applied(clinic_id).first()


def latest_proposal(clinic_id: int) -> MedianCalibration | None:
    """The newest fit not yet applied, if it is newer than the active one."""
    row = MedianCalibration.objects.filter(clinic_id=clinic_id).order_by("-created_at", "-pk").first()
    return row if row is not None and row.applied_at is None else None


_cached: dict[tuple[int, int | None], Priors] = {}


def priors_for(clinic_id: int) -> Priors:
    """The published priors, moved by the clinic's active calibration (one query; the
    shifted priors are built once per calibration)."""
    row = _applied(clinic_id).values_list("pk", "result").first()
    key = (clinic_id, row[0] if row else None)
    priors = _cached.get(key)
    if priors is None:
        shifts = {a: r["shift"] for a, r in row[1].items() if r.get("calibrated")} if row else {}
        priors = _cached[key] = load_priors().with_median_shifts(shifts)
    return priors


def note_calibrated(areas: Iterable[Any], priors: Priors) -> list[Any]:
    """Core AreaForecasts with "; median fitted to this clinic" added to the basis of each
    area whose median the clinic's calibration moved: the clinician sees what it rests on."""
    published = load_priors().areas
    return [
        dataclasses.replace(a, basis=f"{a.basis}; {CALIBRATED_NOTE}")
        if priors.areas[a.area] is not published[a.area] else a
        for a in areas
    ]


CALIBRATED_NOTE = "median fitted to this clinic's patients"


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
