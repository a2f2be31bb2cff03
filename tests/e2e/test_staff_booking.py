"""In Debian's Chromium: the front desk chooses another clinician on the booking page, with
JavaScript (HTMX swaps the times) and without it ("Show times" reloads the page), and the
booking goes to the clinician whose times were shown."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD, _user
from tests.maintenance.conftest import area_forecast, next_weekday, signed_treatment

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def two_clinicians(clinic_a, clinician, patient, django_user_model):
    """The patient's own clinician works mornings, Nina afternoons: the times tell them apart."""
    from touchup.maintenance.services.booking import set_working_hours

    nina = _user(django_user_model, "nina", clinic_a, "clinician")
    nina.first_name, nina.last_name = "Nina", "Nurse"
    nina.save()
    for who, start, end in ((clinician, "09:00", "11:00"), (nina, "14:00", "16:00")):
        set_working_hours(actor=who, clinic=clinic_a, clinician=who,
                          blocks=[{"weekday": d, "start": start, "end": end, "slot_minutes": 30} for d in range(7)])
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(patient, t, "glabella", today - dt.timedelta(days=2))
    return nina


def sign_in(page, base_url, user):
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)


def _book_with_nina(page, base_url, patient, nina):
    from touchup.maintenance.models import Appointment

    monday = next_weekday(timezone.localdate() + dt.timedelta(days=1), 0)
    page.goto(f"{base_url}/patients/{patient.public_id}/book/?from={monday}")
    expect(page.locator("label.slot", has_text="09:00").first).to_be_visible()  # the patient's clinician first
    page.get_by_label("Clinician").select_option(label="Nina Nurse")
    return monday, Appointment


def test_show_times_without_javascript_lists_the_chosen_clinicians_times(browser_page, live_server,
                                                                       transactional_db, front_desk, patient,
                                                                       two_clinicians):
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server.url, front_desk)
        monday, Appointment = _book_with_nina(page, live_server.url, patient, two_clinicians)
        later = monday + dt.timedelta(days=7)
        page.get_by_label("From").fill(later.isoformat())
        page.get_by_role("button", name="Show times").click()
        # The page again, with Nina's afternoon times from the date chosen; no token in the URL.
        expect(page.locator("legend")).to_contain_text("Nina Nurse")
        assert f"clinician={two_clinicians.pk}" in page.url and f"from={later}" in page.url
        assert "csrf" not in page.url
        expect(page.locator("label.slot", has_text="09:00")).to_have_count(0)
        page.locator("label.slot", has_text="14:30").first.click()
        page.get_by_role("button", name="Book", exact=True).click()
        expect(page.locator(".message-success")).to_contain_text("Booked ")
        appt = Appointment.objects.get()
        assert appt.clinician_id == two_clinicians.pk and appt.starts_at.astimezone(dt.UTC).date() == later
    finally:
        context.close()


def test_with_javascript_the_times_swap_and_the_booking_follows_them(browser_page, live_server, transactional_db,
                                                                    front_desk, patient, two_clinicians):
    page = browser_page
    sign_in(page, live_server.url, front_desk)
    monday, Appointment = _book_with_nina(page, live_server.url, patient, two_clinicians)
    expect(page.locator("legend")).to_contain_text("Nina Nurse")  # swapped in place
    expect(page.get_by_role("button", name="Show times")).to_have_count(0)  # only without script
    page.locator("label.slot", has_text="14:30").first.click()
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.locator(".message-success")).to_contain_text("Booked ")
    assert Appointment.objects.get().clinician_id == two_clinicians.pk
