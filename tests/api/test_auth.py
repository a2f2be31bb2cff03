"""Who may call the API: session (with CSRF on unsafe methods) or a personal bearer token."""

import datetime as dt
import hashlib

import pytest

from touchup.clinic import tokens
from touchup.clinic.models import ApiToken, AuditEvent

from .helpers import Api, counts


@pytest.fixture
def token(clinician):
    return tokens.token_create(actor=clinician, name="nightly export")


def test_a_token_works_and_acts_as_its_owner(token, clinician, patient):
    api = Api(token=token.secret)
    r = api.get("/me")
    assert r.status_code == 200
    assert r.json()["username"] == "alice" and r.json()["role"] == "clinician"
    assert api.get(f"/patients/{patient.public_id}").status_code == 200
    # The read is in the trail under the token's owner.
    assert AuditEvent.objects.filter(action="patient.view").latest("id").actor == clinician


def test_a_token_can_write_without_csrf(token, clinic_a):
    api = Api(token=token.secret, csrf=True)
    r = api.post("/patients", {"given_name": "T", "family_name": "K", "birth_date": "1990-01-01", "sex": "male"})
    assert r.status_code == 201


def test_a_revoked_token_fails(token, clinician):
    api = Api(token=token.secret)
    assert api.get("/me").status_code == 200
    tokens.token_revoke(actor=clinician, token=token.token)
    r = api.get("/me")
    assert r.status_code == 401
    assert r["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("secret", ["", "tu_wrong", "x" * 500, "tu_" + "A" * 43, "Bearer", "tu_\x00"])
def test_unknown_tokens_fail(db, secret):
    assert Api(token=secret or "   ").get("/me").status_code == 401


def test_a_bad_bearer_is_refused_even_with_a_session(clinician):
    """Fail closed: a script must notice its token is dead, not ride on a cookie."""
    api = Api(clinician)
    api.headers["Authorization"] = "Bearer tu_revoked-or-made-up"
    assert api.get("/me").status_code == 401


def test_a_deactivated_persons_token_fails(token, clinician):
    clinician.is_active = False
    clinician.save()
    assert Api(token=token.secret).get("/me").status_code == 401


def test_only_the_hash_is_stored(token):
    row = ApiToken.objects.get()
    assert row.token_sha256 == hashlib.sha256(token.secret.encode()).hexdigest()
    assert token.secret.startswith("tu_") and len(token.secret) >= 3 + 43  # 32 bytes, base64url
    for value in ApiToken.objects.values_list(flat=False).get():
        assert value != token.secret


def test_last_used_is_updated_at_most_once_a_minute(token):
    api = Api(token=token.secret)
    api.get("/me")
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    api.get("/me")
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - dt.timedelta(seconds=61))
    api.get("/me")
    assert ApiToken.objects.get().last_used_at > first - dt.timedelta(seconds=1)


def test_making_a_token_needs_the_session_and_shows_the_secret_once(api_clinician, clinician, token):
    r = api_clinician.post("/tokens", {"name": "laptop"})
    assert r.status_code == 201
    secret = r.json()["token"]
    assert Api(token=secret).get("/me").status_code == 200
    listed = api_clinician.get("/tokens").json()
    assert {t["name"] for t in listed} == {"laptop", "nightly export"}
    assert all("token" not in t for t in listed)
    assert AuditEvent.objects.filter(action="api_token.create", actor=clinician).count() == 2
    # A token cannot mint tokens: a leaked one must not outlive its revocation.
    before = counts()
    assert Api(token=token.secret).post("/tokens", {"name": "more"}).status_code == 401
    assert counts() == before


def test_a_token_name_is_required(api_clinician):
    before = counts()
    r = api_clinician.post("/tokens", {"name": "  "})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "name"
    assert counts() == before


def test_revoking_is_audited_and_only_for_your_own_tokens(api_clinician, api_other, clinician, token, denied):
    before = counts()
    r = api_other.delete(f"/tokens/{token.token.pk}")
    assert r.status_code == 404
    assert counts() == before
    r = api_clinician.delete(f"/tokens/{token.token.pk}")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert AuditEvent.objects.filter(action="api_token.revoke", actor=clinician).count() == 1
    # Revoking again changes nothing and writes nothing.
    again = counts()
    assert api_clinician.delete(f"/tokens/{token.token.pk}").status_code == 200
    assert counts() == again


def test_a_token_may_revoke_itself(token):
    api = Api(token=token.secret)
    assert api.delete(f"/tokens/{token.token.pk}").status_code == 200
    assert api.get("/me").status_code == 401


def test_csrf_session_writes_need_the_token(clinician, clinic_a):
    """The session cookie rides along with any cross-site form: unsafe methods need the token."""
    api = Api(clinician, csrf=True)
    body = {"given_name": "C", "family_name": "S", "birth_date": "1990-01-01", "sex": "male"}
    before = counts()
    r = api.post("/patients", body)
    assert r.status_code == 403
    assert counts() == before
    # With the CSRF token (as a page that loaded it would send) it goes through.
    api.get("/me")
    api.client.get("/")  # any page sets the csrftoken cookie
    csrf = api.client.cookies.get("csrftoken")
    if csrf is None:
        from django.middleware.csrf import _get_new_csrf_string

        csrf_value = _get_new_csrf_string()
        api.client.cookies["csrftoken"] = csrf_value
    else:
        csrf_value = csrf.value
    api.headers["X-CSRFToken"] = csrf_value
    assert api.post("/patients", body).status_code == 201


def test_reads_do_not_need_csrf(clinician):
    assert Api(clinician, csrf=True).get("/me").status_code == 200


def test_anonymous_post_is_401_not_a_csrf_403(db):
    assert Api(csrf=True).post("/patients", {}).status_code == 401


def test_api_responses_are_not_cached(api_clinician, patient, token):
    for api in (api_clinician, Api(token=token.secret)):
        r = api.get(f"/patients/{patient.public_id}")
        assert r["Cache-Control"] == "no-store"
        assert r["Content-Type"] == "application/json; charset=utf-8"


def test_docs_are_behind_the_login_in_production(anon, api_front_desk, token, settings):
    for path in ("/api/docs", "/api/openapi.json"):
        assert anon.get(path).status_code == 401
        assert api_front_desk.get(path).status_code == 200
        assert Api(token=token.secret).get(path).status_code == 200
    settings.DEBUG = True  # TOUCHUP_DEV=1
    assert anon.get("/api/openapi.json").status_code == 200


def test_me_for_each_role(api_front_desk, api_manager):
    fd = api_front_desk.get("/me").json()
    assert fd["role"] == "front_desk" and "clinical.view" not in fd["permissions"]
    assert "audit.view" in api_manager.get("/me").json()["permissions"]


