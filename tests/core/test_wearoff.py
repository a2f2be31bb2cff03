"""The time-course model and the per-patient posterior (touchup.core.wearoff)."""

import dataclasses
import math

import numpy as np
import pytest

from touchup.core.wearoff import WearoffBatch, improvement, load_priors, wear_off_day

PRIORS = load_priors()
GLABELLA = PRIORS.areas["glabella"]
ONA = "onabotulinumtoxinA"
LEVELS = (0.1, 0.25, 0.5, 0.9)


def mu(prior=GLABELLA, product=ONA, units=20.0, sex="female", earlier=0):
    return prior.log_median(product, units, sex, earlier, PRIORS.dose_ratio_range)


def curve(t, D, prior=GLABELLA):
    return improvement(t, D, prior.peak_days, prior.rise_shape, prior.decline_shape)


# --- the curve ---

@pytest.mark.parametrize("area", sorted(PRIORS.areas))
def test_the_curve_rises_to_its_peak_and_halves_at_the_wear_off_day(area):
    prior = PRIORS.areas[area]
    D = prior.median_days
    t = np.arange(0, int(4 * D))
    f = curve(t, D, prior)
    assert f[0] == 0
    assert curve(prior.peak_days, D, prior) == pytest.approx(1.0)
    assert curve(D, D, prior) == pytest.approx(0.5)
    peak = int(prior.peak_days)
    assert np.all(np.diff(f[: peak + 1]) >= 0), "rises until the peak"
    assert np.all(np.diff(f[peak:]) <= 0), "then only declines"
    assert wear_off_day(lambda d: curve(d, D, prior), prior.peak_days) == math.ceil(D)


# --- the priors file ---

def test_every_area_has_a_sourced_prior_with_the_wear_off_after_the_peak():
    for name, prior in PRIORS.areas.items():
        assert prior.source, name
        assert prior.median_days > prior.peak_days + PRIORS.min_days_after_peak, name
        assert 0 < prior.sd_log_cycle and 0 < prior.sd_log_person, name
        for product, p in prior.products.items():
            assert p.source and p.reference_units > 0, (name, product)


def test_covariates_move_the_median_the_published_way_and_modestly():
    base = mu()
    assert mu(units=40) > base, "a higher dose lasts longer (S47, S48)"
    assert mu(units=40) - base < math.log(1.35), "but modestly"
    assert mu(units=1000) == mu(units=20 * PRIORS.dose_ratio_range[1]), "no extrapolation"
    assert mu(sex="male") < base, "shorter in men (S42)"
    assert mu(earlier=10) == mu(earlier=GLABELLA.repeat_max_cycles) > base, "improves over repeat cycles, capped"
    assert mu(product="daxibotulinumtoxinA", units=40) > base, "daxibotulinumtoxinA lasts longer (S50)"
    # An off-label product without a reference dose gets the area's median, no dose effect.
    assert mu(prior=PRIORS.areas["platysma"], product="abobotulinumtoxinA", units=500) == pytest.approx(
        math.log(PRIORS.areas["platysma"].median_days))


# --- the posterior ---

def solve_one(cycles, prior=GLABELLA):
    """cycles: list of dicts with optional 'photos' [(t, y)] and 'checkins' [(t, bool)];
    the last one is current. Returns the quantiles (days) at LEVELS."""
    batch = WearoffBatch(PRIORS)
    slot = batch.add_area(prior.sd_log_person, prior.sd_log_cycle)
    _add(batch, slot, cycles, prior)
    return batch.solve(LEVELS)[0]


def _add(batch, slot, cycles, prior):
    for j, c in enumerate(cycles):
        cyc = batch.add_cycle(slot, c.get("mu", mu(prior=prior)), prior, j == len(cycles) - 1)
        if c.get("photos"):
            # Wrinkle index 1.0 on the treatment day (day 0), then 1 - improvement.
            t, y = zip(*c["photos"])
            batch.add_readings(cyc, "wrinkle_index", 0, list(t), [1.0 - v for v in y], baseline=1.0)
        if c.get("checkins"):
            t, v = zip(*c["checkins"])
            batch.add_checkins(cyc, 0, list(t), list(v))


def photos(D, days, amplitude=0.55, prior=GLABELLA):
    """Noise-free photo readings (improvement over the treatment-day photo)."""
    return [(t, float(amplitude * curve(t, D, prior))) for t in days]


def test_with_no_personal_data_it_forecasts_the_population_prior():
    q = solve_one([{}])
    median = GLABELLA.median_days
    assert q[2] == pytest.approx(median, rel=0.01)
    # The central 80% interval of a log-normal with the prior's total spread.
    sd = math.hypot(GLABELLA.sd_log_person, GLABELLA.sd_log_cycle)
    assert q[0] == pytest.approx(median * math.exp(-1.2816 * sd), rel=0.02)
    assert q[3] == pytest.approx(median * math.exp(1.2816 * sd), rel=0.02)


def test_past_cycles_without_readings_change_nothing():
    assert solve_one([{}, {}, {}]) == pytest.approx(solve_one([{}]))


def test_more_data_narrows_the_interval_and_finds_the_patient():
    true_D = 100.0
    width = []
    medians = []
    for n_earlier in (0, 1, 3):
        cycles = [{"photos": photos(true_D, [14, 40, 70, 100, 130])} for _ in range(n_earlier)]
        cycles.append({"photos": photos(true_D, [14, 40, 70])})
        q = solve_one(cycles)
        width.append(q[3] - q[0])
        medians.append(q[2])
    prior = solve_one([{}])
    assert width[0] < prior[3] - prior[0]
    assert width[0] > width[1] > width[2]
    assert abs(medians[2] - true_D) < abs(prior[2] - true_D) / 3


def test_a_patient_who_wears_off_early_every_time_is_forecast_early():
    early = [{"checkins": [(60, False), (75, False), (95, True), (110, True)]} for _ in range(3)]
    q = solve_one(early + [{}])
    prior = solve_one([{}])
    assert q[2] < prior[2] - 15
    assert 75 < q[2] < 110


def test_a_retreatment_before_wear_off_is_censoring_not_a_wear_off():
    # Three cycles cut short at day 80 with the effect still full on the treatment day:
    # they rule out an early wear-off; they must not pull the forecast towards day 80.
    cut = [{"photos": photos(1000.0, [14, 50, 80])} for _ in range(3)]
    q = solve_one(cut + [{}])
    prior = solve_one([{}])
    assert q[2] >= prior[2]
    assert q[0] > prior[0], "the early tail is ruled out"


def test_the_wear_off_day_is_always_after_the_peak():
    # A patient who says it wore off on day 2 (before the peak) every time.
    q = solve_one([{"checkins": [(2, True), (5, True)]} for _ in range(4)])
    assert q[0] >= GLABELLA.peak_days + PRIORS.min_days_after_peak
    assert np.all(np.diff(q) >= 0)


def test_readings_the_curve_cannot_explain_fall_back_safely():
    wild = [{"photos": [(t, 1e6 * (-1) ** t) for t in range(10, 200, 7)]}]
    q = solve_one(wild)
    assert np.all(np.isfinite(q)) and np.all(np.diff(q) >= 0)


def test_a_batch_gives_the_same_answers_as_one_at_a_time():
    areas = [
        (GLABELLA, [{"photos": photos(110, [14, 60, 100])}, {"photos": photos(120, [20, 90])}]),
        (PRIORS.areas["cervical_dystonia"], [{"mu": mu(prior=PRIORS.areas["cervical_dystonia"])}]),
        (GLABELLA, [{"checkins": [(100, True)]}, {}]),
    ]
    batch = WearoffBatch(PRIORS)
    for prior, cycles in areas:
        _add(batch, batch.add_area(prior.sd_log_person, prior.sd_log_cycle), cycles, prior)
    together = batch.solve(LEVELS)
    for row, (prior, cycles) in zip(together, areas):
        assert row == pytest.approx(solve_one(cycles, prior))


# --- what a reading says (the rule the model and the effect chart share) ---

def test_the_effect_of_a_reading_is_its_change_in_units_of_the_baseline_for_every_kind():
    m = PRIORS.measures
    assert m["wrinkle_index"].effect(0.10, 0.40) == pytest.approx(0.75)  # 1 - value / baseline
    assert m["fws_grade"].effect(1, 3) == pytest.approx(2 / 3)  # (baseline - value) / baseline
    assert m["headache_days"].effect(6, 18) == pytest.approx(2 / 3)
    assert m["symptom_score"].effect(30, 40) == pytest.approx(0.25)
    # Worse than untreated counts at most one baseline's worth, as the model counts it:
    # 9 -> 27 headache days is -100%, not -200%; lines "tripled" on a botched photo too.
    assert m["headache_days"].effect(27, 9) == -1.0
    assert m["wrinkle_index"].effect(1.20, 0.40) == -1.0
    # The rule follows the priors file: a difference kind not relative to its baseline
    # is read in its own units.
    absolute = dataclasses.replace(m["symptom_score"], relative=False)
    assert absolute.effect(39.5, 40) == pytest.approx(0.5)


def test_the_effect_is_what_the_model_reads_from_each_reading():
    # The model's own y per reading (WearoffBatch), divided by its amplitude's scale, is
    # MeasurePrior.effect of that reading: the effect chart cannot read one differently.
    cases = [("wrinkle_index", 0.40, [0.10, 0.30, 1.30]), ("fws_grade", 3, [1, 3, 0]),
             ("headache_days", 18, [6, 17, 40]), ("symptom_score", 40, [30, 52, 95])]
    batch = WearoffBatch(PRIORS)
    slot = batch.add_area(GLABELLA.sd_log_person, GLABELLA.sd_log_cycle)
    cycle = batch.add_cycle(slot, mu(), GLABELLA, True)
    for kind, base, values in cases:
        batch.add_readings(cycle, kind, 0, [20, 60, 100], values, base)
    _, _, _, y = batch._series()
    m = PRIORS.measures
    expected = [m[kind].effect(v, base) * (base if m[kind].relative else 1.0)
                for kind, base, values in cases for v in values]
    assert y.tolist() == pytest.approx(expected)
    assert min(y[:3]) == -1.0 and min(y[6:9]) == -18  # clipped at one baseline
