"""One rule for the clinic's time zone (touchup.clinic.zones)."""

import zoneinfo

import pytest

from touchup.clinic.models import Clinic
from touchup.clinic.zones import clinic_zone, zone_named

UTC = zoneinfo.ZoneInfo("UTC")


def test_a_known_name_is_that_zone():
    assert zone_named("Pacific/Auckland") == zoneinfo.ZoneInfo("Pacific/Auckland")
    assert clinic_zone(Clinic(time_zone="America/New_York")) == zoneinfo.ZoneInfo("America/New_York")


@pytest.mark.parametrize("name", [
    "",                # never set
    None,
    "Mars/Olympus",    # not in the tz database: ZoneInfoNotFoundError
    "../etc/passwd",   # not a zone key at all: ValueError
    "/Europe/London",  # absolute path: ValueError
])
def test_an_empty_or_unknown_name_falls_back_to_utc_instead_of_failing(name):
    assert zone_named(name) == UTC
    assert clinic_zone(Clinic(time_zone=name)) == UTC
