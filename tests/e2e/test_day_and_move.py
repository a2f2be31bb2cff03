"""In Debian's Chromium: the front desk's day view (columns side by side on a desk screen,
no sideways scrolling on a phone, axe-core) and a patient moving a visit with JavaScript
switched off (tap a time → the confirm page → Confirm)."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD, _user
from tests.e2e.a11y import assert_accessible
from tests.e2e.conftest import portal_without_javascript
from tests.maintenance.conftest import area_forecast, next_weekday, signed_treatment

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}
# The top bar's current-page contrast is a known, reported issue (tests/e2e/test_portal_journey.py).
STAFF_NAV = [".topbar"]


def test_the_day_view_puts_clinicians_side_by_side_and_fits_a_phone(browser_page, live_server, transactional_db,
                                                                   clinic_a, clinician, front_desk, patient,
                                                                   django_user_model):
    from touchup.maintenance.models import Appointment

    nina = _user(django_user_model, "nina", clinic_a, "clinician")
    day = next_weekday(timezone.localdate(), 2)
    zone = dt.UTC
    now = timezone.now()
    for who, hh in ((clinician, 9), (nina, 10)):
        start = dt.datetime.combine(day, dt.time(hh), tzinfo=zone)
        Appointment.objects.create(clinic=clinic_a, patient=patient, clinician=who, starts_at=start,
                                   ends_at=start + dt.timedelta(minutes=30), areas=["glabella"], booked_by=front_desk,
                                   booked_at=now, updated_at=now)
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(front_desk.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Day", exact=True).click()
    expect(page.get_by_role("heading", name="(today)")).to_be_visible()
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_role("button", name="Show").click()
    columns = page.locator("section.day-clinician")
    expect(columns).to_have_count(2)
    first, second = columns.nth(0).bounding_box(), columns.nth(1).bounding_box()
    assert abs(first["y"] - second["y"]) < 2 and second["x"] > first["x"]  # side by side
    assert_accessible(page, "day view", exclude=STAFF_NAV)
    page.get_by_role("link", name="10:00–10:30").click()
    expect(page.get_by_role("heading", name="10:00–10:30")).to_be_visible()

    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/day/?date={day}")
    expect(columns).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_patient_moves_a_visit_through_the_confirm_page_without_javascript(browser_page, live_server,
                                                                            transactional_db, patient, front_desk,
                                                                            clinician):
    from tests.portal.conftest import join
    from touchup.clinic.services.patients import patient_update
    from touchup.maintenance.models import Appointment
    from touchup.maintenance.services.booking import book, set_working_hours

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    join(patient, front_desk, "dana")
    set_working_hours(actor=clinician, clinic=patient.clinic, clinician=clinician,
                      blocks=[{"weekday": d, "start": "09:00", "end": "11:00", "slot_minutes": 30} for d in range(7)])
    t = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=100), {"glabella": 20})
    monday = next_weekday(timezone.localdate() + dt.timedelta(days=2), 0)
    area_forecast(patient, t, "glabella", monday, days=14, earliest_allowed=timezone.localdate())
    appt = book(actor=front_desk, patient=patient, clinician=clinician,
                starts_at=dt.datetime.combine(monday, dt.time(9), tzinfo=dt.UTC))

    with portal_without_javascript(browser_page, live_server.url, PHONE) as page:
        page.goto(f"{live_server.url}/portal/visits/{appt.public_id}/")
        page.get_by_role("link", name="Move", exact=True).click()
        expect(page.locator(".slot-current").first).to_contain_text("09:00")
        page.locator("button.slot", has_text="10:30").first.click()
        expect(page.get_by_role("heading", name="Move your visit from")).to_contain_text("09:00 to")
        appt.refresh_from_db()
        assert appt.sequence == 0  # the tap asked; nothing moved
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("Your visit is moved to")).to_contain_text("10:30")
        appt.refresh_from_db()
        assert appt.sequence == 1 and appt.starts_at.time() == dt.time(10, 30)


def test_each_appointment_reads_time_and_patient_then_its_areas(browser_page, live_server, transactional_db,
                                                                clinic_a, clinician, front_desk, patient):
    """The areas sat beside the name when they were short ("Crow's feet") and under it when
    long, so a column of the day zig-zagged; they are always the line under the name."""
    from touchup.maintenance.models import Appointment

    day = next_weekday(timezone.localdate(), 2)
    now = timezone.now()
    for hh, areas in ((9, ["crows_feet"]), (10, ["crows_feet", "forehead", "glabella"])):
        start = dt.datetime.combine(day, dt.time(hh), tzinfo=dt.UTC)
        Appointment.objects.create(clinic=clinic_a, patient=patient, clinician=clinician, starts_at=start,
                                   ends_at=start + dt.timedelta(minutes=30), areas=areas, booked_by=front_desk,
                                   booked_at=now, updated_at=now)
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(front_desk.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    for viewport in ({"width": 1360, "height": 900}, PHONE):
        page.set_viewport_size(viewport)
        page.goto(f"{live_server.url}/day/?date={day}")
        rows = page.locator(".day-appointments li")
        expect(rows).to_have_count(2)
        for i in range(2):
            time_link = rows.nth(i).locator("a").first.bounding_box()
            areas = rows.nth(i).locator(".day-areas").bounding_box()
            assert areas["y"] >= time_link["y"] + time_link["height"] - 1, (viewport, i)
            assert abs(areas["x"] - time_link["x"]) < 2, (viewport, i)  # starts the line, under the time
