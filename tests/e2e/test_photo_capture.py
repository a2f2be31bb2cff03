"""A clinician takes follow-up photos in a real browser: chooses a file (the path that
works everywhere), sees the quality check before keeping, keeps it and finds it listed;
a disguised file is explained and never kept; and the live camera with the baseline
ghost, using Chromium's fake camera."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_chart_glabellar import sign_in
from tests.photos import images
from tests.photos.conftest import media, stored_files  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def ready(transactional_db, patient, clinician, media):
    return patient


def open_capture(page, live_server, patient):
    page.goto(f"{live_server.url}/patients/{patient.public_id}/")
    page.get_by_role("link", name="Photos", exact=True).click()
    expect(page.get_by_role("heading", name="Photos", exact=True)).to_be_visible()
    page.get_by_role("link", name="Take or upload a photo").click()
    expect(page.get_by_role("heading", name="Take or upload a photo")).to_be_visible()


def test_upload_a_photo_check_it_keep_it_and_see_it_listed(browser_page, live_server, ready, tmp_path, media):
    from touchup.clinic.models import Photo

    page = browser_page
    sign_in(page, live_server)
    open_capture(page, live_server, ready)
    page.get_by_role("radio", name=re.compile("^Frown")).check()
    # A smiling face for the frown photo: the check says what to do before anything is kept.
    smiling = tmp_path / "smiling.jpg"
    smiling.write_bytes(images.jpeg(images.usable_face()))
    with page.expect_response(lambda r: r.url.endswith("/photos/check/")) as checked:
        page.get_by_label(re.compile("^Photo \\(JPEG, PNG or HEIC")).set_input_files(str(smiling))
    assert checked.value.ok
    expect(page.locator(".problems")).to_contain_text("relax the mouth (no smile)")
    photo_file = tmp_path / "frown.jpg"
    photo_file.write_bytes(images.jpeg(images.neutral_face()))
    with page.expect_response(lambda r: r.url.endswith("/photos/check/")) as checked:
        page.get_by_label(re.compile("^Photo \\(JPEG, PNG or HEIC")).set_input_files(str(photo_file))
    assert checked.value.ok
    # The check answers before anything is kept.
    expect(page.locator("[data-check-ok]")).to_be_visible()
    assert not Photo.objects.exists()
    page.get_by_label(re.compile("consents to this photo being kept")).check()
    page.locator("[data-keep]").click()

    expect(page.get_by_role("heading", name=re.compile("^Frown"))).to_be_visible()
    expect(page.get_by_text("Photo kept (frown)")).to_be_visible()
    page.get_by_role("link", name="All photos").click()
    listed = page.locator('[data-photo-list="frown"] .photo-thumb')
    expect(listed).to_have_count(1)
    img = listed.locator("img")
    expect(img).to_have_js_property("complete", True)
    assert img.evaluate("i => i.naturalWidth") == 480  # the small copy, through the gated view
    assert Photo.objects.count() == 1 and len(stored_files(media)) == 1


def test_a_disguised_file_is_explained_and_never_kept(browser_page, live_server, ready, tmp_path, media):
    from touchup.clinic.models import Photo

    page = browser_page
    sign_in(page, live_server)
    open_capture(page, live_server, ready)
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes(images.polyglot())
    # The check answers 400 with the reason (the browser logs a failed fetch: expected).
    with page.expect_response(lambda r: r.url.endswith("/photos/check/")):
        page.get_by_label(re.compile("^Photo \\(JPEG, PNG or HEIC")).set_input_files(str(bad))
    expect(page.locator("[data-check-error]")).to_contain_text("ZIP archive")
    expect(page.locator("[data-keep]")).to_be_disabled()
    # Chromium logs the check's 400 answer as a console error: expected here, nothing else is.
    page.errors[:] = [e for e in page.errors if "status of 400" not in e]
    assert not Photo.objects.exists() and stored_files(media) == []


@pytest.fixture
def camera_page():
    """Chromium with its built-in fake camera (a moving test pattern), permission granted."""
    from tests.e2e.conftest import ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            *ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        ])
        context = browser.new_context(viewport={"width": 1360, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(15000)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        try:
            yield page
        finally:
            context.close()
            browser.close()
    assert not errors, "\n".join(errors)


def test_the_live_camera_shows_the_baseline_ghost_and_checks_the_shot(camera_page, live_server, ready, clinician, media):
    from touchup.clinic.models import Photo
    from touchup.clinic.services.photos import photo_upload

    baseline = photo_upload(actor=clinician, patient=ready, view="frown", consent_clinical=True,
                            upload=images.jpeg(images.usable_face()))
    page = camera_page
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/patients/{ready.public_id}/photos/capture/?view=frown")
    ghost = page.locator("[data-ghost]")
    expect(ghost).to_be_visible()  # the frown baseline, over the live picture
    assert ghost.get_attribute("src").endswith(f"/photos/{baseline.public_id}/file/")
    assert ghost.evaluate("g => getComputedStyle(g).opacity") == "0.35"
    page.get_by_role("radio", name=re.compile("^Neck tensed")).check()
    expect(ghost).to_be_hidden()  # no neck baseline yet
    page.get_by_role("radio", name=re.compile("^Frown")).check()
    expect(ghost).to_be_visible()

    page.get_by_role("button", name="Start camera").click()
    shoot = page.get_by_role("button", name="Take photo")
    expect(shoot).to_be_enabled()
    with page.expect_response(lambda r: r.url.endswith("/photos/check/")) as checked:
        shoot.click()
    assert checked.value.ok
    # The fake camera shows a test pattern, not a face: the check says so before keeping.
    expect(page.locator("[data-check-target] .problems")).to_contain_text("No face was found")
    keep = page.locator("[data-keep]")
    expect(keep).to_have_text("Keep anyway")
    page.get_by_role("button", name="Retake").click()
    expect(page.locator("[data-check-target] .problems")).to_have_count(0)
    assert Photo.objects.count() == 1

    # Shoot again and keep it anyway: the person saw the problem and decided.
    with page.expect_response(lambda r: r.url.endswith("/photos/check/")):
        shoot.click()
    expect(keep).to_have_text("Keep anyway")
    page.get_by_label(re.compile("consents to this photo being kept")).check()
    keep.click()
    expect(page.get_by_text("Photo kept (frown)")).to_be_visible()
    shot = Photo.objects.exclude(pk=baseline.pk).get()
    assert shot.view == "frown" and not shot.is_baseline
    assert len(stored_files(media)) == 2
