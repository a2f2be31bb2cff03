"""Deactivating an account, changing its password or removing the person from their
clinic ends that person's other sessions on the server (SE-2; ASVS 7.4.1, 7.4.2), so
activating the account again or setting the old password back brings none of them back."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from tests.conftest import PASSWORD
from touchup.clinic.models import AuditEvent, Membership

NEW_PASSWORD = "lilac tide window 42"


def signed_in(username: str) -> Client:
    c = Client()
    assert c.post("/accounts/login/", {"login": username, "password": PASSWORD}).status_code == 302
    assert c.get("/patients/").status_code == 200
    return c


def sessions_of(user) -> int:
    return sum(1 for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk))


@pytest.fixture
def two_desks(clinician, front_desk):
    """Alice signed in at two computers; Bob at a third (his session must stay)."""
    return signed_in("alice"), signed_in("alice"), signed_in("bob")


def test_deactivating_ends_every_session_and_activating_again_revives_none(two_desks, clinician, front_desk):
    desk1, desk2, bob = two_desks
    clinician.is_active = False
    clinician.save()
    assert sessions_of(clinician) == 0 and sessions_of(front_desk) == 1
    clinician.is_active = True
    clinician.save()
    for desk in (desk1, desk2):
        assert desk.get("/patients/").status_code == 302
    assert bob.get("/patients/").status_code == 200
    e = AuditEvent.objects.get(action="account.deactivated")
    assert e.object_id == str(clinician.pk) and e.detail == {"sessions_ended": 2}
    assert e.clinic_id_ref == clinician.memberships.get().clinic_id


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(two_desks, clinician):
    desk1, desk2, _ = two_desks
    r = desk1.post("/accounts/password/change/",
                   {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert r.status_code == 302
    assert desk1.get("/patients/").status_code == 200
    assert desk2.get("/patients/").status_code == 302
    assert sessions_of(clinician) == 1
    assert AuditEvent.objects.get(action="sessions.ended").detail == {"reason": "password_changed", "sessions": 1}


def test_a_password_set_elsewhere_ends_them_all_even_if_set_back(two_desks, clinician):
    """`touchup manage changepassword`, a shell: no request, no session to keep."""
    clinician.set_password(NEW_PASSWORD)
    clinician.save()
    clinician.set_password(PASSWORD)
    clinician.save()
    assert sessions_of(clinician) == 0
    assert all(desk.get("/patients/").status_code == 302 for desk in two_desks[:2])


def test_removing_someone_from_the_clinic_ends_their_sessions(two_desks, clinician):
    m = Membership.objects.get(user=clinician)
    m.active = False
    m.save()
    assert sessions_of(clinician) == 0
    assert AuditEvent.objects.get(action="sessions.ended").detail == {"reason": "removed_from_clinic", "sessions": 2}


def test_signing_in_does_not_read_the_sessions(clinician):
    """last_login is saved at each sign-in: that save must not go looking for sessions."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = Client()
    with CaptureQueriesContext(connection) as queries:
        c.post("/accounts/login/", {"login": "alice", "password": PASSWORD})
    assert sessions_of(clinician) == 1
    assert not [q for q in queries.captured_queries if '"django_session"."expire_date" >' in q["sql"]]
    assert not [q for q in queries.captured_queries if 'SELECT "auth_user"."password", "auth_user"."is_active"' in q["sql"]]
