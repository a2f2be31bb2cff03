"""The patient's own settings: how the clinic's reminders reach them."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Patient

CHANNELS = {"email": "Email", "sms": "Text message", "none": "No reminders"}


@transaction.atomic
def reminder_channel_set(*, actor: Any, patient: Patient, channel: str) -> Patient:
    """Choose the channel; the reminders still waiting to be sent follow the choice (or are
    cancelled for "none"), so the change applies at once."""
    from touchup.maintenance.models import Reminder
    from touchup.maintenance.services.reminders import channel_for

    if channel not in CHANNELS:
        raise InvalidInput("channel", f"must be one of {', '.join(CHANNELS)}")
    if channel == "email" and not patient.email:
        raise InvalidInput("channel", "the clinic has no email address for you; ask them to add it, or choose text")
    if channel == "sms" and not patient.phone:
        raise InvalidInput("channel", "the clinic has no mobile number for you; ask them to add it, or choose email")
    # FOR NO KEY UPDATE: a reading, a photo or a signature of this patient committing
    # meanwhile checks its foreign key to the row (FOR KEY SHARE) while it holds the audit
    # head, which this transaction asks for last; FOR UPDATE made the two wait for each
    # other on PostgreSQL (docs/reliability.md).
    patient = Patient.objects.select_for_update(no_key=True).get(pk=patient.pk)
    patient.reminder_channel = channel
    patient.save(update_fields=["reminder_channel"])
    pending = Reminder.objects.filter(patient=patient, sent_at__isnull=True, cancelled_at__isnull=True,
                                      claimed_at__isnull=True)
    new = channel_for(patient)
    if new is None:
        changed = pending.update(cancelled_at=timezone.now(), last_error="the patient chose no reminders")
    else:
        changed = pending.exclude(channel=new).update(channel=new)
    audit.record("patient.reminder_channel", actor=actor, patient=patient, obj=patient,
                 detail={"channel": channel, "pending_changed": changed})
    return patient
