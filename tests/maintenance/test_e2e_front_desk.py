"""The front desk's maintenance round in Debian's Chromium: the worklist, a note that
someone was not reachable (HTMX), booking a patient into a slot, the appointment page
with its calendar file, and the clinician's patient page with the effect chart; every
page checked with axe-core."""

import datetime as dt
import os
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible
from tests.e2e.conftest import browser_page, csp_violations  # noqa: F401 - fixtures (csp_violations autouse)
from touchup.maintenance.models import Appointment, AreaForecast

from .conftest import area_forecast, signed_treatment

pytestmark = [pytest.mark.e2e]

# The top bar's current-page marker is touchup.css's (reported there), not these pages'.
STAFF_NAV = [".topbar"]


def check(page, where):
    assert_accessible(page, where, exclude=STAFF_NAV)
    folder = os.environ.get("TOUCHUP_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, "maintenance-" + re.sub(r"\W+", "-", where) + ".png"),
                        full_page=True)


@pytest.fixture
def due(transactional_db, patient, clinician, front_desk, clinic_a):
    from touchup.clinic.services.patients import patient_create, patient_update
    from touchup.maintenance.services.booking import set_working_hours
    from touchup.maintenance.services.forecasts import recompute

    today = timezone.localdate()
    patient_update(actor=front_desk, patient=patient, phone="+447700900123")
    signed_treatment(patient, clinician, today - dt.timedelta(days=130), {"glabella": 20})
    recompute(patient)
    AreaForecast.objects.filter(patient=patient).update(
        book_from=today - dt.timedelta(days=2), book_by=today + dt.timedelta(days=10),
        earliest_allowed=today - dt.timedelta(days=40))
    eve = patient_create(actor=front_desk, clinic=clinic_a, given_name="Eve", family_name="Other",
                         birth_date=dt.date(1990, 1, 1), sex="female")
    t = signed_treatment(eve, clinician, today - dt.timedelta(days=110), {"forehead": 10},
                         indication="forehead_lines")
    area_forecast(eve, t, "forehead", today + dt.timedelta(days=3))
    set_working_hours(actor=clinician, clinic=clinic_a, clinician=clinician,
                      blocks=[{"weekday": d, "start": "09:00", "end": "12:00", "slot_minutes": 30} for d in range(7)])
    return patient


def sign_in(page, live_server, username):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()


def test_front_desk_round(browser_page, live_server, due, front_desk, clinician):  # noqa: F811
    page = browser_page
    sign_in(page, live_server, front_desk.username)
    page.get_by_role("link", name="Due", exact=True).click()
    expect(page.get_by_role("heading", name="Due for maintenance")).to_be_visible()
    expect(page.get_by_role("link", name="Dana Example", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Eve Other", exact=True)).to_be_visible()
    check(page, "worklist")

    eve_row = page.get_by_role("row").filter(has_text="Eve Other")
    eve_row.get_by_role("button", name="Not reachable").click()
    expect(eve_row.locator(".badge").get_by_text("Not reachable", exact=True)).to_be_visible()
    assert AreaForecast.objects.get(patient__given_name="Eve").contact_status == "not_reachable"

    page.get_by_label("Area").select_option("forehead")  # HTMX swaps the results
    expect(page.get_by_role("link", name="Dana Example", exact=True)).to_have_count(0)
    page.get_by_label("Area").select_option("")
    expect(page.get_by_role("link", name="Dana Example", exact=True)).to_be_visible()

    page.get_by_role("row").filter(has_text="Dana Example").get_by_role("link", name=re.compile("^Book")).click()
    expect(page.get_by_role("heading", name="Book Dana Example")).to_be_visible()
    check(page, "booking")
    page.locator("input[name=starts_at]").first.check()
    page.get_by_role("button", name="Book", exact=True).click()
    expect(page.locator(".messages").get_by_text(re.compile("^Booked"))).to_be_visible()
    appt = Appointment.objects.get()
    assert appt.patient == due and appt.areas == ["glabella"]
    check(page, "appointment")
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    assert download.value.suggested_filename == f"touchup-{appt.public_id}.ics"

    page.get_by_role("link", name="Due", exact=True).click()
    expect(page.get_by_role("link", name="Dana Example", exact=True)).to_have_count(0)


def test_clinician_sees_the_effect_chart(browser_page, live_server, due, clinician):  # noqa: F811
    page = browser_page
    sign_in(page, live_server, clinician.username)
    page.goto(f"{live_server.url}/patients/{due.public_id}/")
    expect(page.get_by_role("heading", name="Effect and forecast")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"Glabella \(frown lines\): measured effect"))).to_be_visible()
    check(page, "patient page chart")
    page.get_by_role("link", name="Schedule", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("^Schedule"))).to_be_visible()
    check(page, "schedule")
