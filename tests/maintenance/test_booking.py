"""Working hours, free slots, booking into the window, double booking, move and cancel."""

import datetime as dt
import zoneinfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.models import AuditEvent
from touchup.maintenance.models import AreaForecast, Appointment, WorkingHours
from touchup.maintenance.services import booking

from .conftest import area_forecast, next_weekday, signed_treatment

UTC = zoneinfo.ZoneInfo("UTC")


def at(day, hh, mm=0):
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=UTC)


@pytest.fixture
def due_patient(patient, clinician):
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(patient, t, "glabella", today - dt.timedelta(days=3))
    return patient


def test_working_hours_cut_into_slots(clinic_a, clinician, weekday_hours):
    monday = next_weekday(timezone.localdate(), 0)
    slots = booking.free_slots(clinic_a, clinician, monday, monday)
    assert [s.starts_at for s in slots] == [at(monday, 9) + dt.timedelta(minutes=30 * i) for i in range(6)]
    saturday = monday + dt.timedelta(days=5)
    assert booking.free_slots(clinic_a, clinician, saturday, saturday) == []


def test_bad_hours_name_the_field_and_keep_the_old_ones(clinic_a, clinician, weekday_hours):
    before = WorkingHours.objects.count()
    cases = [
        ({"weekday": 7, "start": "09:00", "end": "10:00"}, "blocks[1].weekday"),
        ({"weekday": 1, "start": "9 am", "end": "10:00"}, "blocks[1].start"),
        ({"weekday": 1, "start": "11:00", "end": "10:00"}, "blocks[1].end"),
        ({"weekday": 1, "start": "09:00", "end": "10:00", "slot_minutes": 1}, "blocks[1].slot_minutes"),
        ({"weekday": 0, "start": "09:30", "end": "10:00"}, "blocks[1].start"),  # overlaps blocks[0]
    ]
    for bad, field in cases:
        with pytest.raises(InvalidInput) as exc:
            booking.set_working_hours(actor=clinician, clinic=clinic_a, clinician=clinician,
                                      blocks=[{"weekday": 0, "start": "09:00", "end": "12:00"}, bad])
        assert exc.value.field == field
    assert WorkingHours.objects.count() == before


def test_front_desk_books_a_free_slot_and_the_patient_leaves_the_worklist(
        clinic_a, clinician, front_desk, weekday_hours, due_patient):
    monday = next_weekday(timezone.localdate(), 0)
    appt = booking.book(actor=front_desk, patient=due_patient, clinician=clinician, starts_at=at(monday, 9, 30))
    assert appt.ends_at - appt.starts_at == dt.timedelta(minutes=30)
    assert appt.areas == ["glabella"]
    assert AreaForecast.objects.get(patient=due_patient).appointment == appt
    assert AuditEvent.objects.filter(action="appointment.book", patient_id_ref=due_patient.pk).exists()
    free = booking.free_slots(clinic_a, clinician, monday, monday)
    assert at(monday, 9, 30) not in [s.starts_at for s in free]


def test_double_booking_is_refused_by_the_service_and_by_the_database(
        clinic_a, clinician, front_desk, weekday_hours, due_patient, clinic_b):
    from touchup.clinic.services.patients import patient_create

    other = patient_create(actor=front_desk, clinic=clinic_a, given_name="Eve", family_name="Other",
                           birth_date=dt.date(1990, 1, 1), sex="female")
    monday = next_weekday(timezone.localdate(), 0)
    first = booking.book(actor=front_desk, patient=due_patient, clinician=clinician, starts_at=at(monday, 10))
    with pytest.raises(Conflict):
        booking.book(actor=front_desk, patient=other, clinician=clinician, starts_at=at(monday, 10))
    assert Appointment.objects.filter(status="booked").count() == 1
    # Around the service: the unique constraint still holds.
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            clinic=clinic_a, patient=other, clinician=clinician, starts_at=first.starts_at,
            ends_at=first.ends_at, booked_by=front_desk, booked_at=timezone.now(), updated_at=timezone.now(),
        )


def test_booking_refuses_bad_times_naming_the_field(clinic_a, clinician, front_desk, weekday_hours, due_patient):
    monday = next_weekday(timezone.localdate(), 0)
    last_monday = monday - dt.timedelta(days=14)
    for starts_at in ("next tuesday", at(monday, 9, 10), at(monday, 13), at(last_monday, 9)):
        with pytest.raises(InvalidInput) as exc:
            booking.book(actor=front_desk, patient=due_patient, clinician=clinician, starts_at=starts_at)
        assert exc.value.field == "starts_at"
    with pytest.raises(InvalidInput) as exc:
        booking.book(actor=front_desk, patient=due_patient, clinician=front_desk, starts_at=at(monday, 9))
    assert exc.value.field == "clinician"
    assert not Appointment.objects.exists()
    assert AreaForecast.objects.get(patient=due_patient).appointment is None


def test_booking_before_the_label_allows_is_refused(clinic_a, clinician, front_desk, weekday_hours, patient):
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=10), {"glabella": 20})
    area_forecast(patient, t, "glabella", today + dt.timedelta(days=100),
                  earliest_allowed=today + dt.timedelta(days=80))
    with pytest.raises(InvalidInput) as exc:
        booking.book(actor=front_desk, patient=patient, clinician=clinician,
                     starts_at=at(next_weekday(today, 0), 9))
    assert exc.value.field == "starts_at" and "earliest" in exc.value.message
    # In words, as pages write them ("is before 05 Mar 2027 ... retreating the glabella").
    allowed = today + dt.timedelta(days=80)
    assert exc.value.message == (f"is before {allowed.day} {allowed:%b %Y}, the earliest the label allows "
                                 "retreating Glabella (frown lines)")


def test_move_and_cancel(clinic_a, clinician, front_desk, weekday_hours, due_patient):
    monday = next_weekday(timezone.localdate(), 0)
    appt = booking.book(actor=front_desk, patient=due_patient, clinician=clinician, starts_at=at(monday, 9))
    moved = booking.move(actor=front_desk, appointment=appt, starts_at=at(monday + dt.timedelta(days=1), 11))
    assert moved.starts_at == at(monday + dt.timedelta(days=1), 11) and moved.sequence == 1
    assert at(monday, 9) in [s.starts_at for s in booking.free_slots(clinic_a, clinician, monday, monday)]
    cancelled = booking.cancel(actor=front_desk, appointment=moved)
    assert cancelled.status == "cancelled" and cancelled.sequence == 2
    assert AreaForecast.objects.get(patient=due_patient).appointment is None
    with pytest.raises(Conflict):
        booking.cancel(actor=front_desk, appointment=moved)
    # The cancelled slot is free again, for anyone.
    again = booking.book(actor=front_desk, patient=due_patient, clinician=clinician,
                         starts_at=at(monday + dt.timedelta(days=1), 11))
    assert again.is_booked


def test_moving_to_the_current_time_is_refused_not_a_silent_new_sequence(front_desk, clinician, weekday_hours,
                                                                       due_patient):
    monday = next_weekday(timezone.localdate(), 0)
    appt = booking.book(actor=front_desk, patient=due_patient, clinician=clinician, starts_at=at(monday, 9))
    with pytest.raises(InvalidInput) as exc:
        booking.move(actor=front_desk, appointment=appt, starts_at=at(monday, 9))
    assert exc.value.field == "starts_at" and "current time" in exc.value.message
    appt.refresh_from_db()
    assert appt.sequence == 0 and not AuditEvent.objects.filter(action="appointment.move").exists()


@pytest.mark.django_db(transaction=True)
def test_two_front_desks_racing_for_one_slot_get_one_booking(clinic_a, clinician, front_desk, weekday_hours,
                                                              due_patient):
    """Two real threads, each with its own connection, book the same slot at once."""
    import threading

    from django.db import connection

    from touchup.clinic.services.patients import patient_create

    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("in-memory SQLite shares one cache between threads; the file-backed race is in test_worker")
    other = patient_create(actor=front_desk, clinic=clinic_a, given_name="Eve", family_name="Other",
                           birth_date=dt.date(1990, 1, 1), sex="female")
    start = at(next_weekday(timezone.localdate(), 0), 11)
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(p):
        from django.db import connections
        try:
            barrier.wait()
            booking.book(actor=front_desk, patient=p, clinician=clinician, starts_at=start)
            outcomes.append("booked")
        except Conflict:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in (due_patient, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["booked", "refused"]
    assert Appointment.objects.filter(status="booked", starts_at=start).count() == 1
