"""Vial stock rules: an expired vial may not be received; one expiring soon is flagged."""

from __future__ import annotations

import datetime as dt

import pytest

from touchup.core.catalogue import load_catalogue
from touchup.core.stock import days_to_expiry_if_soon, expiry_finding, receipt_refusal

TODAY = dt.date(2026, 5, 1)


def test_the_window_comes_from_the_catalogue_with_its_source():
    practice = load_catalogue().practice
    assert practice.expiry_warning_days == 30
    # The window the stock list and receipt share reads that number.
    assert days_to_expiry_if_soon(TODAY + dt.timedelta(days=30), TODAY) == 30
    assert days_to_expiry_if_soon(TODAY + dt.timedelta(days=31), TODAY) is None
    assert practice.sources["expiry_warning_days"] == ("clinic_policy",)


def test_an_expired_vial_is_refused_naming_the_date():
    why = receipt_refusal(lot="X1", expiry=dt.date(2026, 4, 30), today=TODAY)
    assert why is not None
    assert "expired on 30 Apr 2026" in why and "today is 1 May 2026" in why
    assert "must not enter stock" in why
    f = expiry_finding(lot="X1", expiry=dt.date(2026, 4, 30), today=TODAY)
    assert f.severity == "block" and f.code == "vial_expired"


def test_the_expiry_day_itself_is_still_usable_but_warned():
    assert receipt_refusal(lot="X1", expiry=TODAY, today=TODAY) is None
    f = expiry_finding(lot="X1", expiry=TODAY, today=TODAY)
    assert f.severity == "warn" and "expires today (1 May 2026)" in f.message


@pytest.mark.parametrize(("days", "text"), [(1, "in 1 day "), (12, "in 12 days"), (30, "in 30 days")])
def test_within_the_window_it_is_received_with_a_warning(days, text):
    expiry = TODAY + dt.timedelta(days=days)
    assert receipt_refusal(lot="X1", expiry=expiry, today=TODAY) is None
    f = expiry_finding(lot="X1", expiry=expiry, today=TODAY)
    assert f.severity == "warn" and f.code == "vial_expires_soon"
    assert text in f.message and "lot X1" in f.message
    assert f.source == "clinic_policy"


def test_past_the_window_nothing_is_said():
    assert expiry_finding(lot="X1", expiry=TODAY + dt.timedelta(days=31), today=TODAY) is None
    assert receipt_refusal(lot="X1", expiry=TODAY + dt.timedelta(days=31), today=TODAY) is None
