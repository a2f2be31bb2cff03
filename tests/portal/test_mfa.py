"""Optional two-step sign-in for patients: an authenticator app (TOTP) set up from the
portal; once on, the portal sign-in asks for the code."""

import re

import pytest

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY

from tests.conftest import PASSWORD
from tests.two_step import code


def test_the_settings_page_offers_two_step_sign_in(as_dana):
    html = as_dana.get("/portal/settings/").content.decode()
    assert "Two-step sign-in" in html and "/accounts/2fa/" in html


def test_a_patient_turns_it_on_and_then_the_sign_in_asks_for_the_code(client, dana):
    assert client.post("/portal/login/", {"login": "dana", "password": PASSWORD}).status_code == 302
    # Turning it on asks for the password again (allauth's reauthentication).
    r = client.get("/accounts/2fa/totp/activate/")
    if r.status_code == 302 and "reauthenticate" in r["Location"]:
        assert client.post(r["Location"], {"password": PASSWORD}).status_code == 302
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    assert 'class="portal"' in page.content.decode()  # in the portal's layout
    secret = client.session[SECRET_SESSION_KEY]
    r = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert r.status_code == 200 and not Authenticator.objects.filter(user=dana.user).exists()
    r = client.post("/accounts/2fa/totp/activate/", {"code": code(secret)})
    assert r.status_code == 302
    assert Authenticator.objects.filter(user=dana.user, type="totp").exists()

    client.logout()
    r = client.post("/portal/login/", {"login": "dana", "password": PASSWORD})
    assert r.status_code == 302 and "/accounts/2fa/authenticate/" in r["Location"]
    assert client.get("/portal/").status_code in (302, 403)  # not signed in until the code
    bad = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert bad.status_code == 200
    ok = client.post("/accounts/2fa/authenticate/", {"code": code(secret)})
    assert ok.status_code == 302
    assert client.get("/portal/").status_code == 200


def test_the_clinics_staff_policy_leaves_patients_to_choose(client, dana, clinic_a):
    """A clinic that requires two-step sign-in of its staff does not require it of patients."""
    from tests.two_step import require_two_step

    require_two_step(clinic_a)
    assert client.post("/portal/login/", {"login": "dana", "password": PASSWORD}).status_code == 302
    for url in ("/portal/", "/portal/settings/", "/portal/diary/"):
        assert client.get(url).status_code == 200, url
    html = client.get("/accounts/2fa/").content.decode()
    assert 'class="portal"' in html and "requires two-step" not in html


@pytest.mark.parametrize("steps, accepted", [(-1, True), (1, True), (-2, False), (2, False)])
def test_a_code_one_step_either_side_of_the_clock_is_accepted_and_no_further(client, dana, steps, accepted):
    """A code typed as it rolls over, or from a phone a few seconds off, still works (one
    30-second step either side, RFC 6238's allowance for delay); older or newer ones do not."""
    from tests.two_step import activate

    secret = activate(dana.user)
    r = client.post("/portal/login/", {"login": "dana", "password": PASSWORD})
    assert "/accounts/2fa/authenticate/" in r["Location"]
    r = client.post("/accounts/2fa/authenticate/", {"code": code(secret, steps)})
    assert (r.status_code == 302) is accepted
    assert (client.get("/portal/").status_code == 200) is accepted
