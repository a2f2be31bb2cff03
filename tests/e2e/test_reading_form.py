"""Record a reading in a real browser: the reading list follows the area chosen (the
glabella offers the wrinkle grade, migraine headache days), and what is offered records."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.test_chart_glabellar import sign_in
from tests.maintenance.conftest import signed_treatment

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def two_kinds(transactional_db, patient, clinician):
    """Dana had her frown lines and her chronic migraine treated."""
    today = timezone.localdate()
    signed_treatment(patient, clinician, today - dt.timedelta(days=30), {"glabella": 20})
    signed_treatment(patient, clinician, today - dt.timedelta(days=20), {"migraine": 155},
                     indication="chronic_migraine")
    return patient


def offered(select):
    """The reading options a person can see and pick."""
    return select.evaluate("s => Array.from(s.options).filter(o => !o.hidden && !o.disabled).map(o => o.value)")


def test_the_reading_list_follows_the_area(browser_page, live_server, two_kinds):
    from touchup.clinic.models import Observation

    page = browser_page
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/patients/{two_kinds.public_id}/")
    form = page.locator("form[data-reading-form]")
    area, kind = form.get_by_label("Area"), form.get_by_label("Reading")

    area.select_option("glabella")
    assert offered(kind) == ["fws_grade"]
    expect(kind).to_have_value("fws_grade")

    area.select_option("migraine")
    assert offered(kind) == ["headache_days"]
    expect(kind).to_have_value("headache_days")  # the grade, now hidden, is not left selected

    form.get_by_label("Value").fill("9")
    form.get_by_role("button", name="Record reading").click()
    expect(page.get_by_text("Reading recorded.")).to_be_visible()
    obs = Observation.objects.get(patient=two_kinds)
    assert (obs.area, obs.kind, obs.value) == ("migraine", "headache_days", 9.0)
