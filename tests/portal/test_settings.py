"""The patient chooses how reminders reach them; pending reminders follow the choice."""

import datetime as dt

from django.utils import timezone

from touchup.clinic.models import AuditEvent
from touchup.maintenance.models import Reminder
from touchup.maintenance.services.reminders import channel_for
from tests.maintenance.conftest import signed_treatment


def _pending(patient, clinician):
    t = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=3), {"glabella": 20})
    return Reminder.objects.create(patient=patient, clinic_id=patient.clinic_id, treatment=t, area="glabella",
                                   kind="checkin", step="checkin_peak", channel="email",
                                   due_at=timezone.now() + dt.timedelta(days=10))


def test_the_page_shows_the_current_channel(as_dana, dana):
    html = as_dana.get("/portal/settings/").content.decode()
    assert "How should we remind you?" in html and 'value="email"' in html and "checked" in html
    assert AuditEvent.objects.filter(action="portal.view", patient_id_ref=dana.pk).exists()


def test_choosing_text_moves_pending_reminders_to_sms(as_dana, dana, clinician):
    dana.phone = "+44 7700 900123"
    dana.save(update_fields=["phone"])
    reminder = _pending(dana, clinician)
    r = as_dana.post("/portal/settings/", {"channel": "sms"})
    assert r.status_code == 302
    dana.refresh_from_db()
    reminder.refresh_from_db()
    assert dana.reminder_channel == "sms" and channel_for(dana) == "sms" and reminder.channel == "sms"
    assert AuditEvent.objects.filter(action="patient.reminder_channel").exists()


def test_choosing_none_cancels_pending_reminders(as_dana, dana, clinician):
    reminder = _pending(dana, clinician)
    as_dana.post("/portal/settings/", {"channel": "none"})
    reminder.refresh_from_db()
    dana.refresh_from_db()
    assert reminder.cancelled_at is not None and channel_for(dana) is None


def test_a_channel_without_an_address_is_refused_and_nothing_changes(as_dana, dana):
    assert not dana.phone
    r = as_dana.post("/portal/settings/", {"channel": "sms"})
    assert r.status_code == 422 and "no mobile number" in r.content.decode()
    dana.refresh_from_db()
    assert dana.reminder_channel == ""
    assert as_dana.post("/portal/settings/", {"channel": "pigeon"}).status_code == 422
