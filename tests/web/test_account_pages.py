"""allauth's own pages (password change and reset) in the site's form layout: labels above
their boxes, help and errors as on every form, the site's buttons. Its defaults were
"Current Password: [box]" paragraphs and a bare browser button."""

import re

import pytest

pytestmark = pytest.mark.django_db


def _fields_and_button(html):
    assert '<form method="post" class="form"' in html
    assert re.search(r'<button\s+type="submit"\s+class="btn btn-primary"\s*>', html), html
    assert "<p><label" not in html  # as_p's layout


def test_password_change_is_laid_out_like_every_form(as_front_desk):
    html = as_front_desk.get("/accounts/password/change/").content.decode()
    _fields_and_button(html)
    assert '<label for="id_oldpassword">Current Password</label>' in html
    assert '<p class="help" id="id_password1_helptext">' in html


def test_a_refused_change_names_the_field_in_the_sites_way(as_front_desk):
    r = as_front_desk.post("/accounts/password/change/", {"oldpassword": "wrong-one-1", "password1": "x",
                                                          "password2": "y"})
    html = r.content.decode()
    assert r.status_code == 200
    assert '<p class="field-error" id="id_oldpassword_error">' in html
    assert "Please correct the marked fields. Nothing was saved." in html


def test_password_reset_is_laid_out_like_every_form(client):
    html = client.get("/accounts/password/reset/").content.decode()
    _fields_and_button(html)
    assert '<label for="id_email">Email</label>' in html
