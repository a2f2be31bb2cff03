"""In Debian's Chromium, on a phone with JavaScript off: a patient pages through a busy
window a few days at a time ("Later days", "Earlier days") to its last day and books there;
the page stays a phone's length, fits the screen and passes axe-core."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible
from tests.e2e.conftest import portal_without_javascript, portal_sign_in
from tests.maintenance.conftest import area_forecast, signed_treatment

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}


def test_a_patient_pages_to_the_last_day_of_a_busy_window_and_books_it(browser_page, live_server, transactional_db,
                                                                       patient, front_desk, clinician):
    from tests.portal.conftest import join
    from touchup.clinic.services.patients import patient_update
    from touchup.maintenance.models import Appointment
    from touchup.maintenance.services.booking import set_working_hours

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    join(patient, front_desk, "dana", password=PASSWORD)
    set_working_hours(actor=clinician, clinic=patient.clinic, clinician=clinician,
                      blocks=[{"weekday": d, "start": "09:00", "end": "17:00", "slot_minutes": 30} for d in range(7)])
    t = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=100), {"glabella": 20})
    forecast = area_forecast(patient, t, "glabella", timezone.localdate() + dt.timedelta(days=2), days=20,
                             earliest_allowed=timezone.localdate())
    last = forecast.book_by.strftime("%A %-d %B")

    with portal_without_javascript(browser_page, live_server.url, PHONE) as page:
        page.goto(live_server.url + "/portal/book/")
        expect(page.get_by_role("link", name="← Earlier days")).to_have_count(0)
        for _ in range(20):
            assert page.locator("fieldset.slot-day").count() <= 4
            if page.locator("fieldset.slot-day", has_text=last).count():
                break
            page.get_by_role("link", name="Later days →").click()
        day = page.locator("fieldset.slot-day", has_text=last)
        expect(day).to_have_count(1)
        expect(page.get_by_role("link", name="Later days →")).to_have_count(0)  # the window's end
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.get_by_role("link", name="← Earlier days").click()
        expect(page.locator("fieldset.slot-day", has_text=last)).to_have_count(0)
        page.get_by_role("link", name="Later days →").click()
        page.locator("fieldset.slot-day", has_text=last).get_by_role("button", name=f"16:30 on {last}").click()
        expect(page.get_by_role("heading", name="Your visit")).to_be_visible()
    assert Appointment.objects.get(patient=patient).starts_at.astimezone(
        timezone.get_current_timezone()).date() == forecast.book_by

    # The paged list as it looks, for axe-core (which needs script to run).
    Appointment.objects.all().delete()
    page = browser_page
    page.set_viewport_size(PHONE)
    portal_sign_in(page, live_server.url)
    page.goto(live_server.url + "/portal/book/")
    page.get_by_role("link", name="Later days →").click()
    expect(page.get_by_role("link", name="← Earlier days")).to_be_visible()
    assert_accessible(page, "book, later days")
