"""The manager fits the clinic's wear-off medians and applies them, in a real browser."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible
from tests.maintenance.test_calibration import long_lasting_patients

pytestmark = [pytest.mark.e2e]


def test_manager_fits_and_applies_the_clinics_medians(browser_page, live_server, transactional_db, clinic_a,
                                                      clinician, manager):
    from touchup.commands.worker import _run_tasks
    from touchup.maintenance.services import calibration

    long_lasting_patients(clinic_a, clinician, 22)
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Calibration", exact=True).click()
    expect(page.get_by_role("heading", name="Forecast calibration")).to_be_visible()
    expect(page.get_by_text("The published medians")).to_be_visible()
    assert_accessible(page, "calibration, nothing fitted")

    page.get_by_role("button", name="Fit now").click()
    expect(page.get_by_text("The fit is running in the background")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Fitting to the clinic's patients")).to_be_visible()
    assert_accessible(page, "calibration, a fit under way")
    _run_tasks("e2e-worker")
    # No reload: the section polls every 5 s while the fit is under way.
    row = page.locator("#fit").get_by_role("row").filter(has_text="Glabella")
    expect(row).to_contain_text("22", timeout=15_000)
    expect(page.get_by_role("status").filter(has_text="Fitting")).to_have_count(0)
    expect(row).to_contain_text("130 days")
    assert_accessible(page, "calibration, a fit to apply")

    page.get_by_role("button", name="Apply these medians").click()
    expect(page.get_by_text("Every forecast of the clinic is being recomputed")).to_be_visible()
    _run_tasks("e2e-worker")
    assert calibration.active(clinic_a.pk) is not None
    page.screenshot(path="/tmp/calibration.png", full_page=True)
