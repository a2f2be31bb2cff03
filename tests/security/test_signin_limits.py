"""Failed sign-ins are limited (AN-2): by default 5 per username in 5 minutes, 10 in 15
minutes, and 10 per IP address a minute, on the staff and the portal sign-in and on the
two-step code. Over the limit the answer is 429 with a sentence, even for the right
password; the lockout is audited once; after the window the account signs in again.
The counters are in the database cache, shared by every process of the web server."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from freezegun import freeze_time

from tests.conftest import PASSWORD
from tests.portal.conftest import dana  # noqa: F401 - fixture
from touchup.clinic.models import AuditEvent

LOGINS = {"staff": "/accounts/login/", "portal": "/portal/login/"}
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Refusals are written once the request's transaction commits (audit.record_denied)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def sign_in(client, where, username, password):
    return client.post(LOGINS[where], {"login": username, "password": password})


def test_the_cache_is_shared_by_the_servers_processes():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"


@pytest.mark.parametrize("where, username", [("staff", "alice"), ("portal", "dana")])
def test_five_failures_lock_the_account_for_five_minutes(client, clinician, dana, committed, where, username):
    user = clinician if username == "alice" else dana.user
    with freeze_time(T0) as clock, committed():
        for _ in range(5):
            assert sign_in(client, where, username, "not the password").status_code == 200
            clock.tick(10)
        # Locked: the right password is refused too, with a sentence and when to come back.
        for _ in range(3):
            r = sign_in(client, where, username, PASSWORD)
            assert r.status_code == 429
            assert "Too many failed sign-in attempts" in r.content.decode()
            assert int(r["Retry-After"]) > 0
            clock.tick(10)
        assert "_auth_user_id" not in client.session
    locked = list(AuditEvent.objects.filter(action="signin.locked"))
    assert len(locked) == 1, "one event per lockout, not per refused attempt"
    assert locked[0].actor == user and locked[0].outcome == "denied"
    assert locked[0].clinic_id_ref == (dana.clinic_id if where == "portal" else clinician.memberships.get().clinic_id)
    assert locked[0].detail["limit"] == "account" and 1 <= locked[0].detail["minutes"] <= 5
    assert AuditEvent.objects.filter(action="signin.failed").count() == 5  # the refused ones are not failures

    # Five minutes after the first failure the account signs in again.
    with freeze_time(T0 + dt.timedelta(minutes=5, seconds=1)):
        r = sign_in(client, where, username, PASSWORD)
        assert r.status_code == 302


def test_the_portal_page_keeps_the_portals_layout(client, dana):
    with freeze_time(T0):
        for _ in range(5):
            sign_in(client, "portal", "dana", "not the password")
        r = sign_in(client, "portal", "dana", PASSWORD)
    assert r.status_code == 429 and 'class="portal"' in r.content.decode()


def test_ten_failures_in_fifteen_minutes_lock_again(client, clinician, committed):
    with freeze_time(T0) as clock, committed():
        for _ in range(5):
            sign_in(client, "staff", "alice", "not the password")
        clock.tick(dt.timedelta(minutes=5, seconds=1))
        for _ in range(5):
            assert sign_in(client, "staff", "alice", "not the password").status_code == 200
        assert sign_in(client, "staff", "alice", PASSWORD).status_code == 429
        clock.tick(dt.timedelta(minutes=6))  # the second five are 6 minutes old, the first 11
        assert sign_in(client, "staff", "alice", PASSWORD).status_code == 429
    assert AuditEvent.objects.filter(action="signin.locked").count() == 2  # two lockouts
    with freeze_time(T0 + dt.timedelta(minutes=15, seconds=1)):
        assert sign_in(client, "staff", "alice", PASSWORD).status_code == 302


def test_a_lockout_of_an_unknown_username_stores_no_typed_text(client, db, committed):
    with freeze_time(T0), committed():
        for _ in range(6):
            r = sign_in(client, "staff", "Dana Example 1984", "hunter2 maybe")
    assert r.status_code == 429
    locked = AuditEvent.objects.get(action="signin.locked")
    assert locked.actor is None and locked.detail["reason"] == "unknown_account"
    assert not any("Dana" in str(row) or "hunter2" in str(row) for row in AuditEvent.objects.values())


def test_ten_failures_from_one_address_pause_every_account_for_a_minute(client, clinician, committed):
    with freeze_time(T0) as clock, committed():
        for i in range(10):
            assert sign_in(client, "staff", f"guess{i}", "not the password").status_code == 200
        r = sign_in(client, "portal", "alice", PASSWORD)
        assert r.status_code == 429
        sign_in(client, "staff", "alice", PASSWORD)
        clock.tick(61)
        assert sign_in(client, "staff", "alice", PASSWORD).status_code == 302
    locked = AuditEvent.objects.get(action="signin.locked")
    assert locked.actor is None and locked.detail == {"limit": "ip", "minutes": 1}


def test_a_right_password_does_not_count(client, clinician):
    # allauth takes a success's count back by its timestamp: the clock must move.
    with freeze_time(T0) as clock:
        for _ in range(4):
            sign_in(client, "staff", "alice", "not the password")
            clock.tick(1)
        for _ in range(3):
            assert sign_in(client, "staff", "alice", PASSWORD).status_code == 302
            client.post("/accounts/logout/")
            clock.tick(1)
        assert sign_in(client, "staff", "alice", "not the password").status_code == 200
        assert sign_in(client, "staff", "alice", PASSWORD).status_code == 429


def test_wrong_two_step_codes_lock_the_second_step(client, dana, committed, django_capture_on_commit_callbacks):
    from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

    from tests.two_step import code as totp_code

    client.post("/portal/login/", {"login": "dana", "password": PASSWORD})
    r = client.get("/accounts/2fa/totp/activate/")
    if r.status_code == 302 and "reauthenticate" in r["Location"]:
        client.post(r["Location"], {"password": PASSWORD})
        client.get("/accounts/2fa/totp/activate/")
    secret = client.session[SECRET_SESSION_KEY]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)})
    client.post("/accounts/logout/")
    with freeze_time(T0), committed():
        client.post("/portal/login/", {"login": "dana", "password": PASSWORD})
        for _ in range(5):
            assert client.post("/accounts/2fa/authenticate/", {"code": "000000"}).status_code == 200
        for _ in range(2):
            r = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
            assert r.status_code == 429 and "Too many failed sign-in attempts" in r.content.decode()
    locked = AuditEvent.objects.get(action="signin.locked")
    assert locked.actor == dana.user and locked.detail["limit"] == "mfa_code"
    assert AuditEvent.objects.filter(action="mfa.failed").count() == 5
