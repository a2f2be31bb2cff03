"""Sessions end after 15 minutes without activity for staff, 30 for patients, and 12
hours after signing in however active (SE-1; ASVS 7.3.1, 7.3.2). Background polling is
not activity. The next page goes to the right sign-in page with `next` and a message;
an htmx request gets HX-Redirect instead of a sign-in form in a fragment."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from freezegun import freeze_time

from tests.conftest import PASSWORD
from tests.portal.conftest import dana  # noqa: F401 - fixture
from tests.two_step import require_two_step
from touchup.clinic.models import AuditEvent

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
STAFF_MESSAGE = "You were signed out after 15 minutes without activity."
POLL = {"HTTP_HX_REQUEST": "true", "HTTP_X_TOUCHUP_BACKGROUND": "true",
        "HTTP_HX_CURRENT_URL": "http://testserver/from-patients/"}


def at(minutes: float):
    return freeze_time(T0 + dt.timedelta(minutes=minutes))


def next_of(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parse_qs(parts.query).get("next", [""])[0]


@pytest.fixture
def staff(client, clinician):
    with at(0):
        assert client.post("/accounts/login/", {"login": "alice", "password": PASSWORD}).status_code == 302
    return client


def test_activity_keeps_a_staff_session_and_fifteen_idle_minutes_end_it(staff, clinician):
    with at(10):
        assert staff.get("/patients/").status_code == 200
    with at(24.5):  # 14.5 minutes after the last page
        assert staff.get("/patients/").status_code == 200
    with at(39.5):  # 15 minutes after it
        r = staff.get("/patients/?page=2")
        assert r.status_code == 302
        assert next_of(r["Location"]) == ("/accounts/login/", "/patients/?page=2")
        page = staff.get(r["Location"])
        assert page.status_code == 200 and STAFF_MESSAGE in page.content.decode()
        assert "_auth_user_id" not in staff.session
        # Signed out once: the next request is simply anonymous, not a second sign-out.
        assert staff.get("/patients/").status_code == 302
    idle = AuditEvent.objects.get(action="signout.idle")
    assert idle.actor == clinician and idle.clinic_id_ref == clinician.memberships.get().clinic_id
    assert not AuditEvent.objects.filter(action="signout").exists()


def test_an_htmx_request_after_the_timeout_is_sent_to_the_sign_in_page(staff):
    with at(16):
        r = staff.get("/patients/search/?q=da", HTTP_HX_REQUEST="true",
                      HTTP_HX_CURRENT_URL="http://testserver/patients/?q=da")
    assert r.status_code == 200 and r.content == b""
    # The page the person was on, not the fragment's address.
    assert next_of(r["HX-Redirect"]) == ("/accounts/login/", "/patients/?q=da")
    assert AuditEvent.objects.filter(action="signout.idle").count() == 1


def test_background_polling_does_not_keep_a_session_alive(staff):
    for minute in range(1, 15):
        with at(minute):
            r = staff.get("/from-patients/?part=summary", **POLL)
            assert r.status_code == 200 and "HX-Redirect" not in r
    with at(15):
        r = staff.get("/from-patients/?part=summary", **POLL)
    # The poll itself takes the open page to the sign-in page: nothing stays on screen.
    assert next_of(r["HX-Redirect"]) == ("/accounts/login/", "/from-patients/")


def test_the_same_requests_as_activity_do(staff):
    for minute in range(1, 31):
        with at(minute):
            r = staff.get("/from-patients/?part=summary", HTTP_HX_REQUEST="true")
            assert r.status_code == 200 and "HX-Redirect" not in r


def test_a_form_post_after_the_timeout_comes_back_to_the_page_it_was_sent_from(staff, patient):
    page = f"/patients/{patient.public_id}/edit/"
    with at(20):
        r = staff.post(page, {"given_name": "X"}, HTTP_REFERER=f"http://testserver{page}")
    assert next_of(r["Location"]) == ("/accounts/login/", page)


def test_a_patient_has_thirty_minutes_and_comes_back_to_the_portal(client, dana):
    with at(0):
        client.post("/portal/login/", {"login": "dana", "password": PASSWORD})
    with at(29):
        assert client.get("/portal/").status_code == 200
    with at(59):
        r = client.get("/portal/diary/")
    assert next_of(r["Location"]) == ("/portal/login/", "/portal/diary/")
    page = client.get(r["Location"])
    assert "You were signed out after 30 minutes without activity." in page.content.decode()
    assert AuditEvent.objects.get(action="signout.idle").actor == dana.user


def test_twelve_hours_after_signing_in_the_session_ends_however_active(staff, clinician):
    minute = 0
    while minute < 12 * 60 - 10:
        minute += 10
        with at(minute):
            assert staff.get("/patients/").status_code == 200
    with at(12 * 60):
        r = staff.get("/patients/")
        assert next_of(r["Location"]) == ("/accounts/login/", "/patients/")
        assert "12 hours have passed since you signed in" in staff.get(r["Location"]).content.decode()
    assert AuditEvent.objects.get(action="signout.expired").actor == clinician


def test_an_htmx_request_without_a_session_is_redirected_whole(client, db):
    r = client.get("/patients/search/?q=da", HTTP_HX_REQUEST="true",
                   HTTP_HX_CURRENT_URL="http://testserver/patients/")
    assert next_of(r["HX-Redirect"]) == ("/accounts/login/", "/patients/")


def test_the_sign_in_page_after_the_timeout_shows_the_message(staff):
    with at(16):
        page = staff.get("/accounts/login/")
    assert page.status_code == 200 and STAFF_MESSAGE in page.content.decode()
    assert AuditEvent.objects.filter(action="signout.idle").count() == 1


def test_polling_pages_mark_their_requests_as_background():
    """Every `hx-trigger="every ..."` in the templates sends the background header."""
    import re
    from pathlib import Path

    import touchup

    root = Path(touchup.__file__).parent
    polling = [(p, tag) for p in root.rglob("*.html") for tag in re.findall(r"<[^>]*hx-trigger=\"[^\"]*every[^>]*>", p.read_text())]
    assert polling
    for path, tag in polling:
        assert '"X-Touchup-Background": "true"' in tag, path


def test_an_idle_session_owing_two_step_is_signed_out_not_sent_to_the_setup(staff, clinic_a):
    """The idle limit comes first: the setup page would only sign the person out a request
    later, after showing a page to someone who may not be them."""
    require_two_step(clinic_a)
    with at(16):
        r = staff.get("/patients/")
    assert next_of(r["Location"]) == ("/accounts/login/", "/patients/")
    assert AuditEvent.objects.filter(action="signout.idle").count() == 1
