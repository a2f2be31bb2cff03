"""The log scan every test runs under (tests/phi_in_logs.py) sees what it must."""

import logging

import pytest

from tests.phi_in_logs import find_leaks

pytestmark = pytest.mark.django_db


def _record(msg, *args, exc=None):
    return logging.LogRecord("touchup.x", logging.WARNING, __file__, 1, msg, args, exc)


def test_a_patient_saved_during_the_test_is_watched(no_phi_in_logs, patient):
    assert no_phi_in_logs[patient.family_name] == "Patient.family_name"
    assert no_phi_in_logs[patient.given_name] == "Patient.given_name"


def test_a_name_in_a_message_its_arguments_or_a_traceback_is_found(no_phi_in_logs, patient):
    try:
        raise ValueError(f"duplicate key ({patient.family_name})")
    except ValueError as e:
        exc = (ValueError, e, e.__traceback__)
    records = [_record("registered %s", patient.given_name), _record("failed"), _record("boom", exc=exc)]
    assert find_leaks(records, no_phi_in_logs) == [
        "touchup.x (WARNING) logged a Patient.family_name value",
        "touchup.x (WARNING) logged a Patient.given_name value",
    ]
    assert find_leaks([_record("photo id %s", 42)], no_phi_in_logs) == []


def test_free_text_and_raw_tokens_are_watched(no_phi_in_logs, clinician, patient):
    from touchup.clinic.services.patients import patient_update
    from touchup.clinic.tokens import token_create

    patient_update(actor=clinician, patient=patient, email="dana.l@example.test")
    new = token_create(actor=clinician, name="lab")
    assert no_phi_in_logs["dana.l@example.test"] == "Patient.email"
    assert no_phi_in_logs[new.secret] == "API token (raw)"
    assert find_leaks([_record("auth header %s", new.secret)], no_phi_in_logs) == [
        "touchup.x (WARNING) logged a API token (raw) value"]
