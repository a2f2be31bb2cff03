"""Reminders: when they are scheduled, what they say, and that each is sent at most once."""

import datetime as dt
import os
import zoneinfo

import pytest
from django.utils import timezone

from touchup.clinic.models import AuditEvent
from touchup.maintenance import sms
from touchup.maintenance.models import AreaForecast, Reminder
from touchup.maintenance.services import booking, reminders

from .conftest import area_forecast, next_weekday, signed_treatment

UTC = zoneinfo.ZoneInfo("UTC")


@pytest.fixture
def reachable(patient):
    patient.email = "dana@example.invalid"
    patient.phone = "+447700900123"
    patient.save()
    return patient


def test_signing_schedules_aftercare_tonight_and_a_check_in_at_the_peak(reachable, clinician):
    now = dt.datetime.combine(timezone.localdate(), dt.time(11, 0), tzinfo=UTC)
    t = signed_treatment(reachable, clinician, now.date(), {"glabella": 20})
    scheduled = reminders.schedule_after_sign(t, now=now)
    by_step = {r.step: r for r in scheduled}
    assert by_step["aftercare"].due_at == dt.datetime.combine(now.date(), dt.time(19, 0), tzinfo=UTC)
    assert by_step["aftercare"].kind == "aftercare" and by_step["aftercare"].channel == "email"
    # glabella peaks about three weeks after the injections (wearoff_priors.toml)
    assert by_step["checkin_peak"].due_at.date() == now.date() + dt.timedelta(days=21)
    # Signing again (or twice) does not duplicate.
    reminders.schedule_after_sign(t, now=now)
    assert Reminder.objects.filter(treatment=t).count() == 2


def test_a_chart_signed_days_later_gets_no_aftercare(reachable, clinician):
    t = signed_treatment(reachable, clinician, timezone.localdate() - dt.timedelta(days=3), {"glabella": 20})
    steps = {r.step for r in reminders.schedule_after_sign(t)}
    assert steps == {"checkin_peak"}


def test_no_contact_details_no_reminders(patient, clinician):
    t = signed_treatment(patient, clinician, timezone.localdate(), {"glabella": 20})
    assert reminders.schedule_after_sign(t) == []


def test_forecast_places_the_before_window_check_in_and_the_maintenance_reminder(reachable, clinician):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=60), {"glabella": 20, "forehead": 10},
                         indication="upper_face_lines")
    rows = [area_forecast(reachable, t, "glabella", today + dt.timedelta(days=40)),
            area_forecast(reachable, t, "forehead", today + dt.timedelta(days=30))]
    now = timezone.now()
    reminders.sync_forecast_reminders(reachable, rows, now=now)
    got = {r.step: r for r in Reminder.objects.filter(treatment=t)}
    # One pair per treatment, at its earliest window (the forehead's).
    assert got["maintenance"].due_at.date() == today + dt.timedelta(days=30)
    assert got["maintenance"].area == "forehead"
    assert got["checkin_before_window"].due_at.date() == today + dt.timedelta(days=16)
    # The forecast moves: so do the unsent reminders.
    AreaForecast.objects.filter(area="forehead").update(book_from=today + dt.timedelta(days=50),
                                                       book_by=today + dt.timedelta(days=64))
    reminders.sync_forecast_reminders(reachable, AreaForecast.objects.filter(patient=reachable), now=now)
    assert Reminder.objects.get(treatment=t, step="maintenance").due_at.date() == today + dt.timedelta(days=40)


def test_dispatch_sends_once_marks_contact_and_audits(reachable, clinician, mailoutbox):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today - dt.timedelta(days=1))
    reminders.sync_forecast_reminders(reachable, AreaForecast.objects.filter(patient=reachable),
                                      now=timezone.now() - dt.timedelta(hours=1))
    counts = reminders.dispatch_due("w1")
    assert counts["sent"] == 1
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["dana@example.invalid"]
    assert "/portal/book/" in message.body  # one tap to the booking page (after a sign-in)
    # Nothing clinical: no product, area or dose in the message.
    for word in ("onabotulinum", "glabella", "botox", "units", "20"):
        assert word not in (message.subject + message.body).lower()
    r = Reminder.objects.get(step="maintenance")
    assert r.sent_at and r.claimed_by == "w1" and r.attempts == 1
    assert AreaForecast.objects.get(patient=reachable).contact_status == "reminded"
    assert AuditEvent.objects.filter(action="reminder.sent", patient_id_ref=reachable.pk).count() == 1
    assert reminders.dispatch_due("w2")["sent"] == 0
    assert len(mailoutbox) == 1


def test_sms_goes_through_the_adapter_chosen_by_the_environment(patient, clinician, monkeypatch, tmp_path):
    patient.phone = "+447700900124"
    patient.save()
    monkeypatch.setenv("TOUCHUP_SMS_BACKEND", "file")
    monkeypatch.setenv("TOUCHUP_SMS_FILE", str(tmp_path / "sms.log"))
    t = signed_treatment(patient, clinician, timezone.localdate(), {"glabella": 20})
    reminders.schedule_after_sign(t, now=timezone.now() - dt.timedelta(days=1) + dt.timedelta(days=1))
    Reminder.objects.update(due_at=timezone.now() - dt.timedelta(minutes=1))
    assert reminders.dispatch_due("w1")["sent"] == 2
    lines = (tmp_path / "sms.log").read_text().splitlines()
    assert len(lines) == 2 and all("+447700900124" in line for line in lines)
    monkeypatch.setenv("TOUCHUP_SMS_BACKEND", "no.such.Backend")
    with pytest.raises(ValueError, match="TOUCHUP_SMS_BACKEND"):
        sms.get_backend()


def test_a_failing_backend_is_retried_later_and_records_the_error(patient, clinician, monkeypatch):
    patient.phone = "+447700900125"
    patient.save()
    monkeypatch.setenv("TOUCHUP_SMS_BACKEND", "tests.maintenance.test_reminders.RefusingGateway")
    t = signed_treatment(patient, clinician, timezone.localdate(), {"glabella": 20})
    reminders.schedule_after_sign(t)
    Reminder.objects.update(due_at=timezone.now() - dt.timedelta(minutes=1))
    assert reminders.dispatch_due("w1")["failed"] == 2
    r = Reminder.objects.filter(treatment=t).first()
    assert r.sent_at is None and r.claimed_at is None and r.send_started_at is None
    assert "gateway down" in r.last_error and r.attempts == 1
    assert r.due_at > timezone.now()  # backed off


class RefusingGateway:
    def send(self, to, body):
        raise ConnectionError("gateway down")


def _due_reminder(patient, clinician):
    t = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    return Reminder.objects.create(
        patient=patient, clinic_id=patient.clinic_id, treatment=t, area="glabella", kind="checkin",
        step="checkin_peak", channel="email", due_at=timezone.now() - dt.timedelta(minutes=5),
    )


def test_compare_and_set_claim_has_one_winner(reachable, clinician):
    r = _due_reminder(reachable, clinician)
    assert reminders.claim(r.pk, "w1")
    assert not reminders.claim(r.pk, "w2")
    assert Reminder.objects.get(pk=r.pk).claimed_by == "w1"


def test_a_worker_that_died_before_sending_is_taken_over(reachable, clinician, mailoutbox):
    r = _due_reminder(reachable, clinician)
    assert reminders.claim(r.pk, "dead")  # ... and the process is killed here
    later = timezone.now() + reminders.CLAIM_LEASE + dt.timedelta(seconds=1)
    assert reminders.dispatch_due("w2", now=later)["sent"] == 1
    assert len(mailoutbox) == 1
    assert Reminder.objects.get(pk=r.pk).claimed_by == "w2"


def test_a_worker_that_died_while_sending_is_never_resent(reachable, clinician, mailoutbox):
    r = _due_reminder(reachable, clinician)
    assert reminders.claim(r.pk, "dead")
    # The dead worker had committed send_started_at: the message may have left.
    Reminder.objects.filter(pk=r.pk).update(send_started_at=timezone.now())
    later = timezone.now() + reminders.CLAIM_LEASE + dt.timedelta(seconds=1)
    assert reminders.dispatch_due("w2", now=later)["sent"] == 0
    assert mailoutbox == []
    r.refresh_from_db()
    assert r.sent_at is None and r.cancelled_at is not None and "not resent" in r.last_error


def test_a_booked_patient_gets_no_maintenance_reminder(reachable, clinician, front_desk, mailoutbox, weekday_hours):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today - dt.timedelta(days=1))
    reminders.sync_forecast_reminders(reachable, AreaForecast.objects.filter(patient=reachable), now=timezone.now())
    monday = next_weekday(today, 0)
    booking.book(actor=front_desk, patient=reachable, clinician=clinician,
                 starts_at=dt.datetime.combine(monday, dt.time(9), tzinfo=UTC))
    assert reminders.dispatch_due("w1")["sent"] == 0
    assert mailoutbox == []


def test_the_aftercare_message_gives_the_clinics_number_for_the_warning_signs(reachable, clinician, mailoutbox):
    """The evening's aftercare message is the one a patient with a warning sign has to hand:
    with the clinic's number set, it is in the message itself, not behind a sign-in."""
    from touchup.clinic.models import Clinic

    def aftercare_body():
        mailoutbox.clear()
        Reminder.objects.all().delete()
        now = timezone.now()
        t = signed_treatment(reachable, clinician, timezone.localdate(), {"glabella": 20})
        reminders.schedule_after_sign(t, now=now)
        Reminder.objects.filter(step="aftercare").update(due_at=now - dt.timedelta(minutes=1))
        assert reminders.dispatch_due("w1")["sent"] == 1
        return mailoutbox[0].body

    body = aftercare_body()
    assert "Your full aftercare sheet and who to call: " in body and "call the clinic on" not in body
    Clinic.objects.filter(pk=reachable.clinic_id).update(phone="020 7946 0000")
    body = aftercare_body()
    assert "Your full aftercare sheet and the warning signs: " in body
    assert "If you notice one, call the clinic on 020 7946 0000 (trouble swallowing" in body


def test_the_maintenance_message_gives_the_clinics_number():
    from touchup.maintenance.services.messages import compose

    r = Reminder(step="maintenance", area="glabella")
    kw = {"clinic_name": "Alpha", "given_name": "Dana", "treated_on": dt.date(2026, 1, 5)}
    assert "Call us or book here: " in compose(r, **kw).body
    assert "Call the clinic on 020 7946 0000 or book here: " in compose(r, clinic_phone="020 7946 0000", **kw).body
