"""A patient's forgotten password, from the portal's sign-in to signing in again, in the
portal's layout all the way (it rendered in the staff layout under /accounts/, with the
staff sign-in at the end). Staff keep allauth's /accounts/ pages in the staff layout."""

import re

import pytest
from django.core import mail

from touchup.clinic.models import AuditEvent

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new portal passphrase"


def portal_layout(html):
    return '<body class="portal"' in html and "portal/portal.css" in html and "Touchup home" not in html


def emailed_path(prefix):
    body = mail.outbox[-1].body
    return re.search(r"http://testserver(" + prefix + r"password/reset/key/\S+/)", body).group(1)


def test_the_portal_sign_in_links_to_the_portals_reset(client):
    html = client.get("/portal/login/").content.decode()
    assert 'href="/portal/password/reset/">Forgotten your password?</a>' in html


def test_the_whole_reset_stays_in_the_portal(client, dana):
    page = client.get("/portal/password/reset/")
    html = page.content.decode()
    assert page.status_code == 200 and portal_layout(html)
    assert 'action="/portal/password/reset/"' in html and '<label for="id_email">Email</label>' in html

    mail.outbox.clear()
    r = client.post("/portal/password/reset/", {"email": "dana@example.test"})
    assert r.status_code == 302 and r["Location"] == "/portal/password/reset/done/"
    done = client.get(r["Location"]).content.decode()
    assert portal_layout(done) and "Check your email" in done

    link = emailed_path("/portal/")
    form = client.get(link, follow=True)
    set_path = form.redirect_chain[-1][0]
    assert set_path.startswith("/portal/password/reset/key/") and set_path.endswith("-set-password/")
    html = form.content.decode()
    assert portal_layout(html) and "Choose a new password" in html
    assert f'action="{set_path}"' in html and 'id="id_password1"' in html

    r = client.post(set_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/portal/password/reset/key/done/"
    html = client.get(r["Location"]).content.decode()
    assert portal_layout(html) and 'href="/portal/login/"' in html and "/accounts/login/" not in html
    assert AuditEvent.objects.filter(action="password.reset", actor=dana.user).count() == 1

    r = client.post("/portal/login/", {"login": "dana", "password": NEW_PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/portal/"


def test_a_refused_new_password_is_shown_in_the_portal(client, dana):
    client.post("/portal/password/reset/", {"email": "dana@example.test"})
    set_path = client.get(emailed_path("/portal/"), follow=True).redirect_chain[-1][0]
    r = client.post(set_path, {"password1": NEW_PASSWORD, "password2": "something else entirely"})
    html = r.content.decode()
    assert r.status_code == 200 and portal_layout(html)
    assert '<p class="field-error" id="id_password2_error">' in html


def test_a_used_or_wrong_link_says_so_in_the_portal(client, dana):
    r = client.get("/portal/password/reset/key/1-not-a-real-key/")
    html = r.content.decode()
    assert r.status_code == 200 and portal_layout(html)
    assert "This link does not work" in html and 'href="/portal/password/reset/"' in html


def test_a_patient_who_asks_on_the_staff_page_gets_the_portals_link(client, dana):
    """The emailed link follows the account, not the page it was asked from."""
    mail.outbox.clear()
    client.post("/accounts/password/reset/", {"email": "dana@example.test"})
    assert emailed_path("/portal/").startswith("/portal/password/reset/key/")


def test_staff_keep_the_staff_pages(client, clinician):
    clinician.email = "alice@example.test"
    clinician.save()
    html = client.get("/accounts/password/reset/").content.decode()
    assert "Touchup home" in html and '<body class="portal"' not in html
    mail.outbox.clear()
    client.post("/accounts/password/reset/", {"email": "alice@example.test"})
    link = emailed_path("/accounts/")
    html = client.get(link, follow=True).content.decode()
    assert "Touchup home" in html and '<body class="portal"' not in html


def test_the_portals_reset_key_stays_out_of_the_logs():
    from touchup.web.log_paths import redacted

    assert redacted("/portal/password/reset/key/2s-cz1abc-0123456789abcdef/") == "/portal/password/reset/key/…-…/"


def test_an_address_with_no_account_is_not_invited_to_sign_up(client):
    """allauth's "Unknown Account" email offered a sign-up link (/accounts/signup/, closed
    here: the clinic invites); it says whom to ask instead."""
    mail.outbox.clear()
    assert client.post("/portal/password/reset/", {"email": "nobody@example.test"}).status_code == 302
    (message,) = mail.outbox
    assert message.to == ["nobody@example.test"]
    assert "signup" not in message.body and "sign up" not in message.body.lower()
    assert "call your clinic" in message.body and "nobody@example.test" in message.body


def test_the_reset_email_names_the_clinic_not_the_server(client, dana):
    # allauth's default said "[testserver] Password Reset Email" and "Hello from testserver!".
    mail.outbox.clear()
    client.post("/portal/password/reset/", {"email": "dana@example.test"})
    msg = mail.outbox[-1]
    clinic = dana.clinic.name
    assert msg.subject == f"{clinic}: reset your password"
    assert msg.body.startswith("Hello,\n") and f"{clinic} (sent by Touchup)" in msg.body
    assert "testserver!" not in msg.body and "Thank you for using" not in msg.body

    mail.outbox.clear()
    client.post("/portal/password/reset/", {"email": "nobody@example.test"})
    msg = mail.outbox[-1]
    assert msg.subject == "Password reset: no account with this address"
    assert "Your clinic (sent by Touchup)" in msg.body and "testserver" not in msg.subject
