"""A patient's journey through the portal in Debian's Chromium, on a phone-sized screen:
invitation → set password → learn → screening → aftercare and a side effect → check-in
→ results → booking with the calendar invite; every page checked with axe-core. And the
pages read, and book, with JavaScript switched off."""

import datetime as dt
import os
import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible
from tests.e2e.conftest import portal_without_javascript, portal_sign_in
from tests.maintenance.conftest import area_forecast, next_weekday, signed_treatment
from tests.photos import images
from tests.photos.conftest import media  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}
# The staff pages' top bar marks the current page with white on a lightened teal (4.2:1,
# touchup.css .mainnav): not the portal's to fix, reported; the rest of each staff page is checked.
STAFF_NAV = [".topbar"]
NEW_PASSWORD = "lilac tide window 42"


@pytest.fixture
def clinic(transactional_db, patient, front_desk, clinician):
    from touchup.clinic.services.patients import patient_update
    from touchup.maintenance.services.booking import set_working_hours

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    set_working_hours(actor=clinician, clinic=patient.clinic, clinician=clinician,
                      blocks=[{"weekday": d, "start": "09:00", "end": "12:00", "slot_minutes": 30} for d in range(7)])
    return patient


def check(page, where, **kwargs):
    """axe-core on the page; with TOUCHUP_SCREENSHOTS=DIR also a full-page screenshot
    (for a person to look at the phone layout)."""
    assert_accessible(page, where, **kwargs)
    folder = os.environ.get("TOUCHUP_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, "portal-" + re.sub(r"\W+", "-", where) + ".png"), full_page=True)


def staff_sign_in(page, live_server, username):
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()


def test_patient_journey(browser_page, live_server, clinic, clinician, media, tmp_path):
    page = browser_page
    patient = clinic

    # The front desk sends the invitation from the clinic's side.
    staff_sign_in(page, live_server, "bob")
    page.goto(f"{live_server.url}/patients/{patient.public_id}/portal/")
    check(page, "staff invitation page", exclude=STAFF_NAV)
    mail.outbox.clear()
    page.get_by_role("button", name="Send portal invitation").click()
    expect(page.get_by_text("Invitation emailed to dana@example.test")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    link = re.search(r"https?://\S+/portal/join/\S+/", mail.outbox[-1].body).group(0)
    path = link.split("/portal/", 1)[1]

    # Dana, on her phone, sets her password and lands in the portal.
    page.set_viewport_size(PHONE)
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/portal/{path}")
    expect(page.get_by_role("heading", name="Welcome, Dana")).to_be_visible()
    check(page, "join")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Hello, Dana")).to_be_visible()
    check(page, "home")

    # The used link says so.
    page.goto(link.replace("http://testserver", live_server.url) if "testserver" in link else f"{live_server.url}/portal/{path}")
    expect(page.get_by_role("heading", name="This link has been used")).to_be_visible()
    # The page answers 410 Gone, which Chromium logs as a failed load: expected here.
    page.errors[:] = [e for e in page.errors if "status of 410" not in e]

    # Learn, then answer the health questions.
    page.goto(live_server.url + "/portal/learn/")
    check(page, "learn index")
    page.get_by_role("link", name="Neck bands (platysma)").click()
    expect(page.get_by_role("heading", name="Sources")).to_be_visible()
    check(page, "learn page")
    page.goto(live_server.url + "/portal/")
    page.get_by_role("link", name="Answer your health questions").click()
    page.get_by_label("The treatment you are coming for").select_option("glabellar_lines")
    page.get_by_role("button", name="Show the questions").click()
    check(page, "screening")
    for group in page.locator("ol.questions fieldset").all():
        group.get_by_label("No").check()
    page.get_by_role("button", name="Send my answers to the clinic").click()
    expect(page.get_by_role("heading", name=re.compile("your answers are with the clinic"))).to_be_visible()

    # The clinic treats and signs the chart; Dana's aftercare appears.
    treatment = signed_treatment(patient, clinician, timezone.localdate(), {"glabella": 20})
    page.goto(live_server.url + "/portal/")
    page.get_by_role("link", name="My aftercare").click()
    expect(page.get_by_role("heading", name="Your aftercare")).to_be_visible()
    expect(page.get_by_text("Skip exercise").first).to_be_visible()
    check(page, "aftercare")

    # A side effect, sent with htmx: the answer replaces the form in place.
    page.get_by_role("link", name="Report a side effect").last.click()
    # Sent empty first: the error is announced, tied to the question, and accessible.
    page.get_by_role("button", name="Send to the clinic").click()
    expect(page.get_by_text("Choose what you noticed.")).to_be_visible()
    check(page, "side-effect form with an error")
    page.get_by_label("Bruising").check()
    page.get_by_label("Tell us more").fill("small bruise above the left brow")
    check(page, "side-effect form")
    with page.expect_response(lambda r: "/portal/side-effects/new/" in r.url and r.request.method == "POST"):
        page.get_by_role("button", name="Send to the clinic").click()
    expect(page.get_by_role("heading", name=re.compile("the clinic has your report"))).to_be_visible()
    check(page, "side effect sent")
    from touchup.portal.models import SideEffectReport

    assert SideEffectReport.objects.get(patient=patient).treatment_id == treatment.pk

    # Check-in: is it wearing off? (htmx, in place)
    page.get_by_role("link", name="Diary").click()
    page.get_by_label("No, not yet").check()
    page.get_by_role("button", name=re.compile("Save check-in")).click()
    expect(page.get_by_text(re.compile("your check-in for .* is saved"))).to_be_visible()
    # The swapped-in form gives its button the focus back (a keyboard user stays in place),
    # and the long button label wraps inside the phone's width.
    expect(page.get_by_role("button", name=re.compile("Save check-in"))).to_be_focused()
    # ... and the answer joins "Your recent entries" without a reload.
    expect(page.locator("#recent")).to_contain_text("Not wearing off yet")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    check(page, "diary")
    from touchup.clinic.models import Observation

    assert Observation.objects.filter(patient=patient, source="patient", kind="wearing_off_reported").count() == 1

    # The photo diary: the frown view, from the phone's camera (a file here).
    shot = tmp_path / "frown.jpg"
    shot.write_bytes(images.jpeg(images.neutral_face()))  # no smile: the frown view asks for a still mouth
    page.get_by_role("link", name="Photos").click()
    expect(page.get_by_role("heading", name="Photo diary")).to_be_visible()
    check(page, "photo diary")
    page.get_by_role("radio", name=re.compile("Frown —")).check()
    page.get_by_label("Photo", exact=True).set_input_files(str(shot))
    page.get_by_label(re.compile("I agree that the clinic keeps this photo")).check()
    page.get_by_role("button", name="Send photo").click()
    expect(page.get_by_text("your photo (frown) is saved")).to_be_visible()
    expect(page.locator(".photo-grid img")).to_have_count(1)
    page.locator(".photo-grid img").scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector('.photo-grid img');"
                           " return i.complete && i.naturalWidth > 0; }")  # the gated file view served it
    check(page, "photo diary with a photo")

    # Months later the window opens: results, then book from the free slots.
    earlier = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=100), {"forehead": 10},
                               indication="forehead_lines")
    area_forecast(patient, earlier, "forehead", next_weekday(timezone.localdate(), 0), days=14,
                  earliest_allowed=timezone.localdate())
    page.get_by_role("link", name="My results").click()
    expect(page.locator("svg.result-chart").first).to_be_visible()
    check(page, "results")
    page.get_by_role("link", name="Book", exact=True).click()
    expect(page.get_by_role("heading", name="Choose a time")).to_be_visible()
    check(page, "booking")
    mail.outbox.clear()
    page.locator("button.slot").first.click()
    expect(page.get_by_role("heading", name="Your visit")).to_be_visible()
    expect(page.get_by_text("Your visit is booked. We emailed you the calendar invite.")).to_be_visible()
    check(page, "visit")
    assert mail.outbox[-1].attachments[0][0] == "visit.ics"
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Add to my calendar")).click()
    assert download.value.suggested_filename == "visit.ics"

    # The clinic's worklist shows the report.
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1360, "height": 1000})
    staff_sign_in(page, live_server, "alice")
    page.goto(live_server.url + "/from-patients/")
    expect(page.get_by_text("small bruise above the left brow")).to_be_visible()
    check(page, "staff worklist", exclude=STAFF_NAV)


def test_pages_work_without_javascript(browser_page, live_server, clinic, clinician):
    from tests.portal.conftest import join

    from touchup.clinic.models import Patient

    patient = clinic
    join(patient, clinician, "dana", password=PASSWORD)
    patient = Patient.objects.get(pk=patient.pk)
    treatment = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=100), {"glabella": 20})
    area_forecast(patient, treatment, "glabella", next_weekday(timezone.localdate(), 0), days=14,
                  earliest_allowed=timezone.localdate())

    with portal_without_javascript(browser_page, live_server.url, PHONE) as page:
        expect(page.get_by_role("heading", name="Hello, Dana")).to_be_visible()
        page.goto(f"{live_server.url}/portal/aftercare/{treatment.public_id}/")
        expect(page.get_by_role("heading", name="Warning signs")).to_be_visible()
        page.goto(live_server.url + "/portal/results/")
        expect(page.locator("svg.result-chart")).to_be_visible()
        page.goto(live_server.url + "/portal/diary/")
        page.get_by_label("Yes, it is wearing off").check()
        page.get_by_role("button", name=re.compile("Save check-in")).click()
        expect(page.get_by_text(re.compile("your check-in for .* is saved"))).to_be_visible()
        page.goto(live_server.url + "/portal/side-effects/new/")
        page.get_by_label("Trouble swallowing").check()
        page.get_by_role("button", name="Send to the clinic").click()
        expect(page.get_by_role("heading", name="Get emergency care now")).to_be_visible()
        page.goto(live_server.url + "/portal/book/")
        page.locator("button.slot").first.click()
        expect(page.get_by_role("heading", name="Your visit")).to_be_visible()


def test_booking_a_time_later_than_recommended(browser_page, live_server, clinic, clinician):
    """A patient who cannot come inside the window asks for later times (a link, no script),
    sees them marked as later than recommended, and books one; the page passes axe-core."""
    from tests.portal.conftest import join

    from touchup.clinic.models import Patient

    join(clinic, clinician, "dana", password=PASSWORD)
    patient = Patient.objects.get(pk=clinic.pk)
    treatment = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=100), {"glabella": 20})
    forecast = area_forecast(patient, treatment, "glabella", next_weekday(timezone.localdate(), 0), days=14,
                             earliest_allowed=timezone.localdate())
    later_day = forecast.book_by + dt.timedelta(days=3)

    with portal_without_javascript(browser_page, live_server.url, PHONE) as page:
        page.goto(live_server.url + "/portal/book/")
        expect(page.get_by_role("heading", name="Later than recommended")).to_have_count(0)
        page.get_by_role("link", name=re.compile("Show later times")).click()
        later = page.locator("section.card-later")
        expect(later.get_by_role("heading", name="Later than recommended")).to_be_visible()
        expect(later.get_by_text("your results may have worn off more by then")).to_be_visible()
        legend = later_day.strftime("%A %-d %B")
        day = later.locator("fieldset", has_text=legend)
        expect(day.locator(".badge-later")).to_have_text("later than recommended")
        # Each time names its day and that it is later, for a screen reader.
        day.get_by_role("button", name=re.compile(f"^09:00 on {legend}, later than recommended")).click()
        expect(page.get_by_role("heading", name="Your visit")).to_be_visible()

    from touchup.maintenance.models import Appointment

    a = Appointment.objects.get(patient=patient)
    assert a.starts_at.astimezone(timezone.get_current_timezone()).date() == later_day

    # The page as it looks with the later times, for axe-core (which needs script to run).
    a.delete()
    page = browser_page
    page.set_viewport_size(PHONE)
    portal_sign_in(page, live_server.url)
    page.goto(live_server.url + "/portal/book/?later=1")
    expect(page.get_by_role("heading", name="Later than recommended")).to_be_visible()
    check(page, "book, later times")
