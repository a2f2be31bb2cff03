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


def test_the_staff_reset_pages_speak_plainly_like_the_portals(client, clinician):
    """allauth's defaults read "Password Reset", "Reset My Password", "Bad Token" and
    "Please contact us"; the staff pages say what the portal's say, in the staff layout."""
    import re

    from django.core import mail

    clinician.email = "alice@example.test"
    clinician.save()
    html = client.get("/accounts/password/reset/").content.decode()
    assert "<h1 id=\"reset-h\">Forgotten your password?</h1>" in html and ">Email me a link</button>" in html
    assert "Ask your clinic manager" in html and 'href="/accounts/login/">Back to sign-in</a>' in html
    for default in ("Password Reset", "Reset My Password", "contact us"):
        assert default not in html
    r = client.post("/accounts/password/reset/", {"email": "alice@example.test"}, follow=True)
    assert "<h1 id=\"reset-h\">Check your email</h1>" in r.content.decode()
    assert 'aria-label="Touchup home"' in r.content.decode()
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)

    bad = client.get(link.replace("-", "-x", 1), follow=True).content.decode()
    assert "This link does not work" in bad and 'href="/accounts/password/reset/">Ask for a new link</a>' in bad
    assert "Bad Token" not in bad

    page = client.get(link, follow=True)
    html = page.content.decode()
    assert "<h1 id=\"reset-h\">Choose a new password</h1>" in html and ">Save my new password</button>" in html
    _fields_and_button(html)
    action = re.search(r'<form method="post" class="form" action="([^"]+)"', html).group(1)
    weak = client.post(action, {"password1": "abc", "password2": "abc"})
    assert "Please correct the marked field" in weak.content.decode()
    done = client.post(action, {"password1": "a long new password for alice",
                                "password2": "a long new password for alice"}, follow=True).content.decode()
    assert "Your password is changed" in done and 'href="/accounts/login/">Sign in</a>' in done
    assert 'aria-label="Touchup home"' in done and '<body class="portal"' not in done
