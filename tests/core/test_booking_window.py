"""touchup.core.booking: which days a patient may book online. The recommended window,
the clinic's later days after it, and never a day before earliest_allowed."""

import datetime as dt

import pytest

from touchup.core.booking import OVERDUE_DAYS, AreaDates, booking_window, window_without_forecast
from touchup.core.catalogue import load_catalogue

TODAY = dt.date(2027, 3, 1)


def d(days):
    return TODAY + dt.timedelta(days=days)


def test_the_policy_is_the_catalogues_with_its_source():
    practice = load_catalogue().practice
    assert practice.portal_booking_after_window_days == 28
    assert practice.sources["portal_booking_after_window_days"] == ("clinic_policy",)


def test_recommended_then_later_then_refused_after_the_limit():
    w = booking_window([AreaDates("glabella", d(10), d(24), d(5))], today=TODAY, after_days=28)
    assert (w.start, w.end, w.last) == (d(10), d(24), d(52)) and not w.overdue
    assert w.refusal(d(10)) is None and not w.is_later(d(24))
    assert w.refusal(d(25)) is None and w.is_later(d(25))
    assert w.refusal(d(52)) is None and w.is_later(d(52))
    assert w.refusal(d(53)) == ("is after 22 April 2027, the latest you can book online (28 days after your "
                                "recommended window): please call the clinic, or ask us to call you")
    assert w.refusal(d(7)) == "is before your booking window opens on 11 March 2027"
    past = booking_window([AreaDates("glabella", d(-3), d(24), d(-30))], today=TODAY, after_days=28)
    assert past.start == TODAY and past.refusal(d(-1)) == "is in the past"


def test_never_before_earliest_allowed_whatever_else_the_window_says():
    # Two areas: the later minimum interval holds for the visit, and it is the reason given.
    w = booking_window([AreaDates("glabella", d(3), d(20), d(3)), AreaDates("forehead", d(3), d(20), d(12))],
                       today=TODAY, after_days=28)
    assert w.start == d(12) and w.earliest_allowed == d(12) and w.areas == ("forehead", "glabella")
    assert "the earliest your treatment may be repeated" in w.refusal(d(11))
    assert "11 March" not in w.refusal(d(11)) and "13 March 2027" in w.refusal(d(11))
    assert w.refusal(d(12)) is None


def test_overdue_window_runs_from_today_and_later_days_follow_it():
    w = booking_window([AreaDates("glabella", d(-40), d(-20), d(-60))], today=TODAY, after_days=14)
    assert w.overdue and (w.start, w.end, w.last) == (TODAY, d(OVERDUE_DAYS), d(OVERDUE_DAYS + 14))


def test_policy_zero_offers_the_window_only():
    w = booking_window([AreaDates("glabella", d(10), d(24), d(5))], today=TODAY, after_days=0)
    assert not w.offers_later and w.last == w.end
    assert w.refusal(d(25)) == ("is after 25 March 2027, the end of your booking window: please call the clinic, "
                                "or ask us to call you")
    with pytest.raises(ValueError):
        booking_window([AreaDates("glabella", d(10), d(24), d(5))], today=TODAY, after_days=-1)


def test_nothing_to_book_and_a_visit_without_forecast():
    assert booking_window([], today=TODAY) is None
    w = window_without_forecast(["glabella"], today=TODAY, after_days=7)
    assert (w.start, w.end, w.last) == (TODAY, d(OVERDUE_DAYS), d(OVERDUE_DAYS + 7)) and w.refusal(TODAY) is None
