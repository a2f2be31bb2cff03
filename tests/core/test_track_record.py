"""The forecast's track record on a clinic's own cycles (touchup.core.track_record)."""

import dataclasses
import datetime as dt

from touchup.core.forecast import forecast
from touchup.core.history import History, parse_history
from touchup.core.track_record import MAX_GAP_DAYS, track_record
from touchup.core.wearoff import load_priors

PRIORS = load_priors()
ONA = "onabotulinumtoxinA"
A = dt.date(2025, 1, 1)
GLABELLA_N = round(PRIORS.areas["glabella"].median_for(ONA))  # the fixed rule: 130 days
PLATYSMA_N = round(PRIORS.areas["platysma"].median_for(ONA))


def day(n: int) -> str:
    return (A + dt.timedelta(days=n)).isoformat()


def treatment(n, area="glabella", units=20, indication="glabellar_lines"):
    return {"date": day(n), "product": ONA, "indication": indication, "areas": [{"area": area, "units": units}]}


def obs(n, kind, value, area="glabella"):
    return {"date": day(n), "area": area, "kind": kind, "value": value}


def checkins(*answers, area="glabella"):
    """(day, yes) pairs."""
    return [obs(n, "wearing_off_reported", yes, area) for n, yes in answers]


def history(treatments, observations=(), as_of=400):
    return parse_history({"as_of": day(as_of), "patient": {"sex": "female"}, "treatments": treatments,
                          "observations": list(observations)})


def cut(h: History, n: int) -> History:
    """What the product would have known on day n (written out here, not taken from the module)."""
    d = A + dt.timedelta(days=n)
    return dataclasses.replace(h, as_of=d, treatments=tuple(t for t in h.treatments if t.date <= d),
                               observations=tuple(o for o in h.observations if o.date <= d))


def test_no_histories_and_no_completed_cycles_give_an_empty_report_that_says_so():
    assert track_record([]).empty and "No treatments yet" in track_record([]).reason
    # One cycle still running, one that ended with nobody asking: nothing observed.
    report = track_record([history([treatment(0), treatment(150)], as_of=200)])
    assert report.empty and not report.cycles
    assert "No completed cycle with an observed wear-off" in report.reason
    (glabella,) = report.areas
    assert (glabella.cycles, glabella.not_measured, glabella.running) == (0, 1, 1)
    assert glabella.mae_model is None and glabella.ratio is None and glabella.coverage is None
    assert report.to_json()["overall"]["cycles"] == 0


def test_a_reported_wear_off_is_scored_against_the_forecast_from_the_cut_and_the_fixed_rule():
    # "No" on day 100, "yes" on day 120 (20 days apart): worn off on day 120; back on day 160.
    h = history([treatment(0), treatment(160)], checkins((100, False), (120, True)), as_of=200)
    report = track_record([h])
    (c,) = report.cycles
    assert (c.treatment_date, c.observed, c.source) == (A, A + dt.timedelta(days=120), "wearing_off_reported")
    assert c.cut_date == A + dt.timedelta(days=21)  # the glabella's peak day
    expected = forecast(cut(h, 21)).areas[0]
    assert c.wear_off_date == expected.wear_off_date and c.wear_off_interval == expected.wear_off_interval
    (g,) = report.areas
    assert g.cycles == 1 and g.running == 1  # the second cycle has nothing yet
    assert g.fixed_days == (GLABELLA_N,)
    assert g.mae_fixed == abs(GLABELLA_N - 120)
    assert g.mae_model == abs((expected.wear_off_date - A).days - 120)
    assert g.ratio == g.mae_model / g.mae_fixed
    lo, hi = ((d - A).days for d in expected.wear_off_interval)
    assert g.coverage == (1.0 if lo <= 120 <= hi else 0.0)
    assert g.mae_best_fixed == 0  # one cycle: its own duration is the best N in hindsight


def test_a_cycle_that_wore_off_before_its_cut_is_not_used():
    # Reported on day 15, before the cut on day 21: the cut history would contain it.
    h = history([treatment(0), treatment(90)], checkins((8, False), (15, True)), as_of=100)
    report = track_record([h])
    assert report.empty
    assert report.areas[0].before_cut == 1 and report.areas[0].cycles == 0


def test_nothing_after_the_cut_reaches_the_forecast():
    base = [treatment(0), treatment(160)]
    seen = checkins((100, False), (120, True))
    plain = track_record([history(base, seen, as_of=200)]).cycles[0]
    # The same cycle with photos after the cut that show the effect gone early: the
    # observed day may move, the forecast from the cut must not.
    photos = [obs(0, "wrinkle_index", 0.4), obs(14, "wrinkle_index", 0.2),
              obs(40, "wrinkle_index", 0.38), obs(60, "wrinkle_index", 0.4)]
    more = track_record([history(base, seen + photos, as_of=200)]).cycles[0]
    assert more.observed == A + dt.timedelta(days=40) and more.source == "wrinkle_index"
    without = track_record([history(base, seen + photos[:2], as_of=200)]).cycles[0]
    assert without.observed == plain.observed  # only the check-ins date it now
    assert more.wear_off_date == without.wear_off_date
    assert more.wear_off_interval == without.wear_off_interval


def test_a_photo_at_half_of_the_measured_peak_dates_the_wear_off():
    # Baseline 0.40; day 14: 0.20 (effect 0.50, the peak); day 70: 0.28 (0.30, above half);
    # day 95: 0.31 (0.225 <= 0.25): worn off on day 95.
    photos = [obs(0, "wrinkle_index", 0.40), obs(14, "wrinkle_index", 0.20),
              obs(70, "wrinkle_index", 0.28), obs(95, "wrinkle_index", 0.31)]
    (c,) = track_record([history([treatment(0), treatment(130)], photos, as_of=140)]).cycles
    assert c.observed == A + dt.timedelta(days=95) and c.source == "wrinkle_index"
    assert c.fixed_error == GLABELLA_N - 95


def test_undated_or_contradicted_wear_offs_are_not_measured():
    too_far = [obs(0, "wrinkle_index", 0.40), obs(14, "wrinkle_index", 0.20),
               obs(14 + MAX_GAP_DAYS + 1, "wrinkle_index", 0.40)]
    no_peak = [obs(0, "wrinkle_index", 0.40), obs(14, "wrinkle_index", 0.36), obs(60, "wrinkle_index", 0.40)]
    first_answer_yes = checkins((100, True))
    taken_back = checkins((90, False), (100, True), (110, False))
    for seen in (too_far, no_peak, first_answer_yes, taken_back):
        report = track_record([history([treatment(0), treatment(130)], seen, as_of=140)])
        assert report.empty and report.areas[0].not_measured == 1, seen


def test_per_area_and_overall():
    g = history([treatment(0), treatment(160)], checkins((100, False), (120, True)), as_of=200)
    p = history([treatment(0, "platysma", 30, "platysma_bands"), treatment(150, "platysma", 30, "platysma_bands")],
                checkins((80, False), (90, True), area="platysma"), as_of=200)
    report = track_record([g, p])
    by_area = {a.area: a for a in report.areas}
    assert set(by_area) == {"glabella", "platysma"}
    assert by_area["platysma"].mae_fixed == abs(PLATYSMA_N - 90)
    overall = report.overall
    assert overall.cycles == 2 and overall.running == 2
    assert overall.mae_fixed == (abs(GLABELLA_N - 120) + abs(PLATYSMA_N - 90)) / 2
    assert overall.mae_model == (by_area["glabella"].mae_model + by_area["platysma"].mae_model) / 2
    assert overall.mae_best_fixed == 0  # each area with its own best N
    assert overall.fixed_days == tuple(sorted({GLABELLA_N, PLATYSMA_N}))
    data = report.to_json()
    assert [a["area"] for a in data["areas"]] == ["glabella", "platysma"] and data["overall"]["cycles"] == 2
