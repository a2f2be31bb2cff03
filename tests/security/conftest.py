"""A populated clinic A (and an empty clinic B) for the security tests."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from tests.api.conftest import keep_photo
from tests.api.helpers import clean_answers, protocol_for
from tests.photos.conftest import media  # noqa: F401 - fixture


@pytest.fixture(autouse=True, scope="session")
def _urls_imported_before_any_clock_is_frozen(django_db_setup):
    """The sign-in and idle tests freeze the clock (freezegun). Were the URLconf, and with it
    the API's pydantic schemas, first imported under a frozen clock, pydantic would meet
    freezegun's datetime class and refuse to build them; so a module run alone failed."""
    import touchup.urls  # noqa: F401


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class World(SimpleNamespace):
    """The objects below, and Dana's photos, kept the first time a test names one (a real
    JPEG each, stored under the test's own media directory; most operations never need them):
    `photo`, her first frown photo (so the view's baseline, and measured), and `later_photo`,
    a second one that may become the baseline."""

    def __getattr__(self, name):
        if name not in ("photo", "later_photo"):
            raise AttributeError(name)
        clinician = self.people["clinician"]
        self.photo = keep_photo(clinician, self.patient, days_ago=2, wrinkle_index=0.3)
        self.later_photo = keep_photo(clinician, self.patient, dx=4)
        return getattr(self, name)


@pytest.fixture
def world(clinic_a, clinic_b, clinician, front_desk, manager, other_clinician, patient, vial, media):
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
    return World(
        clinic=clinic_a, patient=patient, second=second, screening=screening, draft=draft, signed=signed,
        vial=vial, unopened_vial=unopened,
        tokens={u.pk: tokens.token_create(actor=u, name="matrix") for u in (clinician, front_desk, manager)},
        people={"clinician": clinician, "front_desk": front_desk, "manager": manager, "other": other_clinician},
    )
