"""The forecast benchmark's reminder timing (benchmarks/forecast_sim.py, "When the
maintenance reminder goes" in docs/forecast.md): when the product's maintenance reminder
goes, and how late or early a policy's reminders are against the true wear-off."""

import math

import pytest

from benchmarks import forecast_sim as sim


def test_the_reminder_goes_on_the_window_of_the_last_recompute_before_it():
    # Day 100 says "from 130", but day 110's answer moves it to 125, before the next
    # recompute on 126: it goes on 125, and day 126's forecast comes too late to matter.
    assert sim.reminder_from_recomputes([(100, 130), (110, 125), (126, 200)]) == 125
    # A recompute that opens the window in the past (a "yes") sends it that day.
    assert sim.reminder_from_recomputes([(100, 130), (120, 115)]) == 120
    # Due on the day of the next recompute: it goes at 10:00, before that day's reading.
    assert sim.reminder_from_recomputes([(100, 126), (126, 160)]) == 126
    # After the last recompute the forecast stands.
    assert sim.reminder_from_recomputes([(100, 130), (110, 140)]) == 140


def _cycle(wear_off, product, next_start, allowed=90, label=90):
    return sim.CycleTiming(start=1000, wear_off=1000 + wear_off, earliest_allowed=1000 + allowed,
                           next_start=1000 + next_start, reminders={"product": 1000 + product},
                           label_allowed=1000 + label)


def test_lateness_on_a_hand_made_set():
    cycles = [
        _cycle(wear_off=100, product=95, next_start=120),               # 5 days early
        _cycle(wear_off=80, product=100, next_start=100, label=84),     # 20 late; came back that day
        _cycle(wear_off=130, product=110, next_start=150),              # 20 early
        _cycle(wear_off=90, product=89, next_start=95, allowed=92),     # 1 early, before the rules allow
    ]
    t = sim.timing_stats(cycles, "product")
    assert t["n"] == 4
    assert t["median"] == -3  # of -20, -5, -1, +20
    assert t["mean_abs"] == pytest.approx((5 + 20 + 20 + 1) / 4)
    assert t["late"] == 0.25 and t["early"] == 0.25  # more than 14 days either way
    assert t["before_allowed"] == 0.25 and t["before_label"] == 0.25
    # Only the late side counts, per year of the cycles (120 + 100 + 150 + 95 days).
    assert t["late_days_per_year"] == pytest.approx(20 / (465 / 365.25))
    assert t["back_first"] == 0.25


def test_on_simulated_patients_the_product_never_reminds_before_the_rules_allow():
    sims = sim.simulate(40, 3, sim.VARIANTS["base"])
    timings = sim.reminder_timings(sims)
    assert len(timings) == sum(len(s.cycles) - 1 for s in sims) > 0
    cycles = [(s.cycles[j], s.cycles[j + 1][0]) for s in sims for j in range(len(s.cycles) - 1)]
    assert sorted((c.start, c.next_start) for c in timings) == sorted((c[0], n) for c, n in cycles)
    truth = {(start, n): start + min(math.ceil(D) for D in Ds.values()) for (start, Ds), n in cycles}
    for c in timings:
        assert c.wear_off == truth[c.start, c.next_start]
        assert c.earliest_allowed <= c.reminders["product"]
        assert c.reminders["90 days"] == c.start + 90
    assert sim.timing_stats(timings, "product")["before_allowed"] == 0
