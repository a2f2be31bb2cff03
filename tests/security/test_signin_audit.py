"""Every sign-in event is in the audit trail (AU-4; ASVS 16.3.1): signing in (staff and
patients) and out, failures (naming the account only when the typed username is one),
password change and reset, the second step turned on and off, new recovery codes, a
wrong or reused code. The manager's audit page shows them in words."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.core import mail
from freezegun import freeze_time

from tests.conftest import PASSWORD
from tests.two_step import code
from tests.portal.conftest import dana  # noqa: F401 - fixture
from touchup.clinic.models import AuditEvent

NEW_PASSWORD = "lilac tide window 42"


def events(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def only(action: str) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, f"{action}: {len(found)} events"
    return found[0]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Refusals are written once the request's transaction commits (audit.record_denied);
    in a test everything is inside the test's transaction, so run them here."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_a_staff_sign_in_is_recorded_under_the_person_and_their_clinic(client, clinician, clinic_a):
    assert client.post("/accounts/login/", {"login": "alice", "password": PASSWORD}).status_code == 302
    e = only("signin")
    assert e.actor == clinician and e.actor_label == "alice" and e.clinic_id_ref == clinic_a.pk
    assert e.outcome == "ok" and e.ip == "127.0.0.1" and e.detail == {"mfa": False}


def test_a_patient_sign_in_on_the_portal_is_recorded_under_the_patients_clinic(client, dana):
    assert client.post("/portal/login/", {"login": "dana", "password": PASSWORD}).status_code == 302
    e = only("signin")
    assert e.actor == dana.user and e.clinic_id_ref == dana.clinic_id


def test_a_wrong_password_names_the_account(client, clinician, clinic_a, committed):
    with committed():
        r = client.post("/accounts/login/", {"login": "Alice", "password": "not it at all"})
    assert r.status_code == 200
    e = only("signin.failed")
    assert e.actor == clinician and e.clinic_id_ref == clinic_a.pk
    assert e.outcome == "denied" and e.detail == {"reason": "wrong_password"}


def test_an_unknown_username_is_not_stored(client, clinician, committed):
    typed = "Dana Example hunter2"  # a patient's name, or a password typed in the wrong box
    with committed():
        client.post("/accounts/login/", {"login": typed, "password": "whatever it is"})
        client.post("/portal/login/", {"login": typed, "password": "whatever it is"})
    failed = events("signin.failed")
    assert len(failed) == 2
    for e in failed:
        assert e.actor is None and e.actor_label == "" and e.clinic_id_ref is None
        assert e.detail == {"reason": "unknown_account"}
    for row in AuditEvent.objects.values():
        assert "hunter2" not in str(row) and "Dana Example" not in str(row)


def test_a_deactivated_account_is_named_as_such(client, clinician, committed):
    clinician.is_active = False
    clinician.save()
    with committed():
        client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert only("signin.failed").detail == {"reason": "inactive_account"}


def test_signing_out(client, clinician, clinic_a):
    client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert client.post("/accounts/logout/").status_code == 302
    e = only("signout")
    assert e.actor == clinician and e.clinic_id_ref == clinic_a.pk


def test_changing_the_password(client, clinician):
    client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    r = client.post("/accounts/password/change/",
                    {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 302
    assert only("password.changed").actor == clinician


def test_resetting_the_password_by_email(client, clinician):
    clinician.email = "alice@example.test"
    clinician.save()
    mail.outbox.clear()
    assert client.post("/accounts/password/reset/", {"email": "alice@example.test"}).status_code == 302
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
    form = client.get(link, follow=True)
    r = client.post(form.redirect_chain[-1][0], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 302
    e = only("password.reset")
    assert e.actor == clinician and e.outcome == "ok"


@pytest.fixture
def with_totp(client, dana, django_capture_on_commit_callbacks):
    """Dana signed in with an authenticator app turned on; returns its secret."""
    assert client.post("/portal/login/", {"login": "dana", "password": PASSWORD}).status_code == 302
    r = client.get("/accounts/2fa/totp/activate/")
    if r.status_code == 302 and "reauthenticate" in r["Location"]:  # allauth asks for the password again
        assert client.post(r["Location"], {"password": PASSWORD}).status_code == 302
        client.get("/accounts/2fa/totp/activate/")
    secret = client.session[SECRET_SESSION_KEY]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/accounts/2fa/totp/activate/", {"code": code(secret)}).status_code == 302
    return secret


def test_turning_two_step_sign_in_on_makes_recovery_codes_too(with_totp, dana):
    e = only("mfa.activated")
    assert e.actor == dana.user and e.clinic_id_ref == dana.clinic_id and e.detail == {"type": "totp"}
    assert only("mfa.recovery_codes").detail == {"type": "recovery_codes"}


def test_new_recovery_codes(with_totp, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/accounts/2fa/recovery-codes/generate/").status_code == 302
    assert len(events("mfa.recovery_codes")) == 2


def test_turning_it_off(with_totp, client, dana):
    assert client.post("/accounts/2fa/totp/deactivate/").status_code == 302
    assert not Authenticator.objects.filter(user=dana.user).exists()
    # The recovery codes go with the app.
    assert sorted(e.detail["type"] for e in events("mfa.deactivated")) == ["recovery_codes", "totp"]


def test_a_wrong_and_a_reused_code_at_sign_in(with_totp, client, dana, committed):
    def sign_in_with(code):
        client.post("/accounts/logout/")
        client.post("/portal/login/", {"login": "dana", "password": PASSWORD})
        return client.post("/accounts/2fa/authenticate/", {"code": code})

    with freeze_time(), committed():  # one 30 s period: the same code all along
        assert sign_in_with("000000").status_code == 200
        right = code(with_totp)
        assert client.post("/accounts/2fa/authenticate/", {"code": right}).status_code == 302
        assert sign_in_with(right).status_code == 200  # right, but already used once (AN-3)
    failed = events("mfa.failed")
    assert [e.detail for e in failed] == [{"reason": "wrong_code", "type": "totp"},
                                          {"reason": "reused_code", "type": "totp"}]
    assert all(e.actor == dana.user and e.outcome == "denied" and e.clinic_id_ref == dana.clinic_id for e in failed)
    # Before the app was on, then with the code; the reused code signed nobody in.
    assert [e.detail for e in events("signin")] == [{"mfa": False}, {"mfa": True}]


def test_the_managers_audit_page_says_it_in_words(client, manager, clinician, committed):
    with committed():
        client.post("/accounts/login/", {"login": "alice", "password": "not it at all"})
    client.post("/accounts/login/", {"login": "mona", "password": PASSWORD})
    html = client.get("/audit/").content.decode()
    assert "Sign-in failed: wrong password" in html
    assert "Signed in" in html
