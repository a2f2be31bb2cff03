"""API personas (one JSON client per role) and chart states to test against."""

import datetime as dt

import pytest

from tests.photos.conftest import media  # noqa: F401 - fixture

from .helpers import Api, clean_answers, protocol_for


@pytest.fixture
def anon(db):
    return Api()


@pytest.fixture
def api_clinician(clinician):
    return Api(clinician)


@pytest.fixture
def api_front_desk(front_desk):
    return Api(front_desk)


@pytest.fixture
def api_manager(manager):
    return Api(manager)


@pytest.fixture
def api_other(other_clinician):
    """Charlie, a clinician (and doctor) at clinic B: must never reach clinic A's data."""
    return Api(other_clinician)


@pytest.fixture
def screened_patient(patient, clinician):
    from touchup.clinic.services.screenings import screening_record

    screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())
    return patient


@pytest.fixture
def screening(screened_patient):
    return screened_patient.screenings.get()


@pytest.fixture
def draft(screened_patient, clinician, vial):
    """A glabellar draft from the catalogue's protocol, every point on the vial fixture."""
    from touchup.clinic.services.treatments import treatment_start

    return treatment_start(
        actor=clinician, patient=screened_patient, indication="glabellar_lines",
        product="onabotulinumtoxinA", protocol=protocol_for(), vial=vial,
    )


@pytest.fixture
def signed(draft, clinician):
    from touchup.clinic.services.treatments import treatment_sign

    return treatment_sign(actor=clinician, treatment=draft)


@pytest.fixture
def unopened_vial(clinic_a, clinician):
    from django.utils import timezone

    from touchup.clinic.services.vials import vial_receive

    return vial_receive(
        actor=clinician, clinic=clinic_a, product="onabotulinumtoxinA", lot="U777",
        expiry=timezone.localdate() + dt.timedelta(days=200), units=100,
    )


def keep_photo(actor, patient, *, view="frown", days_ago=0, dx=0, wrinkle_index=None):
    """A photo kept through the service (a real JPEG); with `wrinkle_index`, also the worker's
    result for it, so the photo has a measurement (an observation) of the view's area."""
    from django.utils import timezone

    from tests.photos import images
    from tests.photos.test_analysis_result import result
    from touchup.clinic.services import photos as photo_services

    photo = photo_services.photo_upload(
        actor=actor, patient=patient, view=view, consent_clinical=True,
        upload=images.jpeg(images.shifted(dx=dx)), taken_on=timezone.localdate() - dt.timedelta(days=days_ago),
    )
    if wrinkle_index is not None:
        photo = photo_services.photo_record_analysis(
            photo_id=photo.pk, result=result(glabella={"wrinkle_index": wrinkle_index, "grade": 1}))
    return photo


@pytest.fixture
def photo(media, clinician, patient):
    """Dana's first frown photo (so the view's baseline), measured: glabella 0.31."""
    return keep_photo(clinician, patient, days_ago=10, wrinkle_index=0.31)


@pytest.fixture
def later_photo(photo, clinician, patient):
    """A second frown photo of Dana's, measured against the first: glabella 0.12."""
    return keep_photo(clinician, patient, days_ago=3, dx=4, wrinkle_index=0.12)


@pytest.fixture
def denied(django_capture_on_commit_callbacks):
    """Run requests so that the gate's "denied" audit events are written.

    The gate records a refusal after the surrounding transaction commits (the failing
    request must not roll it back); in a test, everything runs inside the test's own
    transaction, so the callbacks are captured and executed here.
    """
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The personas are created with a password; PBKDF2's deliberate slowness is not
    # what these tests measure.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
