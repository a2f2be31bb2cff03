"""A nurse whose clinic requires two-step sign-in signs in, is sent to set it up, types the
code her authenticator app would show for the key on the page, and reaches the patients."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD, _user
from tests.e2e.a11y import assert_accessible
from tests.two_step import code, require_two_step

pytestmark = [pytest.mark.e2e]


def test_a_nurse_sets_up_two_step_sign_in_before_the_patient_list(browser_page, live_server, transactional_db,
                                                                   clinic_a, patient, django_user_model):
    from allauth.mfa.models import Authenticator

    nurse = _user(django_user_model, "nora", clinic_a, "clinician")
    require_two_step(clinic_a)
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("nora")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Sent to set it up, not to the patients; allauth asks for the password once more first
    # (it counts only a confirmation, not the sign-in, as "recent").
    expect(page.get_by_text("Alpha Aesthetics requires two-step sign-in for all staff")).to_be_visible()
    expect(page.get_by_text("Example")).to_have_count(0)
    assert_accessible(page, "password confirmation before the two-step setup")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    expect(page.get_by_text("Alpha Aesthetics requires two-step sign-in for all staff")).to_be_visible()
    assert page.url.endswith("/accounts/2fa/totp/activate/")
    expect(page.get_by_text("Example")).to_have_count(0)
    assert_accessible(page, "two-step setup")
    page.goto(live_server.url + f"/patients/{patient.public_id}/")
    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()

    page.screenshot(path="/tmp/two_step_setup.png", full_page=True)
    # A wrong code is refused; the code the app would show for the key on the page works.
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Activate").click()
    expect(page.locator(".field-error")).to_be_visible()
    secret = page.get_by_label("Key (if you cannot scan)").input_value()
    page.get_by_label("Code from the app").fill(code(secret))
    page.get_by_role("button", name="Activate").click()

    expect(page.get_by_role("heading", name="Recovery codes")).to_be_visible()
    assert_accessible(page, "recovery codes")
    assert Authenticator.objects.filter(user=nurse, type="totp").exists()
    page.get_by_role("link", name="Done, I have kept them").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    expect(page.get_by_text("Example, Dana")).to_be_visible()
    page.get_by_role("link", name="Your account").click()
    expect(page.locator(".badge-ok", has_text="Set up")).to_be_visible()
    assert_accessible(page, "your account")
