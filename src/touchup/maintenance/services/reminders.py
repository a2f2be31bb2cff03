"""Reminders: scheduled when a treatment is signed and when its forecast changes, sent
at most once by however many workers run.

Schedule (clinic local time):
- aftercare: 19:00 on the treatment day (sent at once when signed after that, the same
  day; a chart signed on a later day gets none: the advice would come too late);
- check-in around the expected peak: the earliest peak day of the treated areas
  (core/data/wearoff_priors.toml) after the treatment, 10:00;
- check-in before the window: 14 days before `book_from`, 10:00;
- the wear-off watch: from the before-window check-in on, the same question once a week
  (round 1, 2, ...; 10:00) while the day is before `book_from` and not after the 80%
  interval's end, until the patient reports wearing off for the area (any answer
  recomputes the forecast: a "yes" brings the window, and the maintenance reminder, to
  today; a "no" moves it later, and the watch with it);
- maintenance: 10:00 on `book_from` (at once if the window is already open).
The last three follow the forecast (moved when it moves) and are dropped when the patient
has a booked appointment to come; the watch also ends once the maintenance reminder has
gone.

Sending (`dispatch_due`): each reminder is claimed by a compare-and-set UPDATE (only
one worker's UPDATE matches `claimed_at IS NULL or expired`), then `send_started_at` is
committed just before the message goes to the backend, then `sent_at`. An expired claim
is taken over only when nothing was started; a reminder whose worker died between
`send_started_at` and `sent_at` might have gone out and is never sent again (it is
marked with an error for staff to see).
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.models import Observation, ObservationKind, Patient, Treatment
from touchup.clinic.zones import clinic_zone

from .. import sms
from ..models import (
    STEP_KIND,
    AreaForecast,
    Appointment,
    AppointmentStatus,
    Channel,
    ContactStatus,
    Reminder,
    ReminderStep,
)
from .forecasts import lock_forecasts
from .messages import compose

log = logging.getLogger(__name__)

AFTERCARE_AT = dt.time(19, 0)
DAYTIME = dt.time(10, 0)
CHECKIN_BEFORE_WINDOW_DAYS = 14
# The wear-off watch: one check-in a week from the before-window check-in until the
# window opens. Weekly because patients notice the wear-off about a week after it
# happens (the model's check-in lag, core/data/wearoff_priors.toml), so a week between
# questions adds at most that much again before the maintenance reminder can follow a
# "yes"; asked more often, most answers would repeat the last one (each "no" moves a
# first glabella cycle's window only about five days later).
WATCH_EVERY_DAYS = 7
# At most this many weekly rounds per treatment. Each answered "no" moves the window
# (and the 80% interval) later, by about 5-6 days for a first cosmetic cycle, so a
# patient who keeps answering "no" to a long-lasting area (forehead, platysma,
# daxibotulinumtoxinA) would be asked for months. Ten weeks after the before-window
# check-in is well past the prior median wear-off of every area (five weeks past it for
# a first glabella cycle); the maintenance reminder then goes at the window as forecast.
WATCH_MAX_ROUNDS = 10
# How long a claim holds: far longer than one send takes.
CLAIM_LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 5
RETRY_BACKOFF = dt.timedelta(minutes=5)
# A window that closed this long ago is no reason to write to the patient any more.
STALE_AFTER_DAYS = 60

_FOLLOW_FORECAST = (ReminderStep.CHECKIN_BEFORE_WINDOW, ReminderStep.CHECKIN_WATCH, ReminderStep.MAINTENANCE)


def _at(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, time, tzinfo=zone)


def channel_for(patient: Patient) -> str | None:
    """The patient's chosen channel when it can reach them ("none" means no reminders);
    otherwise email when there is an address, else SMS when there is a number, else none."""
    chosen = getattr(patient, "reminder_channel", "")
    if chosen == "none":
        return None
    if chosen == "email" and patient.email:
        return Channel.EMAIL
    if chosen == "sms" and patient.phone:
        return Channel.SMS
    if patient.email:
        return Channel.EMAIL
    if patient.phone:
        return Channel.SMS
    return None


def _upsert(patient: Patient, treatment_id: int, step: str, due_at: dt.datetime, area: str, channel: str,
            watch_round: int = 0) -> None:
    """Create the step's reminder (of this wear-off watch round; 0 for the other steps), or
    move it while it has not been claimed or sent."""
    existing = Reminder.objects.filter(treatment_id=treatment_id, step=step, round=watch_round).first()
    if existing is None:
        Reminder.objects.create(
            patient=patient, clinic_id=patient.clinic_id, treatment_id=treatment_id, area=area,
            kind=STEP_KIND[step], step=step, round=watch_round, channel=channel, due_at=due_at,
        )
        return
    Reminder.objects.filter(
        pk=existing.pk, sent_at__isnull=True, claimed_at__isnull=True, send_started_at__isnull=True
    ).update(due_at=due_at, area=area, channel=channel, cancelled_at=None)


def schedule_after_sign(treatment: Treatment, *, now: dt.datetime | None = None) -> list[Reminder]:
    """Aftercare and the peak check-in for a just-signed treatment (in the caller's
    transaction). Returns the reminders scheduled."""
    from touchup.core.wearoff import load_priors

    now = now or timezone.now()
    patient = treatment.patient
    channel = channel_for(patient)
    if channel is None:
        return []
    zone = clinic_zone(patient.clinic)
    today = now.astimezone(zone).date()
    areas = sorted({a for a in treatment.points.values_list("area", flat=True)})
    priors = load_priors()
    peaks = [priors.areas[a].peak_days for a in areas if a in priors.areas]
    with transaction.atomic():
        if treatment.treated_on == today:
            _upsert(patient, treatment.pk, ReminderStep.AFTERCARE,
                    max(_at(today, AFTERCARE_AT, zone), now), areas[0] if areas else "", channel)
        if peaks:
            peak_day = treatment.treated_on + dt.timedelta(days=round(min(peaks)))
            if peak_day >= today:
                _upsert(patient, treatment.pk, ReminderStep.CHECKIN_PEAK,
                        max(_at(peak_day, DAYTIME, zone), now), areas[0], channel)
    return list(Reminder.objects.filter(treatment=treatment).order_by("due_at"))


def sync_forecast_reminders(patient: Patient, forecasts: Iterable[AreaForecast], *, now: dt.datetime) -> None:
    """Put the before-window check-in, the wear-off watch and the maintenance reminder
    where the forecast says (one set per treatment, at its earliest window), and drop the
    unsent ones of treatments that no longer lead any area."""
    forecasts = list(forecasts)
    zone = clinic_zone(patient.clinic)
    today = now.astimezone(zone).date()
    channel = channel_for(patient)
    earliest: dict[int, AreaForecast] = {}
    for f in forecasts:
        if f.treatment_id not in earliest or f.book_from < earliest[f.treatment_id].book_from:
            earliest[f.treatment_id] = f
    pending = Reminder.objects.filter(
        patient=patient, step__in=_FOLLOW_FORECAST, sent_at__isnull=True, claimed_at__isnull=True,
        cancelled_at__isnull=True,
    )
    pending.exclude(treatment_id__in=list(earliest)).update(cancelled_at=now, last_error="superseded")
    if channel is None:
        return
    for tid, f in earliest.items():
        if f.appointment_id is not None or (today - f.book_by).days > STALE_AFTER_DAYS:
            pending.filter(treatment_id=tid).update(cancelled_at=now, last_error="booked or stale")
            continue
        before = f.book_from - dt.timedelta(days=CHECKIN_BEFORE_WINDOW_DAYS)
        if before >= today:
            _upsert(patient, tid, ReminderStep.CHECKIN_BEFORE_WINDOW, max(_at(before, DAYTIME, zone), now),
                    f.area, channel)
        else:
            pending.filter(treatment_id=tid, step=ReminderStep.CHECKIN_BEFORE_WINDOW).update(
                cancelled_at=now, last_error="window already near")
        _upsert(patient, tid, ReminderStep.MAINTENANCE, max(_at(f.book_from, DAYTIME, zone), now), f.area, channel)
        _sync_watch(patient, f, pending.filter(treatment_id=tid, step=ReminderStep.CHECKIN_WATCH),
                    today=today, now=now, zone=zone, channel=channel)


def watch_days(book_from: dt.date, wear_off_high: dt.date, anchor: dt.date) -> list[tuple[int, dt.date]]:
    """The wear-off watch's (round, day) for a window opening on `book_from`, counted from
    `anchor` (the day the before-window check-in went out, or is due): every
    WATCH_EVERY_DAYS while the day is before `book_from` (that day the maintenance reminder
    goes instead) and not after `wear_off_high`, at most WATCH_MAX_ROUNDS."""
    days = []
    for k in range(1, WATCH_MAX_ROUNDS + 1):
        day = anchor + dt.timedelta(days=WATCH_EVERY_DAYS * k)
        if day >= book_from or day > wear_off_high:
            break
        days.append((k, day))
    return days


def _watch_over(patient_id: int, treatment_id: int, area: str, treated_on: dt.date) -> str | None:
    """Why the treatment's wear-off watch has ended whatever the forecast says, or None:
    the patient reported wearing off for the area after the treatment, or the maintenance
    reminder has gone (or may have: its send started)."""
    if Observation.objects.filter(
        patient_id=patient_id, area=area, kind=ObservationKind.WEARING_OFF_REPORTED,
        observed_on__gt=treated_on, value__gt=0,
    ).exists():
        return "wearing off reported"
    if Reminder.objects.filter(treatment_id=treatment_id, step=ReminderStep.MAINTENANCE,
                               send_started_at__isnull=False).exists():
        return "maintenance reminder sent"
    return None


def _sync_watch(patient: Patient, f: AreaForecast, pending: Any, *, today: dt.date, now: dt.datetime,
                zone: zoneinfo.ZoneInfo, channel: str) -> None:
    """Schedule the treatment's wear-off watch rounds from the forecast `f` (its earliest
    window) and cancel its pending rounds the forecast no longer asks for. Rounds are
    counted from the before-window check-in as sent (or, before it is sent, as due), so
    their rhythm stays weekly while the window moves; a round whose day has passed is
    left as it is."""
    reason = _watch_over(patient.pk, f.treatment_id, f.area, f.treated_on)
    if reason:
        pending.update(cancelled_at=now, last_error=reason)
        return
    started = (Reminder.objects.filter(treatment_id=f.treatment_id, step=ReminderStep.CHECKIN_BEFORE_WINDOW,
                                       send_started_at__isnull=False)
               .values_list("send_started_at", flat=True).first())
    anchor = (started.astimezone(zone).date() if started is not None
              else f.book_from - dt.timedelta(days=CHECKIN_BEFORE_WINDOW_DAYS))
    planned = watch_days(f.book_from, f.wear_off_high, anchor)
    pending.exclude(round__in=[k for k, _ in planned]).update(cancelled_at=now, last_error="window moved")
    for k, day in planned:
        if day >= today:
            _upsert(patient, f.treatment_id, ReminderStep.CHECKIN_WATCH, max(_at(day, DAYTIME, zone), now),
                    f.area, channel, watch_round=k)


# --- sending ------------------------------------------------------------------------------

def _claimable(now: dt.datetime) -> Q:
    return Q(sent_at__isnull=True, cancelled_at__isnull=True, send_started_at__isnull=True) & (
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    )


def claim(reminder_id: int, worker_id: str, *, now: dt.datetime | None = None) -> bool:
    """Compare-and-set: True when this worker now owns the reminder. One UPDATE, so two
    workers racing for it cannot both match (PostgreSQL re-checks the WHERE on the row
    it waited for; SQLite runs one writer at a time)."""
    now = now or timezone.now()
    won = Reminder.objects.filter(_claimable(now), pk=reminder_id, attempts__lt=MAX_ATTEMPTS).update(
        claimed_at=now, claimed_by=worker_id, attempts=F("attempts") + 1
    )
    return won == 1


def _deliver(reminder: Reminder) -> None:
    patient = reminder.patient
    message = compose(
        reminder, clinic_name=patient.clinic.name, given_name=patient.given_name,
        treated_on=reminder.treatment.treated_on, clinic_phone=patient.clinic.phone,
        areas=sorted(set(reminder.treatment.points.values_list("area", flat=True))),
    )
    if reminder.channel == Channel.EMAIL:
        if not patient.email:
            raise ValueError("no email address")
        EmailMessage(message.subject, message.body, to=[patient.email]).send(fail_silently=False)
    else:
        if not patient.phone:
            raise ValueError("no phone number")
        sms.send_sms(patient.phone, message.body)


def _still_wanted(reminder: Reminder, now: dt.datetime) -> str | None:
    """Why the reminder should not go out after all, or None."""
    if reminder.step in _FOLLOW_FORECAST and Appointment.objects.filter(
        patient_id=reminder.patient_id, status=AppointmentStatus.BOOKED, starts_at__gte=now
    ).exists():
        return "an appointment is booked"
    if reminder.step == ReminderStep.CHECKIN_WATCH:
        # The answer may have come in since the rounds were scheduled, and its recompute
        # may still be queued.
        return _watch_over(reminder.patient_id, reminder.treatment_id, reminder.area,
                           reminder.treatment.treated_on)
    return None


def send_claimed(reminder_id: int, worker_id: str, *, now: dt.datetime | None = None) -> str:
    """Send one reminder this worker has claimed: 'sent', 'skipped', 'failed' or 'lost'."""
    now = now or timezone.now()
    reminder = Reminder.objects.select_related("patient__clinic", "treatment").get(pk=reminder_id)
    if reminder.claimed_by != worker_id:
        return "lost"
    reason = _still_wanted(reminder, now)
    if reason:
        Reminder.objects.filter(pk=reminder_id, claimed_by=worker_id, sent_at__isnull=True).update(
            cancelled_at=now, last_error=reason)
        return "skipped"
    # Committed before the send: from here on a crash means "maybe sent", never resent.
    started = Reminder.objects.filter(
        pk=reminder_id, claimed_by=worker_id, send_started_at__isnull=True, sent_at__isnull=True
    ).update(send_started_at=timezone.now())
    if started != 1:
        return "lost"
    try:
        _deliver(reminder)
    except Exception as exc:  # the backend refused: nothing went out, try again later
        Reminder.objects.filter(pk=reminder_id, claimed_by=worker_id).update(
            send_started_at=None, claimed_at=None, claimed_by="",
            last_error=f"{type(exc).__name__}: {exc}"[:300], due_at=timezone.now() + RETRY_BACKOFF,
        )
        log.warning("reminder %s not sent (%s)", reminder_id, type(exc).__name__)
        return "failed"
    sent_at = timezone.now()
    with transaction.atomic():
        if reminder.step == ReminderStep.MAINTENANCE:
            lock_forecasts(reminder.patient_id)  # a recompute may be replacing the rows marked below
        Reminder.objects.filter(pk=reminder_id, claimed_by=worker_id).update(sent_at=sent_at, last_error="")
        if reminder.step == ReminderStep.MAINTENANCE:
            AreaForecast.objects.filter(patient_id=reminder.patient_id, treatment_id=reminder.treatment_id).exclude(
                contact_status__in=[ContactStatus.NOT_REACHABLE, ContactStatus.DECLINED]
            ).update(contact_status=ContactStatus.REMINDED, contact_at=sent_at)
        audit.record(
            "reminder.sent", patient=reminder.patient, obj=reminder,
            detail={"step": reminder.step, "channel": reminder.channel, "worker": worker_id[:32]},
        )
    return "sent"


def flag_interrupted(*, now: dt.datetime | None = None) -> int:
    """Reminders whose worker stopped between starting and finishing a send: they may have
    gone out, so they are not sent again; staff see the error."""
    now = now or timezone.now()
    return Reminder.objects.filter(
        sent_at__isnull=True, cancelled_at__isnull=True, send_started_at__isnull=False,
        claimed_at__lt=now - CLAIM_LEASE,
    ).update(cancelled_at=now, last_error="worker stopped while sending; not resent to avoid a duplicate")


def dispatch_due(worker_id: str, *, now: dt.datetime | None = None, limit: int = 100) -> dict[str, int]:
    """Claim and send what is due; returns counts by outcome. Run by `touchup worker`."""
    now = now or timezone.now()
    flag_interrupted(now=now)
    counts = {"sent": 0, "skipped": 0, "failed": 0, "lost": 0}
    candidates = list(
        Reminder.objects.filter(_claimable(now), due_at__lte=now, attempts__lt=MAX_ATTEMPTS)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for reminder_id in candidates:
        if not claim(reminder_id, worker_id, now=now):
            counts["lost"] += 1
            continue
        counts[send_claimed(reminder_id, worker_id)] += 1
    return counts
