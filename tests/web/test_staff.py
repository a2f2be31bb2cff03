"""The manager's staff pages (add, role, deactivate, reactivate, a new link), the
re-authentication they ask for, the last-manager rule, and the set-password page."""

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD, _user
from tests.two_step import activate
from touchup.clinic.models import AuditEvent, Membership, PasswordLink
from touchup.clinic.services import staff as staff_service
from touchup.clinic.zones import clinic_zone

pytestmark = pytest.mark.django_db

STRONG = "lilac bicycle harbour 42"
NORA = {"given_name": "Nora", "family_name": "Lee", "username": "nora.lee", "email": "nora@example.org",
        "role": "clinician", "is_doctor": ""}


def confirmed(client, r, password=PASSWORD):
    """Where allauth asked for the password again: give it; the form sent is replayed."""
    assert r.status_code == 302 and r["Location"].startswith("/accounts/reauthenticate/"), (r.status_code, r.get("Location"))
    page = client.get(r["Location"]).content.decode()
    assert "Confirm it is you" in page and "who may reach patient data" in page
    return client.post(r["Location"], {"password": password})


def reauthenticate(client):
    """Confirm the password up front (as after a first sensitive change)."""
    r = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert r.status_code == 302


def link_in(html):
    return re.search(r'value="(http://[^"]+/accounts/welcome/[^"]+/)"', html).group(1)


def path_of(link):
    return "/" + link.split("/", 3)[3]


def audit_details():
    return str(list(AuditEvent.objects.values_list("detail", flat=True)))


# --- adding people ---------------------------------------------------------------------


def test_the_manager_adds_a_nurse_and_is_shown_the_link_once(as_manager, manager, clinic_a, mailoutbox, settings):
    page = as_manager.get(reverse("clinic_settings")).content.decode()
    assert f'href="{reverse("clinic_staff_add")}"' in page
    form = as_manager.get(reverse("clinic_staff_add")).content.decode()
    assert 'name="role"' in form and ">Clinician<" in form and ">Patient<" not in form
    r = as_manager.post(reverse("clinic_staff_add"), NORA)  # a nurse: no re-authentication
    assert r.status_code == 200
    html = r.content.decode()
    assert "Nora Lee is added" in html and "It was also emailed to nora@example.org" in html
    link = link_in(html)
    nora = get_user_model().objects.get(username="nora.lee")
    assert not nora.has_usable_password()
    member = Membership.objects.get(user=nora)
    assert (member.clinic, member.role, member.is_doctor, member.active) == (clinic_a, "clinician", False, True)
    # Emailed through Django's mail backend, to her own address, with her username.
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["nora@example.org"]
    assert link in mailoutbox[0].body and "nora.lee" in mailoutbox[0].body
    # Audited with ids and codes; never her name, username or address.
    added = AuditEvent.objects.get(action="staff.add")
    assert added.actor == manager and added.clinic_id_ref == clinic_a.pk
    assert added.detail == {"membership": member.pk, "user": nora.pk, "role": "clinician", "is_doctor": False,
                            "email": True}
    assert AuditEvent.objects.get(action="staff.password_link").detail["user"] == nora.pk
    details = audit_details()
    assert "nora" not in details.lower() and "Lee" not in details
    # The staff list shows her, waiting for her password.
    page = as_manager.get(reverse("clinic_settings")).content.decode()
    assert "nora.lee" in page and "password not set yet" in page


def test_the_emailed_link_expiry_reads_as_pages_write_dates(manager, clinic_a, mailoutbox):
    """It read "expires on 03 December 2026 at 09:00"."""
    now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.timezone.utc)  # + 72 hours: 3 December
    staff_service.staff_add(actor=manager, clinic=clinic_a, given_name="Nora", family_name="Lee",
                            username="nora.lee", email="nora@example.org", role="clinician", now=now)
    expires = timezone.localtime(now + dt.timedelta(hours=72), clinic_zone(clinic_a))
    assert f"expires on {expires.day} {expires:%B %Y at %H:%M})" in mailoutbox[0].body
    assert " 03 December" not in mailoutbox[0].body


def test_no_email_no_mail_and_bad_input_names_the_field(as_manager, mailoutbox, django_user_model):
    r = as_manager.post(reverse("clinic_staff_add"), {**NORA, "email": ""})
    assert r.status_code == 200 and "emailed" not in r.content.decode() and not mailoutbox
    before = django_user_model.objects.count()
    r = as_manager.post(reverse("clinic_staff_add"), {**NORA, "username": "NORA.LEE", "email": ""})
    assert r.status_code == 400 and "&#x27;NORA.LEE&#x27; is taken" in r.content.decode()
    r = as_manager.post(reverse("clinic_staff_add"), {**NORA, "username": "x", "role": "patient"})
    assert r.status_code == 400 and "Select a valid choice" in r.content.decode()
    assert django_user_model.objects.count() == before


def test_adding_a_manager_asks_for_the_password_again_then_goes_through(as_manager, mailoutbox):
    r = as_manager.post(reverse("clinic_staff_add"), {**NORA, "role": "manager"})
    assert not Membership.objects.filter(user__username="nora.lee").exists()  # not yet
    r = confirmed(as_manager, r)
    assert r.status_code == 200 and "Nora Lee is added" in r.content.decode()
    assert Membership.objects.get(user__username="nora.lee").role == "manager"


@pytest.mark.parametrize("who", ["clinician", "front_desk"])
def test_only_managers_have_the_staff_pages(request, client, who, manager, clinic_a,
                                            django_capture_on_commit_callbacks):
    user = request.getfixturevalue(who)
    client.force_login(user)
    member = Membership.objects.get(user=manager)
    urls = [("get", reverse("clinic_staff_add")), ("post", reverse("clinic_staff_add")),
            ("get", reverse("clinic_staff_member", args=[member.pk])),
            ("post", reverse("clinic_staff_member", args=[member.pk])),
            ("post", reverse("clinic_staff_deactivate", args=[member.pk])),
            ("post", reverse("clinic_staff_reactivate", args=[member.pk])),
            ("post", reverse("clinic_staff_new_link", args=[member.pk]))]
    for method, url in urls:
        denied = AuditEvent.objects.filter(outcome="denied", action="access.role").count()
        with django_capture_on_commit_callbacks(execute=True):
            r = getattr(client, method)(url, {**NORA, "role": "manager"} if method == "post" else None)
        assert r.status_code == 403, (method, url, r.status_code)
        assert AuditEvent.objects.filter(outcome="denied", action="access.role").count() == denied + 1
    assert not Membership.objects.filter(user__username="nora.lee").exists()
    assert Membership.objects.get(pk=member.pk).active


def test_another_clinics_staff_are_404_and_the_attempt_audited(as_manager, other_clinician,
                                                              django_capture_on_commit_callbacks):
    theirs = Membership.objects.get(user=other_clinician)
    reauthenticate(as_manager)
    for method, url in (("get", reverse("clinic_staff_member", args=[theirs.pk])),
                        ("post", reverse("clinic_staff_member", args=[theirs.pk])),
                        ("post", reverse("clinic_staff_deactivate", args=[theirs.pk])),
                        ("post", reverse("clinic_staff_new_link", args=[theirs.pk]))):
        with django_capture_on_commit_callbacks(execute=True):
            r = getattr(as_manager, method)(url, {"role": "front_desk"} if method == "post" else None)
        assert r.status_code == 404, (method, url)
    theirs.refresh_from_db()
    assert theirs.active and theirs.role == "clinician"
    assert AuditEvent.objects.filter(action="membership.not_found", outcome="denied").count() == 4
    assert "charlie" not in as_manager.get(reverse("clinic_settings")).content.decode()


# --- roles, leaving, and the last manager -----------------------------------------------


def test_changing_a_role_asks_for_the_password_again_then_is_audited(as_manager, manager, front_desk):
    bob = Membership.objects.get(user=front_desk)
    url = reverse("clinic_staff_member", args=[bob.pk])
    assert "Front desk" in as_manager.get(url).content.decode()
    r = as_manager.post(url, {"role": "clinician", "is_doctor": "on"})
    bob.refresh_from_db()
    assert bob.role == "front_desk"  # a stale session changes nothing before it confirms
    r = confirmed(as_manager, r)
    assert r.status_code == 302 and r["Location"] == reverse("clinic_settings")
    bob.refresh_from_db()
    assert (bob.role, bob.is_doctor) == ("clinician", True)
    event = AuditEvent.objects.get(action="staff.change")
    assert event.actor == manager and event.detail == {
        "membership": bob.pk, "user": front_desk.pk, "role": ["front_desk", "clinician"], "is_doctor": [False, True]}
    # Within the next minutes, no second confirmation.
    r = as_manager.post(url, {"role": "front_desk"})
    assert r.status_code == 302 and r["Location"] == reverse("clinic_settings")
    bob.refresh_from_db()
    assert (bob.role, bob.is_doctor) == ("front_desk", False)


def test_the_confirmation_runs_out_after_five_minutes(as_manager, front_desk, settings):
    import time

    bob = Membership.objects.get(user=front_desk)
    reauthenticate(as_manager)
    session = as_manager.session
    records = session["account_authentication_methods"]
    records[-1]["at"] = time.time() - 301
    session["account_authentication_methods"] = records
    session.save()
    r = as_manager.post(reverse("clinic_staff_deactivate", args=[bob.pk]))
    assert r["Location"].startswith("/accounts/reauthenticate/")
    assert Membership.objects.get(pk=bob.pk).active


def test_a_wrong_password_changes_nothing(as_manager, front_desk):
    bob = Membership.objects.get(user=front_desk)
    r = as_manager.post(reverse("clinic_staff_deactivate", args=[bob.pk]))
    r = as_manager.post(r["Location"], {"password": "not the password"})
    assert r.status_code == 200
    assert Membership.objects.get(pk=bob.pk).active


def test_the_last_manager_cannot_demote_or_deactivate_themselves(as_manager, manager, clinician):
    mine = Membership.objects.get(user=manager)
    reauthenticate(as_manager)
    r = as_manager.post(reverse("clinic_staff_member", args=[mine.pk]), {"role": "clinician"})
    assert r.status_code == 400
    assert "You are the clinic&#x27;s last active manager: make someone else a manager first" in r.content.decode()
    r = as_manager.post(reverse("clinic_staff_deactivate", args=[mine.pk]), follow=True)
    assert "You are the clinic&#x27;s last active manager" in r.content.decode()
    mine.refresh_from_db()
    assert (mine.role, mine.active) == ("manager", True)
    assert not AuditEvent.objects.filter(action__in=["staff.change", "staff.deactivate"]).exists()

    # With a second manager, stepping down goes through.
    alice = Membership.objects.get(user=clinician)
    assert as_manager.post(reverse("clinic_staff_member", args=[alice.pk]), {"role": "manager"}).status_code == 302
    r = as_manager.post(reverse("clinic_staff_member", args=[mine.pk]), {"role": "front_desk"})
    assert r.status_code == 302
    mine.refresh_from_db()
    assert mine.role == "front_desk"
    assert as_manager.get(reverse("clinic_settings")).status_code == 403  # no longer a manager


def test_deactivating_ends_their_sessions_and_reactivating_lets_them_back(as_manager, manager, clinician,
                                                                         clinic_a):
    alice = Membership.objects.get(user=clinician)
    theirs = Client()
    assert theirs.login(username="alice", password=PASSWORD)
    assert theirs.get(reverse("patients")).status_code == 200

    r = confirmed(as_manager, as_manager.post(reverse("clinic_staff_deactivate", args=[alice.pk])))
    assert r.status_code == 302 and r["Location"] == reverse("clinic_settings")
    alice.refresh_from_db()
    assert not alice.active
    # Her open session is gone: the next page sends her to sign in; signing in again gets no page.
    r = theirs.get(reverse("patients"))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    assert theirs.login(username="alice", password=PASSWORD)
    assert theirs.get(reverse("patients")).status_code == 403
    assert AuditEvent.objects.get(action="staff.deactivate").detail == {
        "membership": alice.pk, "user": clinician.pk, "role": "clinician"}
    ended = AuditEvent.objects.get(action="sessions.ended")
    assert ended.detail == {"reason": "removed_from_clinic", "sessions": 1}
    page = as_manager.get(reverse("clinic_settings")).content.decode()
    assert "inactive" in page

    r = as_manager.post(reverse("clinic_staff_reactivate", args=[alice.pk]))
    assert r.status_code == 302
    alice.refresh_from_db()
    assert alice.active
    assert AuditEvent.objects.filter(action="staff.reactivate", actor=manager).exists()
    assert theirs.get(reverse("patients")).status_code == 200


def test_a_manager_who_is_not_the_last_may_leave(as_manager, manager, django_user_model, clinic_a):
    _user(django_user_model, "max", clinic_a, "manager")
    mine = Membership.objects.get(user=manager)
    r = confirmed(as_manager, as_manager.post(reverse("clinic_staff_deactivate", args=[mine.pk])))
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    assert not Membership.objects.get(pk=mine.pk).active
    assert as_manager.get(reverse("clinic_settings")).status_code == 302  # signed out


# --- new links ----------------------------------------------------------------------------


def test_a_new_link_retires_the_old_one_and_only_while_no_password(as_manager, manager, clinic_a, front_desk):
    made = staff_service.staff_add(actor=manager, clinic=clinic_a, given_name="Nora", family_name="Lee",
                                   username="nora.lee", role="front_desk")
    r = as_manager.post(reverse("clinic_staff_new_link", args=[made.membership.pk]))
    assert r.status_code == 200 and "New set-password link" in r.content.decode()
    new = link_in(r.content.decode())
    anon = Client()
    old = anon.get(path_of(made.link.link))
    assert old.status_code == 410 and "replaced by a newer one" in old.content.decode()
    assert anon.get(path_of(new)).status_code == 200
    # Bob has a password: no link for him (a manager never gets a way into a working account).
    bob = Membership.objects.get(user=front_desk)
    r = as_manager.post(reverse("clinic_staff_new_link", args=[bob.pk]), follow=True)
    assert "has already set their password" in r.content.decode()
    assert PasswordLink.objects.filter(user=front_desk).count() == 0


# --- the set-password page -----------------------------------------------------------------


@pytest.fixture
def nora(manager, clinic_a):
    return staff_service.staff_add(actor=manager, clinic=clinic_a, given_name="Nora", family_name="Lee",
                                   username="nora.lee", role="clinician")


def test_the_link_sets_a_password_once_and_signs_in(client, nora):
    path = path_of(nora.link.link)
    page = client.get(path)
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    assert "Welcome to Alpha Aesthetics" in page.content.decode() and "nora.lee" in page.content.decode()
    r = client.post(path, {"password1": STRONG, "password2": STRONG})
    assert r.status_code == 302 and r["Location"] == "/"
    assert client.get(reverse("patients")).status_code == 200
    user = nora.membership.user
    user.refresh_from_db()
    assert user.check_password(STRONG)
    event = AuditEvent.objects.get(action="staff.password_set")
    assert event.actor == user and event.detail == {"user": user.pk}
    assert AuditEvent.objects.filter(action="signin", actor=user).exists()
    # Used: it says so, and sets nothing.
    fresh = Client()
    again = fresh.get(path)
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert fresh.post(path, {"password1": "x" + STRONG, "password2": "x" + STRONG}).status_code == 410
    user.refresh_from_db()
    assert user.check_password(STRONG)
    # And she signs in with it from now on.
    assert Client().login(username="nora.lee", password=STRONG)


@pytest.mark.parametrize(("password1", "password2", "words"), [
    ("password123", "password123", "This password is too common"),
    ("short", "short", "This password is too short"),
    ("2049587301762", "2049587301762", "This password is entirely numeric"),
    ("nora.lee.nora", "nora.lee.nora", "too similar to the username"),
    (STRONG, STRONG + "!", "the two passwords are not the same"),
])
def test_weak_or_mismatched_passwords_are_refused(client, nora, password1, password2, words):
    path = path_of(nora.link.link)
    r = client.post(path, {"password1": password1, "password2": password2})
    assert r.status_code == 400 and words in r.content.decode()
    user = nora.membership.user
    user.refresh_from_db()
    assert not user.has_usable_password()
    assert client.get(path).status_code == 200  # the link still works
    assert not AuditEvent.objects.filter(action="staff.password_set").exists()


def test_an_expired_link_says_so(client, manager, clinic_a):
    made = staff_service.staff_add(actor=manager, clinic=clinic_a, given_name="Nora", family_name="Lee",
                                   username="nora.lee", role="clinician",
                                   now=timezone.now() - dt.timedelta(hours=72, seconds=1))
    path = path_of(made.link.link)
    r = client.get(path)
    assert r.status_code == 410
    assert "This link has expired (links last 72 hours). Ask your clinic&#x27;s manager for a new one." in \
        r.content.decode()
    assert client.post(path, {"password1": STRONG, "password2": STRONG}).status_code == 410
    made.membership.user.refresh_from_db()
    assert not made.membership.user.has_usable_password()


def test_unknown_and_deactivated_links(client, nora, manager):
    r = client.get("/accounts/welcome/not-a-real-token/")
    assert r.status_code == 404 and "This link is not valid" in r.content.decode()
    staff_service.staff_set_active(actor=manager, member=nora.membership, active=False)
    r = client.get(path_of(nora.link.link))
    assert r.status_code == 410 and "not active" in r.content.decode()


def test_a_two_step_clinic_sends_the_new_person_to_set_it_up(client, nora, clinic_a, manager):
    from tests.two_step import require_two_step

    activate(manager)
    require_two_step(clinic_a)
    r = client.post(path_of(nora.link.link), {"password1": STRONG, "password2": STRONG})
    r = client.get(r["Location"], follow=False)
    assert r.status_code == 302 and r["Location"] == "/accounts/2fa/totp/activate/"


def test_the_new_pages_carry_the_headers_and_no_inline_code(as_manager, manager, nora, front_desk):
    """tests/security/test_headers.py fetches every route as a clinician (these pages refuse
    one); here they are fetched as the manager who sees them, and the link page too."""
    from tests.security.test_headers import problems

    bob = Membership.objects.get(user=front_desk)
    bad = []
    for url, name in ((reverse("clinic_settings"), "clinic_settings"), (reverse("clinic_staff_add"), "clinic_staff_add"),
                      (reverse("clinic_staff_member", args=[nora.membership.pk]), "clinic_staff_member"),
                      (reverse("clinic_staff_member", args=[bob.pk]), "clinic_staff_member")):
        r = as_manager.get(url)
        assert r.status_code == 200, url
        bad += problems(r, url, name)
    r = as_manager.post(reverse("clinic_staff_new_link", args=[nora.membership.pk]))
    bad += problems(r, "link page", "clinic_staff_new_link")
    assert "no-store" in r["Cache-Control"]
    anon = Client()
    for url in (path_of(link_in(r.content.decode())), "/accounts/welcome/unknown/"):
        bad += problems(anon.get(url), url, "staff_welcome")
    assert not bad, "\n".join(bad)


def test_a_mail_server_that_is_down_does_not_undo_the_account(as_manager, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(staff_service, "send_mail", down)
    r = as_manager.post(reverse("clinic_staff_add"), NORA)
    assert r.status_code == 200
    assert "could not be sent: give them the link yourself" in r.content.decode()
    assert Membership.objects.filter(user__username="nora.lee").exists()


def test_the_settings_page_gives_the_staff_guidance_not_a_repository_file(as_manager):
    """A manager cannot open docs/using-touchup.md from the clinic: the page says it."""
    page = as_manager.get(reverse("clinic_settings")).content.decode()
    assert "docs/" not in page and ".md" not in page
    assert "whoever opens it first chooses the password" in page
    assert "deactivated, never deleted" in page
