"""The early wear-off report rule (touchup.core.early_report)."""

import datetime as dt

from touchup.core.early_report import early_report

D = dt.date
TREATED = D(2026, 10, 23)
# The demo patient's glabella forecast (touchup forecast, 20 U onabotulinumtoxinA).
INTERVAL = (D(2027, 1, 26), D(2027, 4, 21))
EARLIEST = D(2027, 1, 21)


def rule(checkins):
    return early_report("glabella", TREATED, INTERVAL, EARLIEST, checkins)


def test_a_yes_before_the_interval_is_an_early_report():
    r = rule([(D(2026, 11, 26), True)])
    assert r is not None
    assert (r.area, r.reported_on, r.days_after_treatment) == ("glabella", D(2026, 11, 26), 34)
    assert r.wear_off_interval == INTERVAL and r.earliest_allowed == EARLIEST
    assert r.staff_text() == (
        "Reported wearing off on 26 Nov, 34 days after the treatment: earlier than the forecast "
        "(26 Jan–21 Apr 2027). One early report moves the forecast little; a photo or a review visit will "
        "tell. Retreatment is not allowed before 21 Jan 2027.")


def test_yes_then_no_is_taken_back():
    assert rule([(D(2026, 11, 20), True), (D(2026, 11, 26), False)]) is None


def test_a_yes_inside_the_interval_is_not_early():
    assert rule([(INTERVAL[0], True)]) is None
    assert rule([(D(2027, 2, 10), True)]) is None
    # An early yes followed by one inside the interval: the latest answer decides.
    assert rule([(D(2026, 11, 26), True), (D(2027, 2, 10), True)]) is None


def test_three_yeses_are_one_report_dated_by_the_first():
    r = rule([(D(2026, 11, 10), False), (D(2026, 11, 26), True), (D(2026, 11, 28), True), (D(2026, 12, 1), True)])
    assert (r.reported_on, r.latest_on, r.answers) == (D(2026, 11, 26), D(2026, 12, 1), 3)
    assert "(3 check-ins, the latest on 1 Dec)" in r.staff_text()


def test_answers_of_one_day_count_in_recording_order():
    assert rule([(D(2026, 11, 26), True), (D(2026, 11, 26), False)]) is None
    assert rule([(D(2026, 11, 26), False), (D(2026, 11, 26), True)]) is not None


def test_check_ins_of_an_earlier_cycle_do_not_count():
    # Given on the treatment day, before the injections: the previous cycle's answer.
    assert rule([(TREATED, True)]) is None
    assert rule([(D(2026, 9, 1), True)]) is None
    assert rule([]) is None
