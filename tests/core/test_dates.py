"""Every date shape people read, pinned (touchup.core.dates): no zero-padded days."""

import datetime as dt

from touchup.core import dates

DAY = dt.date(2027, 1, 5)  # a Tuesday
MOMENT = dt.datetime(2027, 1, 5, 9, 5)


def test_each_shape_reads_as_written():
    assert dates.day_text(DAY) == "5 Jan 2027"
    assert dates.day_month_text(DAY) == "5 Jan"
    assert dates.weekday_day_text(DAY) == "Tue 5 Jan"
    assert dates.day_time_text(MOMENT) == "5 Jan 09:05"
    assert dates.weekday_day_time_text(MOMENT) == "Tue 5 Jan 09:05"
    assert dates.long_day_text(DAY) == "5 January 2027"
    assert dates.long_day_time_text(MOMENT) == "5 January 2027 at 09:05"


def test_two_digit_days_are_unchanged():
    assert dates.day_text(dt.date(2026, 12, 25)) == "25 Dec 2026"
    assert dates.long_day_text(dt.date(2026, 12, 25)) == "25 December 2026"
