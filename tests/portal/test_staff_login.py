"""A patient who signs in on the staff login page lands in the portal, not on a 403."""

from tests.conftest import PASSWORD


def test_a_patient_signing_in_on_the_staff_login_lands_in_the_portal(client, dana):
    r = client.post("/accounts/login/", {"login": "dana", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/portal/"
    assert client.get("/").url == "/portal/"


def test_staff_still_land_on_the_patient_list(client, clinician):
    r = client.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] != "/portal/"
    assert client.get("/").url == "/patients/"
