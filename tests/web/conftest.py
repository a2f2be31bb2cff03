"""Fixtures for the staff-page tests: a signed-in client per persona and a patient
who is ready to treat."""

import pytest

from tests.conftest import PASSWORD


def signed_in(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def as_clinician(client, clinician):
    return signed_in(client, clinician)


@pytest.fixture
def as_front_desk(client, front_desk):
    return signed_in(client, front_desk)


@pytest.fixture
def as_manager(client, manager):
    return signed_in(client, manager)


@pytest.fixture
def as_other_clinician(client, other_clinician):
    return signed_in(client, other_clinician)


def clean_answers(indication="glabellar_lines"):
    """Answer every screening question "no", as the screening form would post it."""
    from touchup.web.forms import screening_questions

    return {q.key: {"answer": False, "details": ""} for q in screening_questions(indication)}


@pytest.fixture
def screened_patient(patient, clinician):
    from touchup.clinic.services.screenings import screening_record

    screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())
    return patient


@pytest.fixture
def glabellar_protocol():
    from touchup.web.clinical import protocols_for

    protocols = [p for p in protocols_for("glabellar_lines") if p["product"] in ("", "onabotulinumtoxinA")]
    assert protocols, "the catalogue has no onabotulinumtoxinA glabellar protocol"
    return protocols[0]["key"]


@pytest.fixture
def draft(screened_patient, clinician, glabellar_protocol):
    from touchup.clinic.services.treatments import treatment_start

    return treatment_start(
        actor=clinician, patient=screened_patient, indication="glabellar_lines",
        product="onabotulinumtoxinA", protocol=glabellar_protocol,
    )
