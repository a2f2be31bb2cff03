"""The maintenance forecast per area (touchup.core.forecast)."""

import dataclasses
import datetime as dt
import math

import pytest

from touchup.core.catalogue import load_catalogue
from touchup.core.forecast import (
    Baseline,
    Forecast,
    RetreatmentRule,
    earliest_allowed,
    forecast,
    forecast_many,
    reading_baselines,
)
from touchup.core.history import parse_history
from touchup.core.wearoff import improvement, load_priors

PRIORS = load_priors()
CATALOGUE = load_catalogue()
ONA = "onabotulinumtoxinA"
D = dt.date.fromisoformat


def treatment(date, *areas, product=ONA, indication=None):
    """areas: (area, units) pairs."""
    indication = indication or next(
        k for k, v in CATALOGUE.indications.items() if set(a for a, _ in areas) <= set(v.areas)
    )
    return {"date": date, "product": product, "indication": indication,
            "areas": [{"area": a, "units": u} for a, u in areas]}


def history(treatments, observations=(), as_of="2026-05-01", sex="female"):
    return parse_history({"as_of": as_of, "patient": {"sex": sex}, "treatments": list(treatments),
                          "observations": list(observations)})


def obs(date, area, kind, value):
    return {"date": date, "area": area, "kind": kind, "value": value}


def days(a, b):
    return (b - a).days


def test_it_gives_one_entry_per_area_of_its_most_recent_treatment_most_recent_first():
    h = history([
        treatment("2025-06-01", ("glabella", 20), ("crows_feet", 24), indication="upper_face_lines"),
        treatment("2025-11-01", ("glabella", 20)),
        treatment("2026-02-01", ("migraine", 155)),
    ])
    f = forecast(h)
    assert isinstance(f, Forecast)
    assert [a.area for a in f.areas] == ["migraine", "glabella", "crows_feet"]
    assert [a.treatment_date for a in f.areas] == [D("2026-02-01"), D("2025-11-01"), D("2025-06-01")]


def test_with_no_personal_data_it_forecasts_the_population_median():
    for area, units in (("glabella", 20), ("forehead", 20), ("cervical_dystonia", 236)):
        a = forecast(history([treatment("2026-02-10", (area, units))])).areas[0]
        median = PRIORS.areas[area].median_for(ONA)
        assert abs(days(a.treatment_date, a.wear_off_date) - median) <= 1
        assert a.basis == "population prior only (no personal data yet)"


def test_the_dates_are_in_a_sensible_order():
    a = forecast(history([treatment("2026-02-10", ("glabella", 20))])).areas[0]
    lo, hi = a.wear_off_interval
    assert a.treatment_date < lo < a.wear_off_date < hi
    assert lo <= a.book_from <= a.book_by == a.wear_off_date
    assert a.book_from >= a.earliest_allowed
    peak = PRIORS.areas["glabella"].peak_days
    assert days(a.treatment_date, lo) > peak, "wear-off is after the peak"


def test_photos_of_a_patient_who_wears_off_early_bring_the_date_forward():
    # Three earlier cycles photographed until the lines came back, each wearing off
    # around day 90; the median for this product and area is longer.
    prior = PRIORS.areas["glabella"]
    def wrinkles(t):  # 0.40 untreated, 60% fewer lines at the peak, wearing off on day 90
        f = improvement(t, 90, prior.peak_days, prior.rise_shape, prior.decline_shape)
        return round(0.40 * (1 - 0.6 * float(f)), 4)

    treatments, observations = [], []
    start = D("2024-01-01")
    for cycle in range(4):
        t0 = start + dt.timedelta(days=130 * cycle)
        treatments.append(treatment(t0.isoformat(), ("glabella", 20)))
        # Before the injections: what is left of the previous cycle's effect after 130 days.
        observations.append(obs(t0.isoformat(), "glabella", "wrinkle_index", wrinkles(130) if cycle else 0.40))
        if cycle < 3:
            for t in (14, 45, 75, 100, 125):
                observations.append(obs((t0 + dt.timedelta(days=t)).isoformat(), "glabella",
                                        "wrinkle_index", wrinkles(t)))
    as_of = D(treatments[-1]["date"]) + dt.timedelta(days=20)
    h = history(treatments, observations, as_of=as_of.isoformat())
    a = forecast(h).areas[0]
    no_data = forecast(history(treatments, as_of=as_of.isoformat())).areas[0]
    model = days(a.treatment_date, a.wear_off_date)
    prior_only = days(no_data.treatment_date, no_data.wear_off_date)
    assert model < prior_only - 20
    assert abs(model - 90) < abs(model - prior_only), "closer to the patient's own than to the population's"
    narrow = days(*a.wear_off_interval)
    assert narrow < days(*no_data.wear_off_interval) / 2
    assert a.basis.startswith("3 earlier cycles")


def test_coming_back_early_every_time_is_not_read_as_wearing_off_early():
    # Retreated every 90 days with the effect still full (photos and "not wearing off"
    # check-ins): right-censored cycles. The forecast must not move towards day 90.
    treatments, observations = [], []
    start = D("2024-01-01")
    for cycle in range(4):
        t0 = start + dt.timedelta(days=90 * cycle)
        treatments.append(treatment(t0.isoformat(), ("glabella", 20)))
        observations.append(obs(t0.isoformat(), "glabella", "wrinkle_index", 0.40 if cycle == 0 else 0.18))
        if cycle < 3:
            for t in (20, 60, 85):
                day = (t0 + dt.timedelta(days=t)).isoformat()
                observations.append(obs(day, "glabella", "wrinkle_index", 0.17))
                observations.append(obs(day, "glabella", "wearing_off_reported", False))
    as_of = (D(treatments[-1]["date"]) + dt.timedelta(days=10)).isoformat()
    a = forecast(history(treatments, observations, as_of=as_of)).areas[0]
    no_data = forecast(history(treatments, as_of=as_of)).areas[0]
    assert a.wear_off_date >= no_data.wear_off_date
    assert a.wear_off_interval[0] >= no_data.wear_off_interval[0]


def _second_cycle(treatment_day_photo):
    """An untreated first photo (0.40); the return on day 100 photographed at
    `treatment_day_photo`; this cycle 60% fewer lines on days 14 and 70, and on day 100
    the lines back to 0.30 (a quarter of the effect left against untreated)."""
    treatments = [treatment("2025-06-01", ("glabella", 20)), treatment("2025-09-09", ("glabella", 20))]
    observations = [obs("2025-06-01", "glabella", "wrinkle_index", 0.40),
                    obs("2025-09-09", "glabella", "wrinkle_index", treatment_day_photo)]
    for day, value in ((14, 0.16), (70, 0.16), (100, 0.30)):
        observations.append(obs((D("2025-09-09") + dt.timedelta(days=day)).isoformat(), "glabella",
                                "wrinkle_index", value))
    return forecast(history(treatments, observations, as_of="2025-12-19")).areas[0]


def test_later_cycles_are_read_against_the_untreated_reference():
    # How much of the first cycle the treatment-day photo still shows (0.22: much, 0.34:
    # little) must not decide how this cycle's photos read: against the untreated 0.40,
    # day 100 has half the peak's effect or less, so it has worn off by about then.
    for photo in (0.22, 0.34):
        a = _second_cycle(photo)
        assert 90 <= days(a.treatment_date, a.wear_off_date) <= 110, photo


def test_photos_without_a_treatment_day_photo_are_read_against_the_reference():
    treatments = [treatment("2025-06-01", ("glabella", 20)), treatment("2025-10-01", ("glabella", 20))]
    observations = [obs("2025-06-01", "glabella", "wrinkle_index", 0.40),
                    obs("2025-11-01", "glabella", "wrinkle_index", 0.2)]
    a = forecast(history(treatments, observations, as_of="2025-11-02")).areas[0]
    assert a.basis == "1 photo this cycle"


def _two_cycles(gap_days, second_photo=0.22):
    second = (D("2025-06-01") + dt.timedelta(days=gap_days)).isoformat()
    after = (D(second) + dt.timedelta(days=20)).isoformat()
    return history(
        [treatment("2025-06-01", ("glabella", 20)), treatment(second, ("glabella", 20))],
        [obs("2025-06-01", "glabella", "wrinkle_index", 0.40), obs("2025-06-21", "glabella", "wrinkle_index", 0.12),
         obs(second, "glabella", "wrinkle_index", second_photo), obs(after, "glabella", "wrinkle_index", 0.15)],
        as_of=(D(second) + dt.timedelta(days=30)).isoformat(),
    ), D(second)


def test_reading_baselines_give_a_return_before_wear_off_the_untreated_reference():
    h, second = _two_cycles(100)
    assert reading_baselines(h) == {
        ("glabella", "wrinkle_index", D("2025-06-01")): Baseline(0.40, D("2025-06-01"), reference=False),
        # The treatment-day photo (0.22) is still flattered by the first cycle.
        ("glabella", "wrinkle_index", second): Baseline(0.40, D("2025-06-01"), reference=True),
    }


def test_reading_baselines_re_base_after_a_long_break():
    h, second = _two_cycles(400, second_photo=0.42)
    assert reading_baselines(h)[("glabella", "wrinkle_index", second)] == Baseline(0.42, second, reference=False)


def test_reading_baselines_follow_the_priors_residual_threshold():
    # The same return on day 100 counts as worn off when any residual is allowed: the rule
    # is the model's, read from the priors, not a copy of it.
    h, second = _two_cycles(100)
    lax = dataclasses.replace(PRIORS, reference_residual_max=1.0)
    assert reading_baselines(h, priors=lax)[("glabella", "wrinkle_index", second)] == Baseline(0.22, second, False)


def test_reading_baselines_name_the_diary_they_were_read_against():
    # A diary is read against the latest one on or before the treatment day: its own date,
    # which a chart shows, need not be a treatment day.
    h = history(
        [treatment("2025-06-01", ("migraine", 155)), treatment("2025-08-15", ("migraine", 155)),
         treatment("2026-06-01", ("migraine", 155)), treatment("2026-08-01", ("migraine", 155))],
        [obs("2025-06-01", "migraine", "headache_days", 18), obs("2025-07-01", "migraine", "headache_days", 8),
         obs("2025-08-14", "migraine", "headache_days", 9), obs("2025-09-20", "migraine", "headache_days", 6),
         obs("2026-05-20", "migraine", "headache_days", 17), obs("2026-06-20", "migraine", "headache_days", 7),
         obs("2026-07-31", "migraine", "headache_days", 8), obs("2026-08-20", "migraine", "headache_days", 6)],
        as_of="2026-08-25",
    )
    assert reading_baselines(h) == {
        ("migraine", "headache_days", D("2025-06-01")): Baseline(18, D("2025-06-01"), False),
        ("migraine", "headache_days", D("2025-08-15")): Baseline(18, D("2025-06-01"), True),
        # After the long break the diary of 20 May is the new reference.
        ("migraine", "headache_days", D("2026-06-01")): Baseline(17, D("2026-05-20"), False),
        ("migraine", "headache_days", D("2026-08-01")): Baseline(17, D("2026-05-20"), True),
    }


def test_the_basis_says_what_the_forecast_rests_on():
    treatments = [treatment("2025-09-01", ("glabella", 20)), treatment("2026-02-10", ("glabella", 20))]
    observations = [
        obs("2025-09-01", "glabella", "wrinkle_index", 0.4),
        obs("2025-12-20", "glabella", "wearing_off_reported", True),
        obs("2026-02-10", "glabella", "wrinkle_index", 0.41),
        obs("2026-02-24", "glabella", "wrinkle_index", 0.2),
        obs("2026-03-24", "glabella", "wrinkle_index", 0.21),
        obs("2026-04-01", "glabella", "wearing_off_reported", False),
    ]
    a = forecast(history(treatments, observations)).areas[0]
    assert a.basis == "1 earlier cycle, 2 photos, 1 check-in this cycle"


def test_the_basis_flags_photos_without_a_treatment_day_photo():
    h = history([treatment("2026-02-10", ("glabella", 20))],
                [obs("2026-03-01", "glabella", "wrinkle_index", 0.2)])
    basis = forecast(h).areas[0].basis
    assert basis.startswith("population prior only") and "photos not used" in basis


def test_headache_diaries_and_symptom_scores_are_used():
    h = history(
        [treatment("2026-01-05", ("migraine", 155)), treatment("2026-01-05", ("cervical_dystonia", 240))],
        [obs("2026-01-05", "migraine", "headache_days", 20), obs("2026-02-04", "migraine", "headache_days", 12),
         obs("2026-03-06", "migraine", "headache_days", 9), obs("2026-04-05", "migraine", "headache_days", 19),
         obs("2026-01-05", "cervical_dystonia", "symptom_score", 40),
         obs("2026-02-10", "cervical_dystonia", "symptom_score", 26)],
        as_of="2026-04-06",
    )
    by_area = {a.area: a for a in forecast(h).areas}
    assert by_area["migraine"].basis == "3 headache diaries this cycle"
    assert by_area["cervical_dystonia"].basis == "1 symptom score this cycle"
    # Headache days back near baseline by day 90 after a good response: worn off already.
    prior_median = PRIORS.areas["migraine"].median_for(ONA)
    assert days(by_area["migraine"].treatment_date, by_area["migraine"].wear_off_date) < prior_median


def test_forecast_many_matches_one_at_a_time_in_order():
    hs = [
        history([treatment("2026-02-10", ("glabella", 20))]),
        history([treatment("2025-10-01", ("glabella", 20)), treatment("2026-01-10", ("glabella", 20))],
                [obs("2025-12-01", "glabella", "wearing_off_reported", True)]),
        history([treatment("2026-03-01", ("cervical_dystonia", 300))], sex="male"),
    ]
    assert forecast_many(hs) == [forecast(h) for h in hs]


# --- earliest_allowed ---

def test_earliest_allowed_is_the_minimum_retreatment_interval_after_the_last_treatment():
    for product, area, units in ((ONA, "glabella", 20), ("daxibotulinumtoxinA", "glabella", 40),
                                 ("abobotulinumtoxinA", "cervical_dystonia", 500)):
        h = history([treatment("2025-06-01", (area, units), product=product),
                     treatment("2026-01-15", (area, units), product=product)])
        a = forecast(h).areas[0]
        # The indication's interval where it has one (cervical dystonia: 84 days), else the
        # product's (90): what the chart's safety check allows.
        min_days = CATALOGUE.min_retreatment_days(product, h.treatments[-1].indication)
        assert a.earliest_allowed == D("2026-01-15") + dt.timedelta(days=min_days)
    assert min_days == 84


def test_earliest_allowed_waits_until_the_typical_dose_fits_the_cumulative_limit():
    product = CATALOGUE.products[ONA]
    if product.cumulative_limit_units is None:
        pytest.skip("the catalogue sets no cumulative limit for onabotulinumtoxinA")
    limit, window = product.cumulative_limit_units, product.cumulative_window_days
    # Glabella 20 U, then a large cervical-dystonia dose a month later: 20 more units on
    # the glabella's earliest day would break the limit until the big dose leaves the window.
    big = limit - 10
    h = history([treatment("2026-01-01", ("glabella", 20)), treatment("2026-01-31", ("cervical_dystonia", big))])
    by_area = {a.area: a for a in forecast(h).areas}
    assert by_area["glabella"].earliest_allowed == D("2026-01-31") + dt.timedelta(days=window)
    # Exactly at the limit is allowed: no wait beyond the minimum interval.
    h = history([treatment("2026-01-01", ("glabella", 20)), treatment("2026-01-31", ("cervical_dystonia", limit - 20))])
    by_area = {a.area: a for a in forecast(h).areas}
    assert by_area["glabella"].earliest_allowed == D("2026-01-01") + dt.timedelta(days=product.min_retreatment_days)


def test_earliest_allowed_counts_only_the_same_product_and_every_window_around_the_day():
    rules = {"a": RetreatmentRule(10, 100, 30), "b": RetreatmentRule(10)}
    hist = history([treatment("2026-01-01", ("glabella", 20))])
    tr = [
        type(hist.treatments[0])(D("2026-01-01"), "a", "glabellar_lines", hist.treatments[0].areas),
        type(hist.treatments[0])(D("2026-01-05"), "b", "chronic_migraine", (type(hist.treatments[0].areas[0])("migraine", 500),)),
        type(hist.treatments[0])(D("2026-01-20"), "a", "chronic_migraine", (type(hist.treatments[0].areas[0])("migraine", 70),)),
    ]
    # Day 11 (Jan 11) would put 20 + 70 (Jan 20, inside the window after it) + 20 (Jan 1,
    # inside the window before it) = 110 > 100: wait until Jan 1 leaves (Jan 31).
    assert earliest_allowed(tr, "glabella", rules) == D("2026-01-31")
    # Product b has no limit: its 500 U change nothing for b's own area.
    assert earliest_allowed(tr[:2], "migraine", rules) == D("2026-01-15")
    assert earliest_allowed(tr[:1], "glabella", rules) == D("2026-01-11")
    # A dose over the limit on its own can only go once the window is clear.
    big = [type(tr[0])(D("2026-01-01"), "a", "glabellar_lines", (type(tr[0].areas[0])("glabella", 150),))]
    assert earliest_allowed(big, "glabella", rules) == D("2026-01-31")
    assert math.isclose(rules["a"].cumulative_limit_units, 100)


def test_a_window_that_the_interval_rule_squeezes_still_stays_open_a_week():
    """Chronic migraine wears off around the 12-week minimum interval: the window starts
    at the earliest allowed day and stays bookable (catalogue practice.toml)."""
    a = forecast(history([treatment("2026-01-05", ("migraine", 155), indication="chronic_migraine")])).areas[0]
    assert a.book_from >= a.earliest_allowed
    assert days(a.book_from, a.book_by) >= CATALOGUE.practice.min_booking_window_days


@pytest.mark.parametrize("indication", sorted(CATALOGUE.indications))
def test_earliest_allowed_is_the_interval_the_charts_safety_check_applies(indication):
    """The forecast may not open a window the chart's safety check would refuse, nor keep it
    shut after the check allows the treatment: both take the indication's interval where the
    label gives one (chronic migraine, cervical dystonia: 12 weeks), else the product's."""
    ind = CATALOGUE.indications[indication]
    area = ind.areas[0]
    for product in ind.labelled_products:
        units = ind.label_units.get(product, 20)
        h = history([treatment("2026-01-05", (area, units), product=product, indication=indication)])
        got = next(a for a in forecast(h).areas if a.area == area).earliest_allowed
        assert days(D("2026-01-05"), got) == CATALOGUE.min_retreatment_days(product, indication), (indication, product)
