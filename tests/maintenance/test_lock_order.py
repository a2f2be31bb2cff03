"""Lock order against the audit chain's head, on PostgreSQL (the first two found by
benchmarks/crash.py, the rest by reading every select_for_update: docs/reliability.md).

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


# --- the rest of the audit (docs/reliability.md): each row lock taken before the head -------
#
# One shape for most of them: `holder` locks a row and pauses just before it records its
# audit event (so before it asks for the head); `writer` is another transaction that names
# that row by foreign key and records its own event, so it holds the head when PostgreSQL
# checks the foreign key at its commit. With the row locked FOR UPDATE the writer waited for
# the holder at its commit, the holder then asked for the head, and PostgreSQL aborted one of
# them ("deadlock detected"). FOR NO KEY UPDATE does not conflict with the check: the writer
# commits first and the holder goes on.


def _pause_before_event(monkeypatch, action):
    """The first transaction recording `action` stops just before it asks for the audit head
    (its locks taken, its writes made) until `release` is set."""
    from touchup.clinic import audit

    paused, release = threading.Event(), threading.Event()
    real = audit.record

    def record(act, **kwargs):
        if act == action and not paused.is_set():
            paused.set()
            release.wait(20)
        return real(act, **kwargs)

    monkeypatch.setattr(audit, "record", record)
    return paused, release


def _done_or_waiting(done, timeout=20.0):
    """True once `done` is set; False as soon as a session of this database waits for a lock."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done.is_set():
            return True
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")
            if cur.fetchone()[0]:
                return done.is_set()
        time.sleep(0.02)
    raise AssertionError("the second transaction neither finished nor waited for a lock")


def _while_paused(monkeypatch, action, holder, writer, *, writer_commits_first=True):
    """Run `holder` to its `action` event and hold it there; run `writer` beside it; then let
    the holder go on. Both must succeed; with `writer_commits_first`, the writer must not have
    waited for the holder at all."""
    paused, release = _pause_before_event(monkeypatch, action)
    errors: list[Exception] = []
    first = _in_thread(holder, errors)
    assert paused.wait(20), errors
    done = threading.Event()

    def write():
        writer()
        done.set()

    second = _in_thread(write, errors)
    committed_first = _done_or_waiting(done)
    release.set()
    first.join(60)
    second.join(60)
    assert not first.is_alive() and not second.is_alive()
    assert not errors, errors
    if writer_commits_first:
        assert committed_first, "the second transaction waited for the first one's row lock"


def _reading(clinician, patient):
    from touchup.clinic.services.observations import observation_record

    return lambda: observation_record(actor=clinician, patient=patient, area="glabella", kind="fws_grade", value=2)


def test_a_reading_commits_while_the_portal_changes_the_reminder_channel(monkeypatch, clinician, patient):
    """The portal's channel choice locks the patient row; a reading of the same patient commits
    meanwhile (its foreign key to the patient checked with the head held)."""
    from touchup.clinic.services.patients import patient_update
    from touchup.portal.services.preferences import reminder_channel_set

    patient_update(actor=clinician, patient=patient, phone="+447700900123")
    _while_paused(monkeypatch, "patient.reminder_channel",
                  lambda: reminder_channel_set(actor=clinician, patient=patient, channel="sms"),
                  _reading(clinician, patient))
    patient.refresh_from_db()
    assert patient.reminder_channel == "sms" and patient.observations.count() == 1


def test_a_reading_commits_while_the_patient_accepts_an_invitation(monkeypatch, clinician, front_desk, patient):
    """Accepting locks the patient row and links the new account to it. Patient.user is
    unique, so setting it is a key change that conflicts with a foreign-key check as FOR
    UPDATE does: it is made after the audit event, when no transaction holding the head can
    be waiting to check that key."""
    from tests.conftest import PASSWORD
    from touchup.clinic.services.patients import patient_update
    from touchup.portal.services.invitations import invitation_accept, invitation_create

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    sent = invitation_create(actor=front_desk, patient=patient, base_url="http://testserver")
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    _while_paused(monkeypatch, "portal.invitation.accept",
                  lambda: invitation_accept(token=token, username="dana", password1=PASSWORD, password2=PASSWORD),
                  _reading(clinician, patient))
    patient.refresh_from_db()
    assert patient.user is not None and patient.user.username == "dana"
    assert patient.observations.count() == 1


def test_a_patient_is_registered_while_another_accepts_an_invitation(monkeypatch, clinic_a, front_desk, patient):
    """The invitation's lookup locked the patient's clinic row too; registering any patient of
    the clinic names it (Patient.clinic), checked at commit with the head held."""
    from tests.conftest import PASSWORD
    from touchup.clinic.services.patients import patient_create, patient_update
    from touchup.portal.services.invitations import invitation_accept, invitation_create

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    sent = invitation_create(actor=front_desk, patient=patient, base_url="http://testserver")
    token = sent.link.rstrip("/").rsplit("/", 1)[-1]
    _while_paused(monkeypatch, "portal.invitation.accept",
                  lambda: invitation_accept(token=token, username="dana", password1=PASSWORD, password2=PASSWORD),
                  lambda: patient_create(actor=front_desk, clinic=clinic_a, given_name="Eve", family_name="New",
                                         birth_date=dt.date(1990, 1, 1), sex="female"))
    assert clinic_a.patients.count() == 2


# --- rows locked through select_related ---------------------------------------------------
#
# On PostgreSQL, select_for_update() with select_related() locks the joined rows too: these
# locked the patient row FOR UPDATE though they change nothing in it (the invitation's lookup
# did the same to the patient and its clinic, above). They lock their own row only now
# (of=("self",)).


def test_a_reading_commits_while_a_photo_analysis_is_stored(monkeypatch, media, clinician, patient):
    from tests.photos.test_analysis_result import keep, result
    from touchup.clinic.services import photos

    photo = keep(clinician, patient, "frown")
    _while_paused(monkeypatch, "photo.analysis",
                  lambda: photos.photo_record_analysis(
                      photo_id=photo.pk, result=result(glabella={"wrinkle_index": 0.3, "grade": 1})),
                  _reading(clinician, patient))
    assert patient.observations.count() == 2


def test_a_reading_commits_while_a_call_back_request_is_handled(monkeypatch, clinician, front_desk, patient):
    from touchup.portal.services.booking_requests import booking_request_create, booking_request_handle

    request = booking_request_create(actor=clinician, patient=patient, areas=["glabella"])
    _while_paused(monkeypatch, "portal.booking_request.handle",
                  lambda: booking_request_handle(actor=front_desk, request=request),
                  _reading(clinician, patient))
    request.refresh_from_db()
    assert request.handled_at is not None and patient.observations.count() == 1


def test_a_reading_commits_while_a_side_effect_report_is_reviewed(monkeypatch, clinician, patient):
    from touchup.portal.services.side_effects import side_effect_report, side_effect_review

    report = side_effect_report(actor=clinician, patient=patient, kind="other", details="a headache")
    _while_paused(monkeypatch, "portal.side_effect.review",
                  lambda: side_effect_review(actor=clinician, report=report),
                  _reading(clinician, patient))
    report.refresh_from_db()
    assert report.reviewed_at is not None and patient.observations.count() == 1


@pytest.fixture
def screened(patient, clinician):
    from tests.web.conftest import clean_answers
    from touchup.clinic.services.screenings import screening_record

    return screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())


def _draft(clinician, patient, vial=None):
    from touchup.clinic.services.treatments import treatment_start
    from touchup.web.clinical import protocols_for

    protocol = next(p["key"] for p in protocols_for("glabellar_lines") if p["product"] in ("", "onabotulinumtoxinA"))
    return treatment_start(actor=clinician, patient=patient, indication="glabellar_lines",
                           product="onabotulinumtoxinA", protocol=protocol, vial=vial)


def test_a_chart_naming_the_screening_is_signed_while_the_doctor_signs_it_off(monkeypatch, clinician, screened,
                                                                             vial):
    """The doctor's sign-off locks the screening row; signing a chart names that screening
    (Treatment.screening), checked at the signature's commit with the head held."""
    from touchup.clinic.services.screenings import screening_doctor_signoff
    from touchup.clinic.services.treatments import treatment_sign

    draft = _draft(clinician, screened.patient, vial)
    _while_paused(monkeypatch, "screening.doctor_signoff",
                  lambda: screening_doctor_signoff(actor=clinician, screening=screened),
                  lambda: treatment_sign(actor=clinician, treatment=draft))
    draft.refresh_from_db()
    screened.refresh_from_db()
    assert draft.is_signed and draft.screening_id == screened.pk and screened.doctor_signed


def test_a_photo_of_the_day_is_kept_while_the_draft_is_charted(monkeypatch, media, clinician, screened):
    """Saving the chart locks the draft; a photo uploaded that day belongs to the draft's
    cycle (Photo.treatment), checked at the upload's commit with the head held."""
    from tests.photos.test_analysis_result import keep
    from touchup.clinic.services.treatments import treatment_set_points

    draft = _draft(clinician, screened.patient)
    points = [{"site": "", "area": "glabella", "units": 4, "x": 200, "y": 100}]
    _while_paused(monkeypatch, "treatment.chart",
                  lambda: treatment_set_points(actor=clinician, treatment=draft, points=points),
                  lambda: keep(clinician, screened.patient, "frown"))
    assert draft.points.count() == 1 and draft.photos.count() == 1


def test_a_draft_is_discarded_while_a_photo_of_its_day_is_kept(monkeypatch, media, clinician, screened):
    """The upload names the draft (the cycle of its day) before it holds the head; a discard
    that commits meanwhile deleted that row. The upload looks again once it holds the head
    and keeps the photo with the cycle its day has now, instead of failing its foreign-key
    check at the commit (a 500)."""
    from tests.photos.test_analysis_result import keep
    from touchup.clinic.models import Photo, Treatment
    from touchup.clinic.services.treatments import treatment_discard

    draft = _draft(clinician, screened.patient)
    _while_paused(monkeypatch, "photo.upload",
                  lambda: keep(clinician, screened.patient, "frown"),
                  lambda: treatment_discard(actor=clinician, treatment=draft))
    assert not Treatment.objects.filter(pk=draft.pk).exists()
    photo = Photo.objects.get(patient=screened.patient)
    assert photo.treatment_id is None


def test_a_photo_of_its_day_is_kept_while_the_draft_is_discarded(monkeypatch, media, clinician, screened):
    """The discard holds the draft (and has unlinked the photos it could see) when the upload
    names it: the upload commits first, and the discard's delete unlinks that photo too."""
    from tests.photos.test_analysis_result import keep
    from touchup.clinic.models import Photo, Treatment
    from touchup.clinic.services.treatments import treatment_discard

    draft = _draft(clinician, screened.patient)
    _while_paused(monkeypatch, "treatment.discard",
                  lambda: treatment_discard(actor=clinician, treatment=draft),
                  lambda: keep(clinician, screened.patient, "frown"))
    assert not Treatment.objects.filter(pk=draft.pk).exists()
    photo = Photo.objects.get(patient=screened.patient)
    assert photo.treatment_id is None


def test_a_chart_naming_a_vial_is_saved_while_the_vial_is_reconstituted(monkeypatch, clinic_a, clinician, screened):
    """Reconstituting locks the vial row; a chart saved meanwhile with points from that vial
    (InjectionPoint.vial) is checked at its commit with the head held."""
    from touchup.clinic.services.treatments import treatment_set_points
    from touchup.clinic.services.vials import vial_receive, vial_reconstitute

    new_vial = vial_receive(actor=clinician, clinic=clinic_a, product="onabotulinumtoxinA", lot="R77",
                            expiry=timezone.localdate() + dt.timedelta(days=200), units=100)
    draft = _draft(clinician, screened.patient)
    points = [{"site": "", "area": "glabella", "units": 4, "x": 200, "y": 100, "vial_id": new_vial.pk}]
    _while_paused(monkeypatch, "vial.reconstitute",
                  lambda: vial_reconstitute(actor=clinician, vial=new_vial, diluent_ml="2.5"),
                  lambda: treatment_set_points(actor=clinician, treatment=draft, points=points))
    new_vial.refresh_from_db()
    assert new_vial.reconstituted_at is not None and draft.points.get().vial_id == new_vial.pk


def test_a_draft_is_discarded_while_its_photo_analysis_is_stored(monkeypatch, media, clinician, screened):
    """Storing an analysis locks the photo row and then records its event. Discarding the draft
    the photo belongs to unlinks the photo (Photo.treatment is SET_NULL): it did so after its
    own event, holding the head while it waited for the photo. It now unlinks first."""
    from tests.photos.test_analysis_result import keep, result
    from touchup.clinic.models import Photo, Treatment
    from touchup.clinic.services import photos
    from touchup.clinic.services.treatments import treatment_discard

    draft = _draft(clinician, screened.patient)
    photo = keep(clinician, screened.patient, "frown")
    assert photo.treatment_id == draft.pk
    _while_paused(monkeypatch, "photo.analysis",
                  lambda: photos.photo_record_analysis(
                      photo_id=photo.pk, result=result(glabella={"wrinkle_index": 0.3, "grade": 1})),
                  lambda: treatment_discard(actor=clinician, treatment=draft),
                  writer_commits_first=False)  # it waits for the photo, before the head
    photo = Photo.objects.get(pk=photo.pk)
    assert not Treatment.objects.filter(pk=draft.pk).exists()
    assert photo.treatment_id is None and photo.analysis_status == "done"


# --- appointments and the forecast rows ---------------------------------------------------


@pytest.fixture
def booked(clinic_a, clinician, front_desk, weekday_hours, patient):
    """A patient due for maintenance (treated 120 days ago), forecast, and booked next Monday 09:00."""
    from tests.maintenance.conftest import next_weekday
    from touchup.maintenance.services import booking, forecasts

    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=120), {"glabella": 20})
    forecasts.recompute(patient)
    monday = next_weekday(timezone.localdate(), 0)
    start = dt.datetime.combine(monday, dt.time(9), tzinfo=dt.UTC)
    return booking.book(actor=front_desk, patient=patient, clinician=clinician, starts_at=start)


def test_a_recompute_commits_while_an_appointment_is_moved(monkeypatch, front_desk, booked):
    """Moving locks the appointment; a recompute carries the booking over to the patient's new
    forecast rows (AreaForecast.appointment), checked at its commit with the head held. A move
    may link the visit to forecast rows (a stale visit moved into the new window), so it takes
    the patient's row lock first, as cancelling does: the recompute waits for it, and neither
    deadlocks nor loses the other's change."""
    from touchup.maintenance.models import AreaForecast
    from touchup.maintenance.services import booking, forecasts

    later = booked.starts_at + dt.timedelta(minutes=30)
    _while_paused(monkeypatch, "appointment.move",
                  lambda: booking.move(actor=front_desk, appointment=booked, starts_at=later),
                  lambda: forecasts.recompute(booked.patient),
                  writer_commits_first=False)  # it waits for the patient
    booked.refresh_from_db()
    assert booked.starts_at == later
    assert list(AreaForecast.objects.filter(patient=booked.patient).values_list("appointment_id", flat=True)) == [
        booked.pk]


def test_an_appointment_is_cancelled_while_a_recompute_rewrites_the_forecast(monkeypatch, front_desk, booked):
    """A recompute replaces the patient's forecast rows, carrying the booking over; cancelling
    clears the booking from them. Cancelling used to lock the appointment FOR UPDATE and then
    wait for the rows the recompute had replaced, while the recompute's commit waited to check
    its rows' key to that appointment (a deadlock); and with the appointment alone locked FOR NO
    KEY UPDATE, the cancellation missed the new rows and left them booked with a cancelled
    visit. It takes the patient's row lock first, as the recompute does."""
    from touchup.maintenance.models import AreaForecast
    from touchup.maintenance.services import booking, forecasts

    _while_paused(monkeypatch, "forecast.recompute",
                  lambda: forecasts.recompute(booked.patient),
                  lambda: booking.cancel(actor=front_desk, appointment=booked),
                  writer_commits_first=False)  # it waits for the patient
    booked.refresh_from_db()
    assert not booked.is_booked
    assert not AreaForecast.objects.filter(appointment=booked).exists()


def test_a_visit_is_booked_while_a_recompute_rewrites_the_forecast(monkeypatch, clinician, front_desk, booked):
    """Booking links the patient's forecast rows to the new appointment; a recompute replacing
    them meanwhile left the new rows unlinked (the booking's update found the old rows gone)."""
    from touchup.maintenance.models import AreaForecast
    from touchup.maintenance.services import booking, forecasts

    booking.cancel(actor=front_desk, appointment=booked)
    start = booked.starts_at + dt.timedelta(hours=1)
    made = []
    _while_paused(monkeypatch, "forecast.recompute",
                  lambda: forecasts.recompute(booked.patient),
                  lambda: made.append(booking.book(actor=front_desk, patient=booked.patient, clinician=clinician,
                                                   starts_at=start)),
                  writer_commits_first=False)  # it waits for the patient
    assert list(AreaForecast.objects.filter(patient=booked.patient).values_list("appointment_id", flat=True)) == [
        made[0].pk]


def test_a_contact_is_noted_while_a_recompute_rewrites_the_forecast(monkeypatch, front_desk, booked):
    """Noting a call locks the patient's forecast rows; a recompute replacing them meanwhile
    made the note fail ('no forecast for that area') or, the other way round, carried the
    status over from rows read before the note committed."""
    from touchup.maintenance.models import AreaForecast
    from touchup.maintenance.services import forecasts
    from touchup.maintenance.services.worklist import mark_contact

    _while_paused(monkeypatch, "forecast.recompute",
                  lambda: forecasts.recompute(booked.patient),
                  lambda: mark_contact(actor=front_desk, patient=booked.patient, area="glabella",
                                       status="not_reachable"),
                  writer_commits_first=False)  # it waits for the patient
    assert AreaForecast.objects.get(patient=booked.patient).contact_status == "not_reachable"


def test_a_maintenance_reminder_is_sent_while_a_recompute_rewrites_the_forecast(monkeypatch, clinician, front_desk,
                                                                                 patient, mailoutbox):
    """Sending the maintenance reminder marks the patient's forecast rows 'reminded'; a
    recompute replacing them meanwhile left the new rows unmarked."""
    from touchup.clinic.services.patients import patient_update
    from touchup.maintenance.models import AreaForecast, Reminder
    from touchup.maintenance.services import forecasts, reminders

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=120), {"glabella": 20})
    forecasts.recompute(patient)
    reminder = Reminder.objects.get(patient=patient, step="maintenance", sent_at__isnull=True)
    assert reminders.claim(reminder.pk, "w1", now=max(reminder.due_at, timezone.now()))
    _while_paused(monkeypatch, "forecast.recompute",
                  lambda: forecasts.recompute(patient),
                  lambda: reminders.send_claimed(reminder.pk, "w1"),
                  writer_commits_first=False)  # it waits for the patient
    assert len(mailoutbox) == 1
    assert AreaForecast.objects.get(patient=patient).contact_status == "reminded"


def test_a_recompute_queued_behind_a_choice_of_no_reminders_sends_none(monkeypatch, clinician, front_desk, patient):
    """The task reads the patient, then the recompute waits for the row lock while the patient
    chooses no reminders (which cancels the pending ones). The recompute then scheduled the
    reminders with the channel of the row as read before the wait, bringing the cancelled
    maintenance reminder back; it works from the row as locked."""
    from touchup.clinic.models import Patient
    from touchup.clinic.services.patients import patient_update
    from touchup.maintenance.models import Reminder
    from touchup.maintenance.services import forecasts
    from touchup.portal.services.preferences import reminder_channel_set

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=120), {"glabella": 20})
    forecasts.recompute(patient)
    assert Reminder.objects.filter(patient=patient, step="maintenance", cancelled_at__isnull=True).exists()
    as_read = Patient.objects.get(pk=patient.pk)  # as the task reads it, before the recompute
    _while_paused(monkeypatch, "patient.reminder_channel",
                  lambda: reminder_channel_set(actor=clinician, patient=patient, channel="none"),
                  lambda: forecasts.recompute(as_read),
                  writer_commits_first=False)  # it waits for the patient
    assert not Reminder.objects.filter(patient=patient, sent_at__isnull=True, cancelled_at__isnull=True).exists()
