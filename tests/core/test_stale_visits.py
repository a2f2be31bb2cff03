"""The rule for a booked maintenance visit that a later treatment made too early."""

import datetime as dt

import pytest

from touchup.core.stale_visits import AreaTreated, interval_earliest, stale_visit

D = dt.date
TODAY = D(2026, 11, 26)


def check(areas=("glabella",), treated=(), *, visit=D(2026, 12, 1), booked=D(2026, 10, 20), today=TODAY):
    return stale_visit(visit_day=visit, booked_on=booked, areas=list(areas), treated=treated, today=today)


def glabella_today(earliest=D(2027, 2, 24)):
    return AreaTreated("glabella", TODAY, earliest)


def test_a_visit_whose_only_area_was_treated_since_booking_is_stale_with_the_new_dates():
    s = check(treated=[glabella_today()])
    assert s is not None and not s.partly
    assert s.areas == ("glabella",) and s.treated_on == TODAY and s.earliest_allowed == D(2027, 2, 24)
    assert s.staff_notice() == ("Booked before the treatment on 26 Nov 2026; glabella (frown lines) cannot be "
                                "treated again before 24 Feb 2027. Cancel it or move it into the new window.")
    assert s.day_label() == "treated since booking"
    assert s.signing_notice("Chloe", "Tue 1 Dec") == ("Chloe has a maintenance visit on Tue 1 Dec for this area: "
                                                      "it is now too early. Cancel it?")
    assert "Your clinic will confirm whether you still need this visit" in s.patient_notice()
    assert "26 November 2026" in s.patient_notice()


def test_a_visit_for_two_areas_after_one_was_treated_is_partly_stale_and_says_which():
    s = check(areas=("forehead", "glabella"), treated=[glabella_today()])
    assert s.partly and s.areas == ("glabella",) and s.still_for == ("forehead",)
    assert "still of use for forehead only" in s.staff_notice()
    assert s.day_label() == "glabella (frown lines) treated since booking"
    assert "too early for glabella (frown lines)" in s.signing_notice("Chloe", "Tue 1 Dec")


def test_every_area_treated_since_makes_it_wholly_stale_with_the_latest_earliest_day():
    s = check(areas=("forehead", "glabella"),
              treated=[glabella_today(), AreaTreated("forehead", TODAY, D(2027, 3, 1))])
    assert not s.partly and s.earliest_allowed == D(2027, 3, 1)
    assert "forehead cannot be treated again before 1 Mar 2027" in s.staff_notice()


@pytest.mark.parametrize("case, kwargs", [
    ("treated before it was booked", dict(booked=D(2026, 11, 27), today=D(2026, 11, 27))),
    ("the visit is past", dict(visit=D(2026, 11, 25))),
    ("the visit is after the new earliest day", dict(visit=D(2027, 2, 24))),
    ("another area was treated", dict(areas=("forehead",))),
    ("a visit without areas", dict(areas=())),
])
def test_not_stale_when(case, kwargs):
    assert check(treated=[glabella_today()], **kwargs) is None, case


def test_treated_on_the_day_it_was_booked_counts_and_on_the_visits_own_day_does_not():
    assert check(treated=[glabella_today()], booked=TODAY) is not None
    # The patient came early for the booked visit itself: not a treatment "since".
    assert check(treated=[glabella_today()], visit=TODAY, booked=D(2026, 10, 1)) is None


def test_a_visit_today_after_a_treatment_yesterday_is_stale():
    yesterday = AreaTreated("glabella", TODAY - dt.timedelta(days=1), D(2027, 2, 23))
    assert check(treated=[yesterday], visit=TODAY) is not None


def test_interval_earliest_is_the_labels_minimum_interval():
    assert interval_earliest(TODAY, "onabotulinumtoxinA", "glabellar_lines") == TODAY + dt.timedelta(days=90)
    assert interval_earliest(TODAY, "onabotulinumtoxinA", "chronic_migraine") == TODAY + dt.timedelta(weeks=12)
