"""A populated clinic A (and an empty clinic B) for the security tests."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from tests.api.helpers import clean_answers, protocol_for


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(clinic_a, clinic_b, clinician, front_desk, manager, other_clinician, patient, vial):
    """Every kind of object the API names, all in clinic A, made through the services."""
    from touchup.clinic import tokens
    from touchup.clinic.services.patients import patient_create
    from touchup.clinic.services.screenings import screening_record
    from touchup.clinic.services.treatments import treatment_sign, treatment_start
    from touchup.clinic.services.vials import vial_receive

    screening = screening_record(actor=clinician, patient=patient, indication="glabellar_lines",
                                 answers=clean_answers())
    draft = treatment_start(actor=clinician, patient=patient, indication="glabellar_lines",
                            product="onabotulinumtoxinA", protocol=protocol_for(), vial=vial)
    # The signed chart is another patient's, so signing the draft is not a same-day retreatment.
    second = patient_create(actor=clinician, clinic=clinic_a, given_name="Robin", family_name="Second",
                            birth_date=dt.date(1979, 8, 1), sex="male")
    screening_record(actor=clinician, patient=second, indication="glabellar_lines", answers=clean_answers())
    signed = treatment_sign(actor=clinician, treatment=treatment_start(
        actor=clinician, patient=second, indication="glabellar_lines", product="onabotulinumtoxinA",
        protocol=protocol_for(), vial=vial,
    ))
    unopened = vial_receive(actor=manager, clinic=clinic_a, product="onabotulinumtoxinA", lot="U777",
                            expiry=timezone.localdate() + dt.timedelta(days=200), units=100)
    return SimpleNamespace(
        clinic=clinic_a, patient=patient, second=second, screening=screening, draft=draft, signed=signed,
        vial=vial, unopened_vial=unopened,
        tokens={u.pk: tokens.token_create(actor=u, name="matrix") for u in (clinician, front_desk, manager)},
        people={"clinician": clinician, "front_desk": front_desk, "manager": manager, "other": other_clinician},
    )
