"""The forecast's track record on the clinic's own patients, for the manager
(touchup.core.track_record): every cycle with an observed wear-off, forecast again from
the history as it stood at the cycle's peak, beside the fixed "every N days" rule.

    score(clinic, actor=None, as_of=None)   -> (TrackRecordReport, TrackRecord): scored now
                                               and kept; the read of every chart audited
                                               as one bulk event
    for_clinic(clinic, actor=None)          -> the TrackRecord of score() (the command line)
    request_scoring(clinic_id, actor)       -> a scoring in the background (the manager's
                                               "Score again now"): a TrackRecordRequest row
                                               until one has run, so it is never lost with
                                               its worker (forecasts.requeue_due)
    run_requested(clinic_id)                -> what that task does
    pending_scoring(clinic_id)              -> the request not yet done, if any
    latest(clinic_id, actor)                -> the latest kept report and its TrackRecord
                                               (the page: a read of the kept numbers, audited,
                                               not of the charts)

Scoring reads every chart of the clinic and forecasts every past cycle again (3,000
patients: about 1.4 s of forecasting besides the read), too slow and too wide a read for
every page load; so it runs in the background, like a calibration fit, and the page shows
what was kept: aggregate numbers only, per area and for the clinic, nobody's cycles.

The forecasts are made with the priors the clinic's forecasts use now (its applied
calibration, if any), so the record scores what the product would say. A calibration was
fitted on these same cycles, so with one applied the record flatters the medians a little.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.models import Clinic
from touchup.core.track_record import TrackRecord, from_record_data, record_data, track_record

from ..models import TrackRecordReport, TrackRecordRequest
from .calibration import _user, active, clinic_histories, priors_for


def score(clinic: Clinic, *, actor: Any = None,
          as_of: dt.date | None = None) -> tuple[TrackRecordReport, TrackRecord]:
    as_of = as_of or timezone.localdate()
    calibration = active(clinic.pk)  # before the priors: the report names what it was scored with
    histories = clinic_histories(clinic, as_of)
    report = track_record(histories, priors=priors_for(clinic.pk))
    with transaction.atomic():
        row = TrackRecordReport.objects.create(
            clinic=clinic, computed_at=timezone.now(), computed_by=_user(actor), as_of=as_of,
            patients=len(histories), calibration=calibration, result=record_data(report),
        )
        # One event for the bulk read: which clinic, how many charts, nothing about anyone.
        audit.record("forecast.track_record.score", actor=actor, clinic=clinic, obj=row,
                     detail={"patients": len(histories)})
    return row, report


def for_clinic(clinic: Clinic, *, actor: Any = None, as_of: dt.date | None = None) -> TrackRecord:
    """Scored now (`touchup calibrate --track-record`), and kept: the page shows it too."""
    return score(clinic, actor=actor, as_of=as_of)[1]


def request_scoring(clinic_id: int, actor: Any, *, queue: bool = True) -> None:
    """Score the clinic's track record in the background once the current transaction
    commits. Asking again while one is under way asks for one more after it (a new token),
    so charts signed meanwhile are read."""
    from .forecasts import TRACK, _request

    with transaction.atomic():
        _request(TRACK, clinic_id, queue=queue, requested_by=_user(actor))
        audit.record("forecast.track_record.request", actor=actor, clinic=clinic_id)


def pending_scoring(clinic_id: int) -> TrackRecordRequest | None:
    """The scoring asked for and not yet done, if any (for the page)."""
    return TrackRecordRequest.objects.select_related("requested_by").filter(pk=clinic_id).first()


def run_requested(clinic_id: int, *, only_if_requested: bool = False) -> dict:
    """The task: score() for whoever asked, then the request done (unless asked for again
    meanwhile: its token is read before the charts)."""
    from .forecasts import TRACK, request_done

    pending = pending_scoring(clinic_id)
    if pending is None and only_if_requested:
        return {}  # another run has done it
    clinic = Clinic.objects.get(pk=clinic_id)
    row, _ = score(clinic, actor=pending.requested_by if pending else None)
    request_done(clinic_id, pending.token if pending else None, TRACK)
    return {"report": row.pk, "patients": row.patients}


def latest(clinic_id: int, *, actor: Any = None) -> tuple[TrackRecordReport | None, TrackRecord | None]:
    """The clinic's latest kept report and its numbers as a TrackRecord (without cycles),
    (None, None) before the first scoring. Audited as a read of the kept numbers: no chart
    is read."""
    row = (TrackRecordReport.objects.select_related("computed_by").filter(clinic_id=clinic_id)
           .order_by("-computed_at", "-pk").first())
    audit.record("forecast.track_record.view", actor=actor, clinic=clinic_id, obj=row)
    return row, (from_record_data(row.result) if row is not None else None)
