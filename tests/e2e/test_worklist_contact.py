"""In Debian's Chromium: the front desk notes the outcome of a call on the Due worklist,
with JavaScript (the line's Contact cell is swapped in place) and without it (the page
again, with "Contact noted."); and the call about an early wear-off report, both ways."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.maintenance.conftest import area_forecast, signed_treatment
from touchup.maintenance.models import AreaForecast

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def due(patient, clinician):
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(patient, t, "glabella", today - dt.timedelta(days=2))
    return patient


def sign_in(page, base_url, user):
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_patient_who_declines_is_recorded_as_declined(browser_page, live_server, transactional_db, front_desk, due):
    """The Contact filter offers "Declined for now"; the line must be able to record it,
    and the clicked button (not a fixed hidden field) decides what is recorded."""
    page = browser_page
    sign_in(page, live_server.url, front_desk)
    page.goto(live_server.url + "/worklist/")
    page.get_by_role("button", name="Declined for now Dana Example").click()
    expect(page.locator("td[data-label=Contact]").first).to_contain_text("Declined for now")
    assert AreaForecast.objects.get(patient=due).contact_status == "declined"

    page.get_by_role("button", name="Not reachable Dana Example").click()
    expect(page.locator("td[data-label=Contact]").first).to_contain_text("Not reachable")
    assert AreaForecast.objects.get(patient=due).contact_status == "not_reachable"


def test_declined_without_javascript(browser_page, live_server, transactional_db, front_desk, due):
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server.url, front_desk)
        page.goto(live_server.url + "/worklist/")
        page.get_by_role("button", name="Declined for now Dana Example").click()
        expect(page.get_by_text("Contact noted.")).to_be_visible()
        assert AreaForecast.objects.get(patient=due).contact_status == "declined"
    finally:
        context.close()


def test_without_javascript_a_contact_note_keeps_the_filters(browser_page, live_server, transactional_db,
                                                            front_desk, clinician, due):
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server.url, front_desk)
        page.goto(live_server.url + "/worklist/")
        page.get_by_label("Area").select_option("glabella")
        page.get_by_label("Clinician").select_option(str(clinician.pk))
        page.get_by_role("button", name="Filter").click()
        filtered = page.url
        assert "area=glabella" in filtered and f"clinician={clinician.pk}" in filtered
        page.get_by_role("button", name="Not reachable Dana Example").click()
        expect(page.get_by_text("Contact noted.")).to_be_visible()
        # The same filtered page: the URL and the filters as they were set.
        assert "area=glabella" in page.url and f"clinician={clinician.pk}" in page.url
        expect(page.get_by_label("Area")).to_have_value("glabella")
        expect(page.get_by_label("Clinician")).to_have_value(str(clinician.pk))
        assert AreaForecast.objects.get(patient=due).contact_status == "not_reachable"
    finally:
        context.close()


@pytest.fixture
def reported_early(patient, clinician):
    """Treated 34 days ago, a "yes" today: an early wear-off report (tests/web/test_early_reports.py)."""
    from tests.web.test_early_reports import early_patient

    early_patient(patient, clinician)
    return patient


def test_an_early_reports_call_is_noted_in_place(browser_page, live_server, transactional_db, front_desk,
                                                 reported_early):
    page = browser_page
    sign_in(page, live_server.url, front_desk)
    page.goto(live_server.url + "/worklist/")
    page.get_by_role("button", name="Photo requested Dana Example").click()
    expect(page.locator("[data-early-report-done]")).to_contain_text("Call noted: Photo requested")
    assert AreaForecast.objects.get(patient=reported_early).early_report_outcome == "photo_requested"
    page.reload()
    expect(page.locator("[data-early-reports]")).to_have_count(0)


def test_an_early_reports_call_without_javascript(browser_page, live_server, transactional_db, front_desk,
                                                  reported_early):
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server.url, front_desk)
        page.goto(live_server.url + "/worklist/")
        page.get_by_role("button", name="Review booked Dana Example").click()
        expect(page.get_by_text("Call noted: Review booked.")).to_be_visible()
        expect(page.locator("[data-early-reports]")).to_have_count(0)
        assert AreaForecast.objects.get(patient=reported_early).early_report_outcome == "review_booked"
    finally:
        context.close()
