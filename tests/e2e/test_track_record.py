"""The manager reads the forecast track record, in a real browser."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible
from tests.web.test_track_record_page import seed

pytestmark = [pytest.mark.e2e]


def test_manager_reads_the_track_record(browser_page, live_server, transactional_db, clinic_a, clinician, manager):
    seed(clinic_a, clinician, timezone.localdate() - dt.timedelta(days=300))
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Track record", exact=True).click()
    expect(page.get_by_role("heading", name="Forecast track record")).to_be_visible()
    table = page.locator("#track-record")
    expect(table.get_by_role("columnheader", name="How close the forecast came")).to_be_visible()
    row = table.get_by_role("row").filter(has_text="Glabella")
    expect(row).to_contain_text("8 days")  # the fixed rule: 10 and 6 days off
    expect(page.locator("#record-summary")).to_contain_text("On 2 cycles where the wear-off was seen")
    assert_accessible(page, "track record")
    page.set_viewport_size({"width": 375, "height": 800})  # a phone: the table stacks
    expect(row).to_be_visible()
    assert_accessible(page, "track record, phone")
