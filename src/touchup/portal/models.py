"""What the portal keeps beside the clinic's records: invitations, side-effect reports
and booking requests. Rows hold data only; every write goes through a service in
touchup.portal.services, which audits it in the same transaction."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from touchup.clinic.models import Clinic, Patient, Treatment


class Invitation(models.Model):
    """A single-use link that lets one patient set a password. Only the SHA-256 of the
    token is stored, so a copy of the database hands out no working links."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="invitations")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    token_sha256 = models.CharField(max_length=64, unique=True)
    email = models.EmailField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # A newer invitation for the same patient retires the older ones.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "-created_at"])]


class SideEffectKind(models.TextChoices):
    BRUISING = "bruising", "Bruising"
    DROOPING_EYELID = "drooping_eyelid", "Drooping eyelid or eyebrow"
    HEADACHE = "headache", "Headache"
    TROUBLE_SWALLOWING = "trouble_swallowing", "Trouble swallowing"
    TROUBLE_BREATHING = "trouble_breathing", "Trouble breathing or speaking"
    OTHER = "other", "Something else"


# Signs of the toxin spreading (every product's boxed warning): the patient is sent to
# emergency care at once and the report is flagged urgent on the clinic's worklist.
URGENT_KINDS = frozenset({SideEffectKind.TROUBLE_SWALLOWING, SideEffectKind.TROUBLE_BREATHING})


class SideEffectReport(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="side_effect_reports")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    treatment = models.ForeignKey(
        Treatment, null=True, blank=True, on_delete=models.SET_NULL, related_name="side_effect_reports"
    )
    kind = models.CharField(max_length=30, choices=SideEffectKind.choices)
    details = models.TextField(blank=True)
    started_on = models.DateField()
    urgent = models.BooleanField(default=False)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        indexes = [
            # The clinic's worklist: open reports, urgent first, newest first.
            models.Index(fields=["clinic", "-urgent", "-reported_at"], condition=Q(reviewed_at__isnull=True),
                         name="side_effects_open"),
            models.Index(fields=["patient", "-reported_at"]),
        ]


class BookingRequest(models.Model):
    """"Please call me to book": when no free slot suits, the request reaches the clinic."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="booking_requests")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    areas = models.JSONField(default=list)
    preferred = models.CharField(max_length=300, blank=True)  # "weekday mornings"
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "handled_at", "-requested_at"])]


class Hit6Score(models.Model):
    """The patient's HIT-6 total (36-78) from the headache diary. Kept here rather than as
    an Observation: the forecast's history format has no HIT-6 kind, and an unknown kind
    would make the patient's whole history unreadable to it."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="hit6_scores")
    observed_on = models.DateField()
    value = models.PositiveSmallIntegerField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["patient", "observed_on"])]
        constraints = [
            models.CheckConstraint(condition=Q(value__gte=36, value__lte=78), name="hit6_in_range"),
        ]
