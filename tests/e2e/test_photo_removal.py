"""In Chromium: a clinician removes a baseline photo filed under the wrong view (a reason
is required, the file is deleted, the photo is listed as removed and the next photo of
the view becomes the baseline); the patient withdraws a photo's marketing use in the
portal. Both pages checked with axe-core."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import portal_sign_in
from tests.e2e.a11y import assert_accessible
from tests.e2e.test_chart_glabellar import sign_in
from tests.photos import images
from tests.photos.conftest import media, stored_files  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e]

# The staff top bar's current-page contrast is a known, separately reported issue
# (see tests/e2e/test_portal_journey.py STAFF_NAV); the rest of the page is checked.
STAFF_NAV = [".topbar"]


@pytest.fixture
def two_frowns(transactional_db, patient, clinician, media):
    from touchup.clinic.services.photos import photo_upload

    today = dt.date.today()
    base = photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                        upload=images.jpeg(), taken_on=today - dt.timedelta(days=10))
    later = photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                         upload=images.jpeg(images.shifted(dx=5)), taken_on=today - dt.timedelta(days=2))
    return base, later


def test_a_clinician_removes_a_photo_taken_in_error(browser_page, live_server, patient, two_frowns, media):
    from touchup.clinic.models import AuditEvent, Photo

    base, later = two_frowns
    page = browser_page
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/patients/{patient.public_id}/photos/")
    page.locator('[data-photo-list="frown"] .photo-thumb a', has_text="Baseline").click()
    expect(page.get_by_role("heading", name=re.compile("^Frown"))).to_be_visible()

    page.get_by_text("Remove this photo…").click()
    remove = page.get_by_role("button", name="Remove photo")
    expect(remove).to_be_visible()
    assert_accessible(page, "staff photo page with the removal form", exclude=STAFF_NAV)
    # No reason: refused, said why, nothing removed.
    remove.click()
    expect(page.locator(".field-error")).to_contain_text("Choose why the photo is removed.")
    assert Photo.objects.get(pk=base.pk).removed_at is None and len(stored_files(media)) == 2
    # Chromium logs the refused form's 400 answer as a console error: expected here, nothing else is.
    page.errors[:] = [e for e in page.errors if "status of 400" not in e]

    page.get_by_label("Taken in error: wrong view").check()
    page.get_by_role("button", name="Remove photo").click()
    expect(page.get_by_text("Photo removed (taken in error: wrong view)")).to_be_visible()
    expect(page.get_by_text(re.compile("The frown baseline is now the photo of"))).to_be_visible()
    removed = page.locator("[data-removed-list]")
    expect(removed).to_contain_text("Taken in error: wrong view")
    listed = page.locator('[data-photo-list="frown"] .photo-thumb')
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Baseline")

    base.refresh_from_db()
    later.refresh_from_db()
    assert base.removed_at is not None and base.file.name == "" and later.is_baseline
    assert len(stored_files(media)) == 1  # the file went once the removal committed
    assert AuditEvent.objects.filter(action="photo.remove", object_id=str(base.public_id)).exists()

    # The tombstone says who and why, and shows no picture.
    removed.get_by_role("link").click()
    expect(page.locator("[data-removal-reason]")).to_have_text("Taken in error: wrong view")
    expect(page.locator("img[src*='/file/']")).to_have_count(0)


def test_a_patient_withdraws_marketing_use_of_a_photo(browser_page, live_server, patient, clinician, media,
                                                     transactional_db, django_user_model):
    from touchup.clinic.models import PhotoConsentChange
    from touchup.clinic.services.photos import photo_upload

    user = django_user_model.objects.create_user(username="dana", password=PASSWORD)
    patient.user = user
    patient.save(update_fields=["user"])
    photo = photo_upload(actor=clinician, patient=patient, view="frown", consent_clinical=True,
                         consent_marketing=True, upload=images.jpeg())
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    portal_sign_in(page, live_server.url)
    page.goto(live_server.url + "/portal/photos/")
    page.locator(".photo-grid a").first.click()
    expect(page.get_by_role("heading", name="Use in the clinic's marketing")).to_be_visible()
    assert_accessible(page, "portal photo page")

    page.get_by_role("button", name="Withdraw marketing use").click()
    expect(page.get_by_text("Your clinic will not use this photo in its marketing.")).to_be_visible()
    expect(page.get_by_role("button", name="Allow marketing use")).to_be_visible()
    expect(page.locator("[data-consent-history]")).to_contain_text("marketing use withdrawn by you")
    photo.refresh_from_db()
    assert not photo.consent_marketing and photo.consent_clinical
    assert PhotoConsentChange.objects.get().channel == "portal"
