"""Recalibrating the medians on a clinic's own histories (touchup.core.calibration)."""

import datetime as dt
import math
import random

import pytest

from touchup.core.calibration import MIN_PATIENTS, calibrate, shifts
from touchup.core.forecast import build_batch, forecast
from touchup.core.history import parse_history
from touchup.core.wearoff import improvement, load_priors

PRIORS = load_priors()
GLABELLA = PRIORS.areas["glabella"]


def clinic(n, factor, seed=1):
    """n glabella patients whose wear-off is `factor` x the published median: two cycles
    photographed at the two-week review, once between days 60 and 150 and on the day they
    return (the first also on its treatment day), then back for a third."""
    rng = random.Random(seed)
    median = GLABELLA.median_for("onabotulinumtoxinA") * factor
    out = []
    for i in range(n):
        person = rng.gauss(0, GLABELLA.sd_log_person)
        start = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(200))
        base = rng.uniform(0.2, 0.6)
        treatments, observations = [], []
        day = start
        for cycle in range(2):
            D = median * math.exp(person + rng.gauss(0, GLABELLA.sd_log_cycle))
            A = rng.uniform(0.3, 0.85)
            gap = round(D * math.exp(rng.gauss(0.05, 0.15)))
            treatments.append({"date": day.isoformat(), "product": "onabotulinumtoxinA",
                               "indication": "glabellar_lines", "areas": [{"area": "glabella", "units": 20}]})
            if cycle == 0:
                observations.append({"date": day.isoformat(), "area": "glabella", "kind": "wrinkle_index",
                                     "value": round(base * (1 + rng.gauss(0, 0.03)), 4)})
            for t in sorted({14, min(rng.randint(60, 150), gap), gap}):
                f = float(improvement(t, D, GLABELLA.peak_days, GLABELLA.rise_shape, GLABELLA.decline_shape))
                observations.append({"date": (day + dt.timedelta(days=t)).isoformat(), "area": "glabella",
                                     "kind": "wrinkle_index",
                                     "value": round(base * (1 - A * f) * (1 + rng.gauss(0, 0.03)), 4)})
            day += dt.timedelta(days=gap)
        treatments.append({**treatments[-1], "date": day.isoformat()})  # back for the third
        out.append(parse_history({"as_of": day.isoformat(),
                                  "patient": {"sex": "female"}, "treatments": treatments,
                                  "observations": observations}))
    return out


def test_it_finds_how_much_longer_the_clinics_patients_last():
    found = calibrate(clinic(120, 1.25))["glabella"]
    assert found.calibrated and found.patients == 120
    assert 15 <= found.percent <= 35, found
    assert found.sd < 0.1


def test_patients_like_the_literature_leave_the_median_where_it_is():
    found = calibrate(clinic(120, 1.0, seed=2))["glabella"]
    assert abs(found.percent) < 8, found


def test_too_few_patients_keep_the_published_median():
    found = calibrate(clinic(MIN_PATIENTS - 1, 1.4))["glabella"]
    assert not found.calibrated and found.shift == 0.0
    assert shifts({"glabella": found}) == {}


def test_calibrated_priors_move_the_forecast():
    history = clinic(1, 1.0, seed=3)[0]
    priors = PRIORS.with_median_shifts({"glabella": math.log(1.2)})
    before = forecast(history).areas[0]
    after = forecast(history, priors=priors).areas[0]
    assert after.wear_off_date > before.wear_off_date


def test_median_shifts_scale_the_area_and_its_products_own_medians():
    shifted = PRIORS.with_median_shifts({"glabella": math.log(2)})
    assert shifted.areas["glabella"].median_days == pytest.approx(2 * GLABELLA.median_days)
    assert shifted.areas["glabella"].median_for("daxibotulinumtoxinA") == pytest.approx(
        2 * GLABELLA.median_for("daxibotulinumtoxinA"))
    assert shifted.areas["forehead"] is PRIORS.areas["forehead"]


def test_an_area_without_readings_has_no_evidence_whatever_the_medians():
    history = parse_history({"as_of": "2026-01-01", "patient": {"sex": "male"}, "treatments": [
        {"date": "2025-10-01", "product": "onabotulinumtoxinA", "indication": "glabellar_lines",
         "areas": [{"area": "glabella", "units": 20}]}]})
    for s in (-0.3, 0.0, 0.3):
        batch, slots = build_batch([history], PRIORS.with_median_shifts({"glabella": s}))
        assert slots == [(0, "glabella")]
        assert batch.log_evidence().tolist() == [0.0]
