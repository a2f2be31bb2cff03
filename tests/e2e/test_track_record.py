"""The manager has the forecast track record scored, and reads it, in a real browser."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible
from tests.web.test_track_record_page import seed

pytestmark = [pytest.mark.e2e]


def test_manager_reads_the_track_record(browser_page, live_server, transactional_db, clinic_a, clinician, manager):
    from touchup.commands.worker import _run_tasks

    seed(clinic_a, clinician, timezone.localdate() - dt.timedelta(days=300))
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Track record", exact=True).click()
    expect(page.get_by_role("heading", name="Forecast track record")).to_be_visible()
    expect(page.get_by_text("Not scored yet")).to_be_visible()
    assert_accessible(page, "track record, not scored yet")

    page.get_by_role("button", name="Score now").click()
    expect(page.get_by_text("Scoring in the background")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Being scored")).to_contain_text("by mona")
    assert_accessible(page, "track record, being scored")
    _run_tasks("e2e-worker")
    # No reload: the section polls every 5 s while the scoring is under way.
    table = page.locator("#track-record")
    expect(table).to_be_visible(timeout=15_000)
    expect(page.get_by_role("status").filter(has_text="Being scored")).to_have_count(0)
    expect(page.locator("#record-scored")).to_contain_text("on 3 patient histories, asked by mona")
    expect(page.get_by_role("button", name="Score again now")).to_be_visible()
    expect(table.get_by_role("columnheader", name="How close the forecast came")).to_be_visible()
    row = table.get_by_role("row").filter(has_text="Glabella")
    expect(row).to_contain_text("8 days")  # the fixed rule: 10 and 6 days off
    expect(page.locator("#record-summary")).to_contain_text("On 2 cycles where the wear-off was seen")
    assert_accessible(page, "track record")
    page.set_viewport_size({"width": 375, "height": 800})  # a phone: the table stacks
    expect(row).to_be_visible()
    assert_accessible(page, "track record, phone")
