"""The forecast's track record on the clinic's own patients, for the manager
(touchup.core.track_record): every cycle with an observed wear-off, forecast again from
the history as it stood at the cycle's peak, beside the fixed "every N days" rule.

    for_clinic(clinic, actor=None, as_of=None) -> TrackRecord, the read of every chart
                                                  audited as one bulk event

The forecasts are made with the priors the clinic's forecasts use now (its applied
calibration, if any), so the record scores what the product would say. A calibration was
fitted on these same cycles, so with one applied the record flatters the medians a little.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.models import Clinic
from touchup.core.track_record import TrackRecord, track_record

from .calibration import clinic_histories, priors_for


def for_clinic(clinic: Clinic, *, actor: Any = None, as_of: dt.date | None = None) -> TrackRecord:
    histories = clinic_histories(clinic, as_of or timezone.localdate())
    # One event for the bulk read: which clinic, how many charts, nothing about anyone.
    audit.record("forecast.track_record.view", actor=actor, clinic=clinic,
                 detail={"patients": len(histories)})
    return track_record(histories, priors=priors_for(clinic.pk))
