"""Observations recorded by the clinic: the clinician's facial wrinkle scale grade (FWS,
0 none - 3 severe) at a visit, and, for therapeutic areas, headache days or a symptom
score read out at the visit. Patients' own entries come through the portal's diaries and
photos through the photo analysis; all of them feed the forecast."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.core.catalogue import load_catalogue
from touchup.core.history import KIND_AREAS

from .. import audit
from ..errors import InvalidInput
from ..models import Observation, ObservationKind, Patient

# kind -> (lowest, highest, whole numbers only, the areas it describes). The areas are
# the core's (touchup.core.history.KIND_AREAS, what `touchup forecast` accepts), so the
# form, this check and the forecast agree on which reading fits which area.
STAFF_KINDS: dict[str, tuple[float, float, bool, frozenset[str]]] = {
    ObservationKind.FWS_GRADE: (0, 3, True, KIND_AREAS[ObservationKind.FWS_GRADE]),
    ObservationKind.HEADACHE_DAYS: (0, 30, True, KIND_AREAS[ObservationKind.HEADACHE_DAYS]),
    ObservationKind.SYMPTOM_SCORE: (0, 10, False, KIND_AREAS[ObservationKind.SYMPTOM_SCORE]),
}


def kinds_for_area(area: str) -> list[str]:
    """The readings staff may record for this area, in the form's order."""
    return [kind for kind, spec in STAFF_KINDS.items() if area in spec[3]]


# What each kind is called in an error a clinician reads (the codes are for the API).
KIND_WORDS = {
    ObservationKind.FWS_GRADE: "a wrinkle grade",
    ObservationKind.HEADACHE_DAYS: "headache days",
    ObservationKind.SYMPTOM_SCORE: "a neck symptom score",
}


def _value(kind: str, raw: Any) -> float:
    lo, hi, whole, _ = STAFF_KINDS[kind]
    if isinstance(raw, bool):
        raise InvalidInput("value", "must be a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise InvalidInput("value", "must be a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InvalidInput("value", f"must be from {lo:g} to {hi:g}")
    if whole and value != int(value):
        raise InvalidInput("value", "must be a whole number")
    return value


@transaction.atomic
def observation_record(*, actor: Any, patient: Patient, area: str, kind: str, value: Any,
                       observed_on: dt.date | None = None) -> Observation:
    """Record one reading; the patient's forecast is recomputed in the background."""
    if kind not in STAFF_KINDS:
        raise InvalidInput("kind", f"must be one of {', '.join(STAFF_KINDS)}")
    areas = load_catalogue().areas
    if area not in areas:
        raise InvalidInput("area", f"unknown area {area!r}")
    if area not in STAFF_KINDS[kind][3]:
        # In words, with what the area does take: the form offers only these, but a stale
        # page or an API client may still send another.
        fits = [KIND_WORDS[k] for k in kinds_for_area(area)]
        raise InvalidInput("kind", f"{KIND_WORDS[kind]} is not recorded for {areas[area].name}"
                                   + (f": choose {' or '.join(fits)}" if fits else ""))
    observed_on = observed_on or timezone.localdate()
    if observed_on > timezone.localdate():
        raise InvalidInput("observed_on", "is in the future")
    if patient.birth_date and observed_on < patient.birth_date:
        raise InvalidInput("observed_on", "is before the patient's birth")
    obs = Observation.objects.create(patient=patient, area=area, observed_on=observed_on, kind=kind,
                                     value=_value(kind, value), source="clinician")
    audit.record("observation.record", actor=actor, patient=patient, obj=obs,
                 detail={"kind": kind, "area": area})
    from touchup.maintenance.services.forecasts import request_recompute

    request_recompute(patient)
    return obs
