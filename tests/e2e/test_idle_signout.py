"""In a real browser: a staff session left idle for 15 minutes lands on the sign-in page
with the reason, and signing in again comes back to the page the person was on. The
worklist's 30 s background poll is what notices, so nothing stays on screen."""

import time

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.e2e]


def idle_for(page, minutes: float) -> None:
    """Move the session's last activity back (the server's clock is the real one)."""
    from django.contrib.sessions.backends.db import SessionStore

    from touchup.clinic.idle import LAST_ACTIVITY

    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=key)
    session[LAST_ACTIVITY] = int(time.time() - minutes * 60)
    session.save()


def test_an_idle_session_ends_on_the_sign_in_page_with_the_reason(browser_page, live_server, transactional_db,
                                                                    clinician):
    page = browser_page
    page.goto(live_server.url + "/patients/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()

    idle_for(page, 16)
    page.goto(live_server.url + "/vials/")
    expect(page.get_by_role("heading", name="Sign in to Touchup")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You were signed out after 15 minutes without activity.")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url == live_server.url + "/vials/"


def test_the_background_poll_takes_an_idle_page_to_the_sign_in_page(browser_page, live_server, transactional_db,
                                                                      clinician):
    page = browser_page
    page.clock.install()  # the page's timers: htmx's 30 s poll runs when the test says
    page.goto(live_server.url + "/from-patients/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="From patients")).to_be_visible()

    idle_for(page, 16)
    page.clock.run_for(31_000)
    expect(page.get_by_role("heading", name="Sign in to Touchup")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You were signed out after 15 minutes without activity.")
    assert page.url.endswith("/accounts/login/?next=%2Ffrom-patients%2F")
