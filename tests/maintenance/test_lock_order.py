"""Lock order against the audit chain's head, on PostgreSQL (found by benchmarks/crash.py).

Every write takes the audit head's row lock when it records its event and keeps it until it
commits, and at the commit PostgreSQL checks its deferred foreign keys (FOR KEY SHARE on the
patient row, say). A transaction that holds a lock such a commit needs, and then asks for the
head, waits for it while it waits for them: PostgreSQL aborts one (a 500 for the clinician, or
a failed task). SQLite runs one writer at a time, so none of this can happen there.
"""

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from tests.maintenance.conftest import signed_treatment
from tests.photos.conftest import media  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and deferred foreign-key checks are PostgreSQL's (make test-postgres)")


def _in_thread(fn, errors):
    def run():
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        finally:
            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    return t


def _wait_until_one_waits_for_a_lock(timeout=20.0):
    """Until a session of this database waits for a lock (the other thread has got as far as
    it can), so the test does not depend on timing."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")
            if cur.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("nobody waited for a lock")


def test_a_reading_commits_while_a_recompute_holds_the_patient(monkeypatch, clinician, patient):
    """The worker's recompute locks the patient, then records its event; a reading of the same
    patient recorded meanwhile commits (its foreign key to the patient checked then) without
    waiting for the recompute, and both succeed. With FOR UPDATE on the patient the reading
    waited at its commit, holding the head the recompute then asked for: a deadlock."""
    from touchup.clinic.services.observations import observation_record
    from touchup.maintenance.models import AreaForecast
    from touchup.maintenance.services import forecasts

    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=60), {"glabella": 20})
    locked, release = threading.Event(), threading.Event()
    real = forecasts.history_data

    def held(p, as_of):  # called with the patient row locked
        locked.set()
        release.wait(20)
        return real(p, as_of)

    monkeypatch.setattr(forecasts, "history_data", held)
    errors: list[Exception] = []
    recompute = _in_thread(lambda: forecasts.recompute(patient), errors)
    assert locked.wait(20)
    committed = threading.Event()

    def reading():
        observation_record(actor=clinician, patient=patient, area="glabella", kind="fws_grade", value=2)
        committed.set()

    reader = _in_thread(reading, errors)
    committed_while_locked = committed.wait(10)
    release.set()
    recompute.join(60)
    reader.join(60)
    assert not errors, errors
    assert committed_while_locked
    assert AreaForecast.objects.filter(patient=patient, area="glabella").exists()


def test_a_stored_analysis_and_a_reading_of_the_same_patient_both_commit(monkeypatch, media, clinician, patient):
    """Storing a photo's analysis asks for the patient's recompute (its RecomputeRequest row)
    and records its event; a reading does the same two things. Both in the same order (the
    event first, as signing, readings and photo removal do): when the analysis took the
    request row first and the head second, a reading between the two held the head and
    waited for the row, and PostgreSQL aborted one of them."""
    from tests.photos.test_analysis_result import keep, result
    from touchup.clinic.models import Observation
    from touchup.clinic.services import photos
    from touchup.clinic.services.observations import observation_record
    from touchup.maintenance.services import forecasts

    photo = keep(clinician, patient, "frown")
    paused, release = threading.Event(), threading.Event()
    real = forecasts.request_recompute

    def held(p):
        real(p)
        paused.set()
        release.wait(20)

    monkeypatch.setattr(forecasts, "request_recompute", held)
    errors: list[Exception] = []
    analysis = _in_thread(lambda: photos.photo_record_analysis(
        photo_id=photo.pk, result=result(glabella={"wrinkle_index": 0.3, "grade": 1})), errors)
    assert paused.wait(20)
    monkeypatch.setattr(forecasts, "request_recompute", real)  # the reading's own, unpaused
    reader = _in_thread(lambda: observation_record(actor=clinician, patient=patient, area="glabella",
                                                   kind="fws_grade", value=1), errors)
    _wait_until_one_waits_for_a_lock()  # for the head (or, before the fix, for the request row)
    release.set()
    analysis.join(60)
    reader.join(60)
    assert not errors, errors
    assert Observation.objects.filter(patient=patient, source="photo").count() == 1
    assert Observation.objects.filter(patient=patient, source="clinician").count() == 1
