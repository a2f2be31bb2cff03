"""Invitations are the only way in: single use, 7 days, nothing created on a bad link."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.portal.conftest import BASE, token_from_mail
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import AuditEvent
from touchup.portal.models import Invitation
from touchup.portal.services.invitations import InvitationInvalid, invitation_accept, invitation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def emailed(patient, front_desk):
    patient.email = "dana@example.test"
    patient.save()
    return patient


def test_staff_invite_emails_a_single_use_link_and_the_patient_lands_in_the_portal(client, front_desk, emailed):
    client.force_login(front_desk)
    r = client.post(f"/patients/{emailed.public_id}/portal/")
    assert r.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["dana@example.test"]
    token = token_from_mail(mail.outbox[0])
    inv = Invitation.objects.get(patient=emailed)
    assert token not in inv.token_sha256  # only the hash is kept
    assert inv.expires_at - inv.created_at == dt.timedelta(days=7)
    client.logout()

    page = client.get(f"/portal/join/{token}/")
    assert page.status_code == 200 and b"Welcome, Dana" in page.content
    r = client.post(f"/portal/join/{token}/", {"username": "dana", "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/portal/"
    emailed.refresh_from_db()
    assert emailed.user.username == "dana"
    assert client.get("/portal/").status_code == 200
    assert AuditEvent.objects.filter(action="portal.invitation.accept", patient_id_ref=emailed.pk).exists()

    # Used: a second visit says so and creates nothing.
    client.logout()
    again = client.post(f"/portal/join/{token}/", {"username": "dana2", "password1": PASSWORD, "password2": PASSWORD})
    assert again.status_code == 410 and b"already been used" in again.content
    assert not get_user_model().objects.filter(username="dana2").exists()


def test_expired_link_is_refused_and_creates_nothing(client, front_desk, emailed):
    sent = invitation_create(actor=front_desk, patient=emailed, base_url=BASE,
                             now=timezone.now() - dt.timedelta(days=7, minutes=1))
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    users = get_user_model().objects.count()
    r = client.post(f"/portal/join/{token}/", {"username": "late", "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 410 and b"expired" in r.content
    assert get_user_model().objects.count() == users


def test_unknown_and_replaced_links(client, front_desk, emailed):
    assert client.get("/portal/join/not-a-token/").status_code == 404
    first = invitation_create(actor=front_desk, patient=emailed, base_url=BASE)
    invitation_create(actor=front_desk, patient=emailed, base_url=BASE)
    old = first.link.rstrip("/").rsplit("/", 1)[-1]
    r = client.get(f"/portal/join/{old}/")
    assert r.status_code == 410 and b"replaced" in r.content


def test_bad_password_names_the_field_and_leaves_the_link_usable(client, front_desk, emailed):
    sent = invitation_create(actor=front_desk, patient=emailed, base_url=BASE)
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    r = client.post(f"/portal/join/{token}/", {"username": "dana", "password1": PASSWORD, "password2": "different!!"})
    assert r.status_code == 200 and b"not the same" in r.content
    r = client.post(f"/portal/join/{token}/", {"username": "dana", "password1": "password", "password2": "password"})
    assert b"too common" in r.content or b"too short" in r.content
    assert not get_user_model().objects.filter(username="dana").exists()
    user = invitation_accept(token=token, username="dana", password1=PASSWORD, password2=PASSWORD)
    assert user.patient == emailed


def test_invitation_needs_an_email_and_no_existing_account(front_desk, patient):
    with pytest.raises(InvalidInput) as exc:
        invitation_create(actor=front_desk, patient=patient, base_url=BASE)
    assert exc.value.field == "email"
    patient.email = "d@example.test"
    patient.save()
    sent = invitation_create(actor=front_desk, patient=patient, base_url=BASE)
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    invitation_accept(token=token, username="d1", password1=PASSWORD, password2=PASSWORD)
    patient.refresh_from_db()
    with pytest.raises(InvalidInput):
        invitation_create(actor=front_desk, patient=patient, base_url=BASE)
    with pytest.raises(InvitationInvalid):
        invitation_accept(token=token, username="d2", password1=PASSWORD, password2=PASSWORD)


def test_taken_username_is_refused(front_desk, emailed, clinician):
    sent = invitation_create(actor=front_desk, patient=emailed, base_url=BASE)
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    with pytest.raises(InvalidInput) as exc:
        invitation_accept(token=token, username="ALICE", password1=PASSWORD, password2=PASSWORD)
    assert exc.value.field == "username"


def test_signup_stays_closed(client):
    r = client.get("/accounts/signup/")
    assert r.status_code in (200, 302, 403, 404)
    assert b'name="password1"' not in r.content


def test_only_staff_who_edit_patients_can_invite(client, dana, emailed):
    client.login(username="dana", password=PASSWORD)
    assert client.post(f"/patients/{emailed.public_id}/portal/").status_code == 403


def test_the_emailed_expiry_is_the_clinics_day_written_as_pages_write_it(front_desk, emailed):
    """It read "expires on 08 March 2026": a zero-padded day, and the UTC date, a day before
    the patient's in a clinic east of UTC."""
    clinic = emailed.clinic
    clinic.time_zone = "Pacific/Auckland"  # UTC+13 in March
    clinic.save()
    now = dt.datetime(2026, 3, 1, 20, 0, tzinfo=dt.timezone.utc)  # 2 March, 09:00 in Auckland
    invitation_create(actor=front_desk, patient=emailed, base_url=BASE, now=now)
    assert "expires on 9 March 2026)" in mail.outbox[-1].body


@pytest.mark.parametrize(("username", "words"), [
    ("", "username: choose a username"),
    ("dana lee", "username: use only letters, digits and @ . + - _"),
    ("BOB", "username: is taken: choose another"),  # the front desk's "bob", whatever the case
])
def test_a_refused_username_says_why_and_creates_nothing(front_desk, emailed, username, words):
    sent = invitation_create(actor=front_desk, patient=emailed, base_url=BASE)
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    users = get_user_model().objects.count()
    with pytest.raises(InvalidInput) as caught:
        invitation_accept(token=token, username=username, password1=PASSWORD, password2=PASSWORD)
    assert str(caught.value) == words
    assert get_user_model().objects.count() == users
    emailed.refresh_from_db()
    assert emailed.user is None
