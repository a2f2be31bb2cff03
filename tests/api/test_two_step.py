"""The API's side of two-step sign-in: while a staff member's clinic requires it and they
have not set it up, every operation answers 403 with a JSON error that names the reason,
for a session and a personal token alike."""

import pytest

from tests.two_step import activate, require_two_step
from touchup.clinic import tokens
from touchup.clinic.models import AuditEvent

from .helpers import Api, counts

REFUSAL_CODE = "two_step_required"


@pytest.fixture
def token(clinician):
    return tokens.token_create(actor=clinician, name="nightly export")


def test_a_session_without_two_step_gets_a_clear_403(api_clinician, clinic_a, patient, denied):
    require_two_step(clinic_a)
    before = counts()
    for method, path, body in (("get", "/me", None), ("get", f"/patients/{patient.public_id}", None),
                               ("get", "/patients", None), ("post", "/patients/search", {"q": "Dana"}),
                               ("get", "/catalogue/products", None),
                               ("post", "/patients", {"given_name": "N", "family_name": "W",
                                                      "birth_date": "1990-01-01", "sex": "other"})):
        with denied():
            r = api_clinician.call(method, path, body)
        assert r.status_code == 403, (method, path, r.status_code)
        data = r.json()
        assert data["code"] == REFUSAL_CODE and "requires two-step sign-in" in data["detail"], data
        assert "Dana" not in r.content.decode()
    assert counts() == before
    assert AuditEvent.objects.filter(action="access.two_step_required", outcome="denied",
                                     detail={"via": "api"}).count() == 6


def test_a_token_without_two_step_gets_the_same_403(token, clinic_a, patient):
    require_two_step(clinic_a)
    r = Api(token=token.secret).get(f"/patients/{patient.public_id}")
    assert r.status_code == 403 and r.json()["code"] == REFUSAL_CODE


def test_with_two_step_set_up_both_pass(api_clinician, token, clinician, clinic_a, patient):
    require_two_step(clinic_a)
    activate(clinician)
    assert api_clinician.get(f"/patients/{patient.public_id}").status_code == 200
    assert Api(token=token.secret).get(f"/patients/{patient.public_id}").status_code == 200


def test_without_the_policy_nothing_changes(api_clinician, api_other, clinic_b, patient):
    assert api_clinician.get(f"/patients/{patient.public_id}").status_code == 200
    require_two_step(clinic_b)  # another clinic's policy is not alice's
    assert api_clinician.get("/me").status_code == 200
    assert api_other.get("/me").json()["code"] == REFUSAL_CODE


def test_anonymous_callers_still_get_401(anon, clinic_a):
    require_two_step(clinic_a)
    assert anon.get("/me").status_code == 401
