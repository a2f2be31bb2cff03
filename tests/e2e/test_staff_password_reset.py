"""A clinician who forgot her password resets it from the staff sign-in page: every step
in the staff layout (the top bar, the staff stylesheet, not the portal's), in the same
plain words as the portal's reset, and she signs in with the new password."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.e2e.a11y import assert_accessible

pytestmark = [pytest.mark.e2e]

NEW_PASSWORD = "lilac bicycle harbour 42"


def staff_layout(page, what):
    expect(page.get_by_role("link", name="Touchup home")).to_be_visible()
    assert page.locator('link[href$="touchup/touchup.css"]').count() == 1, what
    assert page.locator('link[href$="portal/portal.css"]').count() == 0, what
    assert "portal" not in (page.locator("body").get_attribute("class") or ""), what
    # The page's card sits in the layout's main, styled: not allauth's bare default markup.
    assert page.locator("main .card.narrow h1").count() == 1, what
    assert_accessible(page, what)


def test_a_clinician_resets_her_password_in_the_staff_layout(browser_page, live_server, transactional_db,
                                                             clinician):
    clinician.email = "alice@example.test"
    clinician.save()
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", name="Forgotten your password?")).to_be_visible()
    staff_layout(page, "the staff reset request")
    expect(page.get_by_text("Enter the email address your clinic has for you.")).to_be_visible()

    mail.outbox.clear()
    page.get_by_label("Email").fill("alice@example.test")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    staff_layout(page, "check your email")

    link = re.search(r"http://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
    page.goto(live_server.url + link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    staff_layout(page, "choose a new password")
    page.get_by_label("New Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New Password (again)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save my new password").click()
    expect(page.get_by_role("heading", name="Your password is changed")).to_be_visible()
    staff_layout(page, "password changed")
    page.screenshot(path="/tmp/staff_reset_done.png", full_page=True)

    page.get_by_role("link", name="Sign in").last.click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()

    # A used link says so, in the same layout, and offers a new one.
    page.context.clear_cookies()
    page.goto(live_server.url + link)
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    staff_layout(page, "a used link")
