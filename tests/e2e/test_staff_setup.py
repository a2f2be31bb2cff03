"""The manager adds a nurse from the Clinic page and hands over the one-time link; the
nurse opens it in her own browser, chooses a password and reaches the patient list."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible

pytestmark = [pytest.mark.e2e]

NEW_PASSWORD = "lilac bicycle harbour 42"


def test_the_manager_adds_a_nurse_who_sets_her_password_and_reaches_the_patients(
        browser_page, live_server, transactional_db, clinic_a, manager, patient):
    from django.contrib.auth import get_user_model

    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Clinic").click()
    page.get_by_role("link", name="Add a staff member").click()
    expect(page.get_by_role("heading", name="Add a staff member")).to_be_visible()
    assert_accessible(page, "add a staff member")
    page.get_by_label("Given name").fill("Nora")
    page.get_by_label("Family name").fill("Lee")
    page.get_by_label("Username").fill("nora.lee")
    page.get_by_label("Role").select_option("clinician")
    page.get_by_role("button", name="Add").click()

    expect(page.get_by_role("heading", name="Nora Lee is added")).to_be_visible()
    assert_accessible(page, "the set-password link")
    link = page.get_by_label("Set-password link").input_value()
    assert link.startswith(live_server.url + "/accounts/welcome/") or "/accounts/welcome/" in link
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_text("password not set yet")).to_be_visible()

    # The nurse, in a browser of her own (no cookies shared with the manager's).
    context = page.context.browser.new_context(viewport={"width": 420, "height": 860})
    try:
        nurse = context.new_page()
        errors = []
        nurse.on("pageerror", lambda exc: errors.append(str(exc)))
        nurse.goto(live_server.url + "/accounts/welcome/" + link.split("/accounts/welcome/", 1)[1])
        expect(nurse.get_by_role("heading", name="Welcome to Alpha Aesthetics")).to_be_visible()
        assert_accessible(nurse, "choose your password")
        nurse.get_by_label("Password", exact=True).fill("password123")
        nurse.get_by_label("Password again").fill("password123")
        nurse.get_by_role("button", name="Set my password").click()
        expect(nurse.get_by_text("This password is too common.")).to_be_visible()
        nurse.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
        nurse.get_by_label("Password again").fill(NEW_PASSWORD)
        nurse.get_by_role("button", name="Set my password").click()
        expect(nurse.get_by_role("heading", name="Patients")).to_be_visible()
        expect(nurse.get_by_text("Example, Dana")).to_be_visible()
        expect(nurse.get_by_text("Your password is set")).to_be_visible()
        nurse.screenshot(path="/tmp/staff_setup_nurse.png", full_page=True)
        # The link is used up.
        nurse.goto(live_server.url + "/accounts/welcome/" + link.split("/accounts/welcome/", 1)[1])
        expect(nurse.get_by_role("heading", name="This link has been used")).to_be_visible()
        assert not errors, errors
    finally:
        context.close()
    assert get_user_model().objects.get(username="nora.lee").check_password(NEW_PASSWORD)
