"""The catalogue is readable by every staff role and by nobody else."""

import pytest

from .helpers import Api, protocol_for


@pytest.mark.parametrize("persona", ["api_clinician", "api_front_desk", "api_manager"])
def test_every_staff_role_reads_the_catalogue(request, persona):
    api = request.getfixturevalue(persona)
    products = api.get("/catalogue/products")
    assert products.status_code == 200
    assert "onabotulinumtoxinA" in {p["key"] for p in products.json()}
    indications = {i["key"] for i in api.get("/catalogue/indications").json()}
    assert {"glabellar_lines", "chronic_migraine"} <= indications


def test_protocols_come_with_their_sites(api_clinician):
    key = protocol_for()
    listed = api_clinician.get("/catalogue/protocols", indication="glabellar_lines").json()
    assert key in {p["key"] for p in listed}
    assert all(p["indication"] == "glabellar_lines" for p in listed)
    one = api_clinician.get(f"/catalogue/protocols/{key}").json()
    assert one["key"] == key and one["sites"]
    assert {"key", "area", "units"} <= set(one["sites"][0])


def test_an_unknown_protocol_is_a_404(api_clinician):
    assert api_clinician.get("/catalogue/protocols/nope").json() == {"detail": "Not found."}


def test_the_catalogue_needs_a_login_and_a_clinic(anon, django_user_model):
    assert anon.get("/catalogue/products").status_code == 401
    loner = django_user_model.objects.create_user(username="loner", password="x" * 12)
    assert Api(loner).get("/catalogue/products").status_code == 403
