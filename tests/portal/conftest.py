"""Portal fixtures: Dana (clinic A) joins by invitation; Erin is another patient of the
same clinic with her own account, so "someone else's data" is one id away."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.maintenance.conftest import area_forecast, next_weekday, signed_treatment  # noqa: F401

BASE = "http://testserver"


def token_from_mail(message) -> str:
    return re.search(r"/portal/join/([^/\s]+)/", message.body).group(1)


def join(patient, staff, username, password=PASSWORD):
    from touchup.portal.services.invitations import invitation_accept, invitation_create

    mail.outbox.clear() if hasattr(mail, "outbox") else None
    sent = invitation_create(actor=staff, patient=patient, base_url=BASE)
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    return invitation_accept(token=token, username=username, password1=password, password2=password)


@pytest.fixture
def dana(patient, front_desk):
    from touchup.clinic.services.patients import patient_update

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    join(patient, front_desk, "dana")
    patient.refresh_from_db()
    return patient


@pytest.fixture
def erin(clinic_a, front_desk):
    from touchup.clinic.services.patients import patient_create

    p = patient_create(actor=front_desk, clinic=clinic_a, given_name="Erin", family_name="Other",
                       birth_date=dt.date(1979, 5, 6), sex="female", email="erin@example.test")
    join(p, front_desk, "erin")
    p.refresh_from_db()
    return p


@pytest.fixture
def as_dana(client, dana):
    assert client.login(username="dana", password=PASSWORD)
    return client


@pytest.fixture
def treated(dana, clinician):
    """Dana had her frown lines treated 3 days ago (signed)."""
    return signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=3), {"glabella": 20})


@pytest.fixture
def erin_treated(erin, clinician):
    return signed_treatment(erin, clinician, timezone.localdate() - dt.timedelta(days=10), {"crows_feet": 24},
                            indication="lateral_canthal_lines")
