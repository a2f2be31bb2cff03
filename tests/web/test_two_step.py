"""Two-step sign-in for staff: "Your account", the manager's policy on the Clinic page,
the pages' side of the gate (HTML and htmx) and the reset for a lost phone."""

import io

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.two_step import activate, require_two_step
from touchup.clinic.access import TWO_STEP_SETUP_URL
from touchup.clinic.models import AuditEvent, Clinic, Membership

pytestmark = pytest.mark.django_db

SETUP = "/accounts/2fa/totp/activate/"


def test_the_setup_url_is_allauths():
    assert reverse("mfa_activate_totp") == TWO_STEP_SETUP_URL == SETUP


# --- Your account ---------------------------------------------------------------------


def test_every_staff_member_reaches_your_account_from_the_top_bar(as_front_desk, front_desk):
    html = as_front_desk.get(reverse("patients")).content.decode()
    assert f'href="{reverse("your_account")}"' in html and ">Your account</a>" in html
    page = as_front_desk.get(reverse("your_account")).content.decode()
    assert "Two-step sign-in" in page and "Not set up" in page and f'href="{SETUP}"' in page
    activate(front_desk)
    page = as_front_desk.get(reverse("your_account")).content.decode()
    assert "Set up</span>" in page and f'href="{reverse("mfa_index")}"' in page and "recovery codes" in page


def get_confirmed(client, url):
    """GET a page that first asks for the password again (allauth's reauthentication)."""
    r = client.get(url)
    if r.status_code == 302 and "reauthenticate" in r["Location"]:
        page = client.get(r["Location"]).content.decode()
        assert "Confirm it is you" in page and ">Your account</a>" in page
        assert client.post(r["Location"], {"password": PASSWORD}).status_code == 302
        r = client.get(url)
    return r


def test_allauths_two_step_pages_wear_the_staff_layout(as_clinician, clinician):
    for url in (SETUP, reverse("mfa_index")):
        html = get_confirmed(as_clinician, url).content.decode()
        assert "touchup/touchup.css" in html and 'class="mainnav"' in html and 'class="portal"' not in html, url
        assert ">Your account</a>" in html and "two-step sign-in" in html.lower()
    activate(clinician)
    html = as_clinician.get(reverse("mfa_index")).content.decode()
    assert "Show recovery codes" in html and "Turn off (new phone)" in html
    codes = get_confirmed(as_clinician, reverse("mfa_view_recovery_codes")).content.decode()
    assert 'class="mainnav"' in codes and "Done, I have kept them" in codes


# --- the manager's switch -------------------------------------------------------------


def _switch(client, on):
    return client.post(reverse("clinic_two_step"), {"require_two_step": "on"} if on else {})


def test_only_the_manager_has_the_clinic_page(as_manager, client, clinician, front_desk, clinic_a,
                                              django_capture_on_commit_callbacks):
    assert ">Clinic</a>" in as_manager.get(reverse("patients")).content.decode()
    page = as_manager.get(reverse("clinic_settings")).content.decode()
    assert "Require two-step sign-in for all staff" in page
    assert "asked to set it up at their next page load" in page
    assert "alice" in page and "bob" in page  # the staff list with their status
    for user in (clinician, front_desk):
        client.force_login(user)
        assert ">Clinic</a>" not in client.get(reverse("patients")).content.decode()
        denied = AuditEvent.objects.filter(outcome="denied").count()
        with django_capture_on_commit_callbacks(execute=True):
            assert client.get(reverse("clinic_settings")).status_code == 403
            assert _switch(client, True).status_code == 403
        assert AuditEvent.objects.filter(outcome="denied").count() == denied + 2
    assert Clinic.objects.get(pk=clinic_a.pk).require_two_step is False


def test_the_manager_without_two_step_is_refused_turning_it_on(as_manager, clinic_a):
    r = _switch(as_manager, True)
    assert r.status_code == 302
    page = as_manager.get(r["Location"]).content.decode()
    assert "Set up two-step sign-in for yourself first" in page
    assert Clinic.objects.get(pk=clinic_a.pk).require_two_step is False
    assert not AuditEvent.objects.filter(action="clinic.two_step_policy").exists()


def test_the_manager_with_two_step_turns_it_on_and_off_audited(as_manager, manager, clinic_a):
    activate(manager)
    r = _switch(as_manager, True)
    assert "now required for all staff" in as_manager.get(r["Location"]).content.decode()
    assert Clinic.objects.get(pk=clinic_a.pk).require_two_step is True
    assert as_manager.get(reverse("patients")).status_code == 200  # the manager is not locked out
    _switch(as_manager, True)  # the same value again writes nothing
    _switch(as_manager, False)
    assert Clinic.objects.get(pk=clinic_a.pk).require_two_step is False
    events = list(AuditEvent.objects.filter(action="clinic.two_step_policy").order_by("id"))
    assert [e.detail for e in events] == [{"required": True}, {"required": False}]
    assert all(e.actor == manager and e.clinic_id_ref == clinic_a.pk and e.object_id == str(clinic_a.pk)
               for e in events)


# --- the gate on the pages ------------------------------------------------------------


@pytest.fixture
def required(clinic_a):
    return require_two_step(clinic_a)


def test_staff_without_it_are_sent_to_set_it_up_from_every_page(as_clinician, required, patient):
    before = AuditEvent.objects.count()
    for url in (reverse("home"), reverse("patients"), reverse("patient", args=[patient.public_id]),
                reverse("treatments"), reverse("worklist"), reverse("schedule"), "/portal/"):
        r = as_clinician.get(url)
        assert r.status_code == 302 and r["Location"] == SETUP, url
    r = as_clinician.post(reverse("patient_new"), {"given_name": "No", "family_name": "Write",
                                                   "birth_date": "1990-01-01", "sex": "other"})
    assert r.status_code == 302 and r["Location"] == SETUP
    assert AuditEvent.objects.count() == before  # no read, no write: no view ran
    # htmx requests: a header htmx follows, never a fragment of the setup page.
    r = as_clinician.post(reverse("patient_search"), {"q": "Dana"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and r["HX-Redirect"] == SETUP and b"Dana" not in r.content


def test_the_setup_pages_sign_out_health_and_static_stay_open(as_clinician, required):
    page = get_confirmed(as_clinician, SETUP)
    assert page.status_code == 200
    assert "Alpha Aesthetics requires two-step sign-in for all staff" in page.content.decode()
    assert 'class="mainnav"' not in page.content.decode()  # no links that lead back here
    assert as_clinician.get(reverse("your_account")).status_code == 200
    assert as_clinician.get(reverse("mfa_index")).status_code == 200
    assert as_clinician.get(reverse("health")).status_code == 200
    assert as_clinician.get("/static/touchup/touchup.css").status_code == 200
    assert as_clinician.post(reverse("account_logout")).status_code == 302
    assert as_clinician.get(reverse("patients"))["Location"].startswith(reverse("account_login"))


def test_staff_with_it_pass(as_clinician, clinician, required, patient):
    activate(clinician)
    assert as_clinician.get(reverse("patients")).status_code == 200
    assert as_clinician.get(reverse("patient", args=[patient.public_id])).status_code == 200


def test_another_clinic_and_a_clinic_without_the_policy_are_not_concerned(client, clinic_a, other_clinician,
                                                                          clinician):
    client.force_login(clinician)
    assert client.get(reverse("patients")).status_code == 200  # off by default
    require_two_step(clinic_a)
    client.force_login(other_clinician)
    assert client.get(reverse("patients")).status_code == 200


def test_the_gate_itself_refuses_while_two_step_is_owed(clinician, required, patient,
                                                        django_capture_on_commit_callbacks):
    """Defence in depth: whatever page lets the request through, the gate hands out nothing."""
    from touchup.clinic import access

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(access.TwoStepRequired):
        access.patient_for(clinician, patient.public_id)
    assert AuditEvent.objects.filter(action="access.two_step_required", outcome="denied", actor=clinician,
                                     detail={"via": "patient.view"}).exists()


# --- a lost phone ---------------------------------------------------------------------


def test_the_manager_resets_a_lost_authenticator(as_manager, manager, clinician, required, client):
    activate(manager)
    activate(clinician)
    alice = Membership.objects.get(user=clinician)
    page = as_manager.get(reverse("clinic_settings")).content.decode()
    assert f'action="{reverse("clinic_two_step_reset", args=[alice.pk])}"' in page
    r = as_manager.post(reverse("clinic_two_step_reset", args=[alice.pk]))
    assert "Two-step sign-in reset for alice" in as_manager.get(r["Location"]).content.decode()
    assert not Authenticator.objects.filter(user=clinician).exists()  # the app and the recovery codes
    event = AuditEvent.objects.get(action="two_step.reset")
    assert event.actor == manager and event.detail == {"membership": alice.pk, "user": clinician.pk, "via": "page"}
    # Alice signs in with her password and is sent to set up her new phone.
    client.force_login(clinician)
    assert client.get(reverse("patients"))["Location"] == SETUP


def test_only_the_manager_resets_and_only_in_their_clinic(client, clinician, front_desk, other_clinician,
                                                          django_user_model, clinic_b):
    from tests.conftest import _user

    activate(front_desk)
    bob = Membership.objects.get(user=front_desk)
    client.force_login(clinician)
    assert client.post(reverse("clinic_two_step_reset", args=[bob.pk])).status_code == 403
    client.force_login(_user(django_user_model, "olga", clinic_b, "manager"))
    assert client.post(reverse("clinic_two_step_reset", args=[bob.pk])).status_code == 404
    assert Authenticator.objects.filter(user=front_desk).count() == 2
    assert not AuditEvent.objects.filter(action="two_step.reset").exists()


def test_the_command_resets_when_no_manager_can(manager, clinic_a):
    activate(manager)
    out = io.StringIO()
    call_command("reset_two_step", "mona", stdout=out)
    assert "reset for mona" in out.getvalue()
    assert not Authenticator.objects.filter(user=manager).exists()
    event = AuditEvent.objects.get(action="two_step.reset")
    assert event.actor is None and event.detail["via"] == "command" and event.clinic_id_ref == clinic_a.pk
    with pytest.raises(CommandError, match="not a staff member"):
        call_command("reset_two_step", "nobody")
