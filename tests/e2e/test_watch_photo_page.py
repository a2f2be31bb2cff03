"""In Chromium at phone size: the patient follows the wear-off watch's link, finds the
photo diary with the treated area's view chosen, answers "is it wearing off?" on the same
page (HTMX, no reload), and sends today's photo, landing back on the same view. Checked
with axe-core; any console error (an out-of-band swap with no target, say) fails it."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible
from tests.maintenance.conftest import signed_treatment
from tests.photos import images
from tests.photos.conftest import media  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e]

PHONE = {"width": 390, "height": 844}


def test_the_watch_link_opens_the_view_with_its_check_in(browser_page, live_server, patient, clinician, media,
                                                        transactional_db, django_user_model, tmp_path):
    from touchup.clinic.models import Observation, Photo
    from touchup.clinic.services.photos import photo_upload

    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    t = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=100), {"glabella": 20})
    photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True, taken_on=t.treated_on,
                 upload=images.jpeg(images.neutral_face()))
    page = browser_page
    page.set_viewport_size(PHONE)
    # The message's link, before signing in: the sign-in comes back to it.
    page.goto(live_server.url + "/portal/photos/?view=frown")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Photo diary")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^Frown"))).to_be_checked()
    expect(page.get_by_role("heading", name="Is it wearing off?")).to_be_visible()
    assert_accessible(page, "portal photo diary opened from the wear-off watch")

    page.get_by_label("No, not yet").check()
    page.get_by_role("button", name=re.compile("Save check-in")).click()
    expect(page.get_by_text(re.compile("your check-in for .* is saved"))).to_be_visible()
    assert page.url.endswith("/portal/photos/?view=frown")  # swapped in place, no reload
    assert Observation.objects.get(patient=patient, kind="wearing_off_reported").value == 0.0

    today_photo = tmp_path / "today.jpg"
    today_photo.write_bytes(images.jpeg(images.neutral_face(dx=6)))
    page.get_by_label("Photo", exact=True).set_input_files(str(today_photo))
    page.get_by_label(re.compile("I agree that the clinic keeps this photo")).check()
    page.get_by_role("button", name="Send photo").click()
    expect(page.get_by_text("Thank you: your photo (frown) is saved.")).to_be_visible()
    assert page.url.endswith("/portal/photos/?view=frown")
    expect(page.get_by_role("radio", name=re.compile("^Frown"))).to_be_checked()
    assert Photo.objects.filter(patient=patient, taken_on=timezone.localdate(), view="frown").exists()


def test_the_watch_link_for_several_areas_takes_their_views_in_turn(browser_page, live_server, patient, clinician,
                                                                   media, transactional_db, django_user_model,
                                                                   tmp_path):
    """Glabella and forehead treated: one link asks for both views; the page names them,
    opens on the first, goes on to the second once the first is kept, and marks it sent."""
    from touchup.clinic.models import Photo

    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=100),
                     {"glabella": 20, "forehead": 10})
    page = browser_page
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/portal/photos/?ask=frown,brows_raised")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today's photos")).to_be_visible()
    expect(page.get_by_text("Your clinic asks for 2 photos today: a frown and eyebrows raised.")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("^Frown"))).to_be_checked()
    expect(page.get_by_role("link", name="Eyebrows raised", exact=True)).to_be_visible()
    # Both areas' check-ins are on the page.
    expect(page.get_by_role("button", name=re.compile("Save check-in for Glabella"))).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Save check-in for Forehead"))).to_be_visible()
    assert_accessible(page, "portal photo diary asking for several views")

    today_photo = tmp_path / "today.jpg"
    today_photo.write_bytes(images.jpeg(images.neutral_face(dx=6)))
    page.get_by_label("Photo", exact=True).set_input_files(str(today_photo))
    page.get_by_label(re.compile("I agree that the clinic keeps this photo")).check()
    page.get_by_role("button", name="Send photo").click()
    expect(page.get_by_text("Thank you: your photo (frown) is saved. Next: eyebrows raised.")).to_be_visible()
    assert page.url.endswith("/portal/photos/?view=brows_raised&ask=frown,brows_raised")
    expect(page.get_by_role("radio", name=re.compile("^Eyebrows raised"))).to_be_checked()
    expect(page.get_by_role("link", name="Frown", exact=True)).to_be_visible()
    expect(page.locator("[data-asked] [data-sent]")).to_have_text(["sent today"])
    assert Photo.objects.filter(patient=patient, view="frown").count() == 1
