"""Shared fixtures: two clinics and a persona per role (healthchecks-style).

Alice's clinic (A) has a clinician who is also a doctor, a front desk and a manager;
Charlie is a clinician at clinic B and must never see clinic A's patients.
"""

import datetime as dt
import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's live_server
# then refuses ORM calls without this (microsoft/playwright-pytest#29). Tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery staple"


def _user(django_user_model, username, clinic, role, is_doctor=False):
    from touchup.clinic.models import Membership

    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    Membership.objects.create(user=user, clinic=clinic, role=role, is_doctor=is_doctor)
    return user


@pytest.fixture
def clinic_a(db):
    from touchup.clinic.models import Clinic

    return Clinic.objects.create(name="Alpha Aesthetics", slug="alpha")


@pytest.fixture
def clinic_b(db):
    from touchup.clinic.models import Clinic

    return Clinic.objects.create(name="Beta Clinic", slug="beta")


@pytest.fixture
def clinician(django_user_model, clinic_a):
    return _user(django_user_model, "alice", clinic_a, "clinician", is_doctor=True)


@pytest.fixture
def front_desk(django_user_model, clinic_a):
    return _user(django_user_model, "bob", clinic_a, "front_desk")


@pytest.fixture
def manager(django_user_model, clinic_a):
    return _user(django_user_model, "mona", clinic_a, "manager")


@pytest.fixture
def other_clinician(django_user_model, clinic_b):
    return _user(django_user_model, "charlie", clinic_b, "clinician", is_doctor=True)


@pytest.fixture
def patient(clinic_a, clinician):
    from touchup.clinic.services.patients import patient_create

    return patient_create(
        actor=clinician, clinic=clinic_a, given_name="Dana", family_name="Example",
        birth_date=dt.date(1984, 3, 2), sex="female",
    )


@pytest.fixture
def vial(clinic_a, clinician):
    """A 100 U onabotulinumtoxinA vial, in date, reconstituted an hour ago with 2.5 mL."""
    from django.utils import timezone

    from touchup.clinic.services.vials import vial_receive, vial_reconstitute

    v = vial_receive(
        actor=clinician, clinic=clinic_a, product="onabotulinumtoxinA", lot="C1234A",
        expiry=timezone.localdate() + dt.timedelta(days=300), units=100,
    )
    return vial_reconstitute(actor=clinician, vial=v, diluent_ml="2.5", at=timezone.now() - dt.timedelta(hours=1))
