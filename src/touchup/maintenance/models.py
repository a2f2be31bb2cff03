"""What the maintenance loop keeps: each patient-area's current forecast, the reminders
it schedules, the clinicians' working hours, appointments and calendar feeds.

Rows hold data only; every write goes through a service in touchup.maintenance.services,
which audits it in the same transaction (as in touchup.clinic).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from touchup.clinic.models import Clinic, Patient, Treatment


class ContactStatus(models.TextChoices):
    NONE = "", "Not contacted"
    REMINDED = "reminded", "Reminder sent"
    NOT_REACHABLE = "not_reachable", "Not reachable"
    DECLINED = "declined", "Declined for now"


class EarlyReportOutcome(models.TextChoices):
    """How the front desk's call about an early wear-off report ended (each one settles
    the report: a patient who did not answer is still to be called, so that is no outcome)."""

    REVIEW_BOOKED = "review_booked", "Review booked"
    PHOTO_REQUESTED = "photo_requested", "Photo requested"
    NO_ACTION = "no_action", "Spoke, no action needed"


# A booking window is never wider than this (the forecast's are a few weeks: the 25th
# percentile of the wear-off day to its median). The bound lets the worklist scan a
# narrow slice of the index instead of every window that opened in the past.
MAX_WINDOW_DAYS = 60


class AreaForecast(models.Model):
    """The forecast for one area of a patient's most recent treatment of it (a row per
    entry of touchup.core.forecast.Forecast). Rebuilt whenever the history changes;
    booking and contact state carry over while the treatment stays the same."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="area_forecasts")
    # Denormalised so the worklist filters on this table alone (see the indexes).
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="area_forecasts")
    area = models.CharField(max_length=40)
    product = models.CharField(max_length=40)
    treated_on = models.DateField()
    wear_off_date = models.DateField()
    wear_off_low = models.DateField()  # central 80% interval
    wear_off_high = models.DateField()
    book_from = models.DateField()
    book_by = models.DateField()
    earliest_allowed = models.DateField()
    basis = models.CharField(max_length=300)
    computed_at = models.DateTimeField()
    # No plain index: most rows are NULL here, and SQLite's planner took an index on this
    # column for "IS NULL" as highly selective and walked every unbooked row. The partial
    # indexes below serve both lookups.
    appointment = models.ForeignKey(
        "Appointment", null=True, blank=True, on_delete=models.SET_NULL, related_name="forecasts", db_index=False
    )
    contact_status = models.CharField(max_length=20, choices=ContactStatus.choices, blank=True, default="")
    contact_at = models.DateTimeField(null=True, blank=True)
    # The day the patient began reporting it wearing off, when the cycle's check-ins are an
    # early wear-off report (touchup.core.early_report; set by each recompute): kept on the
    # row so the worklist's "Reported wearing off early" section is one indexed query.
    early_report_on = models.DateField(null=True, blank=True)
    # The front desk's call about that report (EarlyReportOutcome; the worklist section's
    # buttons): a handled report leaves the section. It belongs to that report only: a
    # recompute keeps it while early_report_on stays the same, so a new "yes" after a "no"
    # (a new report) shows again.
    early_report_handled_at = models.DateTimeField(null=True, blank=True)
    early_report_outcome = models.CharField(max_length=20, choices=EarlyReportOutcome.choices, blank=True,
                                            default="")
    # No index: nothing reads by it, and deleting a user (rare) may scan for SET_NULL.
    early_report_handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "area"], name="one_forecast_per_patient_area"),
            models.CheckConstraint(condition=Q(book_from__lte=F("book_by")), name="window_in_order"),
            models.CheckConstraint(condition=Q(wear_off_low__lte=F("wear_off_high")), name="interval_in_order"),
        ]
        indexes = [
            # The worklist: one clinic's unbooked windows by closing date (the list's order:
            # the most urgent first), covering every column the filters and the per-area
            # counts read (an index-only range scan). Partial, so booked rows cost nothing.
            models.Index(
                fields=["clinic", "book_by", "book_from", "area", "clinician", "contact_status"],
                condition=Q(appointment__isnull=True), name="worklist_due",
            ),
            models.Index(
                fields=["clinic", "book_by", "book_from", "area", "clinician", "contact_status"],
                condition=Q(appointment__isnull=False), name="worklist_booked",
            ),
            models.Index(fields=["appointment"], condition=Q(appointment__isnull=False), name="forecast_appointment"),
            # The worklist's early reports still to call about: a handful of rows per
            # clinic, so partial (handled ones leave it).
            models.Index(fields=["clinic", "early_report_on"],
                         condition=Q(early_report_on__isnull=False, early_report_handled_at__isnull=True),
                         name="forecast_early_report_open"),
        ]


class ReminderKind(models.TextChoices):
    AFTERCARE = "aftercare", "Aftercare"
    CHECKIN = "checkin", "Check-in"
    MAINTENANCE = "maintenance", "Maintenance"


class ReminderStep(models.TextChoices):
    """Which message of a treatment's cycle; one reminder per step and treatment, except
    the wear-off watch: one per week (`Reminder.round`)."""

    AFTERCARE = "aftercare", "Aftercare, the evening of the treatment"
    CHECKIN_PEAK = "checkin_peak", "How is it going? (around the peak)"
    CHECKIN_BEFORE_WINDOW = "checkin_before_window", "How is it going? (before the window)"
    CHECKIN_WATCH = "checkin_watch", "Is it wearing off yet? (weekly until the window)"
    MAINTENANCE = "maintenance", "Time to book (the window opens)"


STEP_KIND = {
    ReminderStep.AFTERCARE: ReminderKind.AFTERCARE,
    ReminderStep.CHECKIN_PEAK: ReminderKind.CHECKIN,
    ReminderStep.CHECKIN_BEFORE_WINDOW: ReminderKind.CHECKIN,
    ReminderStep.CHECKIN_WATCH: ReminderKind.CHECKIN,
    ReminderStep.MAINTENANCE: ReminderKind.MAINTENANCE,
}


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class Reminder(models.Model):
    """A message to a patient, sent at most once.

    A worker owns a reminder after a compare-and-set UPDATE on `claimed_at`; it stamps
    `send_started_at` (committed) just before handing the message to the backend, and
    `sent_at` after. A claim that expired with `send_started_at` empty is taken over by
    another worker (nothing was sent); one with `send_started_at` set is never sent again
    (it may have gone out) and is flagged for staff instead.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminders")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="reminders")
    area = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    step = models.CharField(max_length=30, choices=ReminderStep.choices)
    # Which week of the wear-off watch (1, 2, ...); 0 for every other step.
    round = models.PositiveSmallIntegerField(default=0)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    send_started_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["treatment", "step", "round"], name="one_reminder_per_step_round"),
        ]
        indexes = [
            # The dispatcher's scan: what is due and not yet sent.
            models.Index(
                fields=["due_at"], condition=Q(sent_at__isnull=True, cancelled_at__isnull=True),
                name="reminder_pending",
            ),
            models.Index(fields=["patient", "-due_at"]),
        ]


class WorkingHours(models.Model):
    """When a clinician sees patients: one block per weekday (0 = Monday), cut into
    slots of `slot_minutes`."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField()
    start = models.TimeField()
    end = models.TimeField()
    slot_minutes = models.PositiveSmallIntegerField(default=30)

    class Meta:
        ordering = ["clinician_id", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="weekday_0_6"),
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="hours_start_before_end"),
            models.CheckConstraint(condition=Q(slot_minutes__gte=5, slot_minutes__lte=240), name="slot_5_240"),
            models.UniqueConstraint(fields=["clinician", "weekday", "start"], name="one_block_per_start"),
        ]


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"


class Appointment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # No index of its own: appointment_clinic_starts (clinic, starts_at) leads with clinic_id,
    # so it serves every lookup by clinic (the PROTECT check on deleting a clinic, the
    # foreign key's own check) as well; a second index would only slow every write.
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+", db_index=False)
    # The same for the patient and the clinician: (patient, starts_at) and (clinician,
    # starts_at) below lead with them.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments", db_index=False)
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    areas = models.JSONField(default=list)  # the forecast areas the visit is for
    status = models.CharField(max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED)
    # Bumped on every move or cancellation so calendar programs replace their copy (RFC 5545).
    sequence = models.PositiveIntegerField(default=0)
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    booked_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Double booking is refused by the database too, whatever the application does.
            models.UniqueConstraint(
                fields=["clinician", "starts_at"], condition=Q(status="booked"), name="one_booking_per_slot"
            ),
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="appointment_in_order"),
        ]
        indexes = [
            models.Index(fields=["clinician", "starts_at"]),
            models.Index(fields=["patient", "starts_at"]),
            # The day view and the schedule read one clinic's appointments between two
            # instants; without it they scan every appointment the clinic ever had.
            models.Index(fields=["clinic", "starts_at"], name="appointment_clinic_starts"),
        ]

    @property
    def is_booked(self) -> bool:
        return self.status == AppointmentStatus.BOOKED


class CalendarFeed(models.Model):
    """A clinician's read-only iCalendar subscription. The token in the URL is the only
    credential (calendar programs cannot log in); only its SHA-256 is stored."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)


class MedianCalibration(models.Model):
    """The clinic's own wear-off medians, fitted to its patients' histories
    (touchup.core.calibration): proposed, then applied by the manager. The latest applied
    one is what the clinic's forecasts use; older rows are kept as the record of what
    moved when."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    as_of = models.DateField()
    patients = models.PositiveIntegerField()  # histories read
    # {area: {"patients": n, "shift": log shift, "sd": ..., "before": days, "after": days}}
    result = models.JSONField()
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["clinic", "applied_at"])]

    def shifts(self) -> dict[str, float]:
        """The log-median shifts to apply: areas with enough patients only."""
        return {area: r["shift"] for area, r in self.result.items() if r.get("calibrated")}


class OwedRecompute(models.Model):
    """A forecast recompute still owed: the outbox between a change and the background task
    (docs/maintenance.md, "A recompute is never lost").

    Upserted in the transaction that makes the change, so it commits or rolls back with
    it, whatever happens to the queue afterwards. The task deletes it once it has read data
    at least as new as the request: a compare-and-delete on `token`, which every new
    request replaces (a random value rather than a time: the web and worker machines'
    clocks need not agree, and a row deleted and requested again must not match an old
    reading). Until then the worker's sweep queues the task again whenever `retry_at` has
    passed, whatever became of the last one (never queued, lost, worker killed mid-task).
    """

    token = models.UUIDField(default=uuid.uuid4)
    requested_at = models.DateTimeField()  # the latest change asking for it (for monitoring)
    retry_at = models.DateTimeField()  # when the sweep queues it again if it is still here
    attempts = models.PositiveIntegerField(default=0)  # queued again by the sweep (for back-off)

    class Meta:
        abstract = True


class RecomputeRequest(OwedRecompute):
    """One patient's chart changed (a treatment signed, an observation recorded or removed)."""

    patient = models.OneToOneField(Patient, primary_key=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        # The sweep's scan: only what is due, however many patients the clinic has.
        indexes = [models.Index(fields=["retry_at"], name="recompute_retry")]


class ClinicRecomputeRequest(OwedRecompute):
    """Every forecast of a clinic, after its medians changed (a calibration applied): one
    row for the clinic, not one per patient, since the clinic's task recomputes them all
    in batches (forecasts.recompute_many), far faster than one task per patient."""

    clinic = models.OneToOneField(Clinic, primary_key=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["retry_at"], name="clinic_recompute_retry")]


class CalibrationFitRequest(OwedRecompute):
    """A manager asked for a fit of the clinic's medians (services.calibration.request_fit):
    kept until a fit has read the charts, so a fit lost with its worker is queued again by
    the sweep, and the calibration page can say that one is under way and who asked."""

    clinic = models.OneToOneField(Clinic, primary_key=True, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["retry_at"], name="calibration_fit_retry")]


class TrackRecordRequest(OwedRecompute):
    """A manager asked for the clinic's forecast track record to be scored again
    (services.track_record.request_scoring): kept until a scoring has read the charts, so
    one lost with its worker is queued again by the sweep, and the page can say that one is
    under way and who asked."""

    clinic = models.OneToOneField(Clinic, primary_key=True, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["retry_at"], name="track_record_retry")]


class TrackRecordReport(models.Model):
    """The clinic's forecast track record as it was scored (touchup.core.track_record): what
    the manager's page shows, so that opening it does not read every chart again. Only
    aggregate numbers, per area and for the clinic: no patient, no cycle. Older rows are
    kept as the record of how the forecasts did over time; the page shows the latest."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    computed_at = models.DateTimeField()
    computed_by = models.ForeignKey(  # who asked; empty for the command line or an automatic run
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    as_of = models.DateField()
    patients = models.PositiveIntegerField()  # histories read
    # The clinic's calibration the forecasts were made with (None: the published medians).
    calibration = models.ForeignKey(
        MedianCalibration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # {"areas": [AreaRecord as data, ...], "overall": AreaRecord as data}
    # (core.track_record.record_data), unrounded, so the page rounds as it did.
    result = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["clinic", "computed_at"], name="track_record_clinic_at")]


class WorkerHeartbeat(models.Model):
    """A `touchup worker` process, as it last reported itself (services.workers): what the
    health check and the staff pages' "worker not running" notice read, and how the sweep
    tells a task left RUNNING by a dead worker from one still running."""

    worker_id = models.CharField(max_length=64, primary_key=True)  # as the task rows record it
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)  # a clean stop; a crash leaves it empty
    sends_reminders = models.BooleanField()
    runs_tasks = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["last_seen"], name="worker_last_seen")]
