"""What the clinic records. Rows hold data and small row-level behaviour only: every
write goes through a service in touchup.clinic.services, which audits it in the same
transaction."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    FRONT_DESK = "front_desk", "Front desk"
    MANAGER = "manager", "Clinic manager"
    PATIENT = "patient", "Patient"


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    # The manager's policy: every staff member needs an authenticator app (two-step sign-in)
    # before any page or API call reaches patient data (touchup.clinic.access.two_step_owed).
    # Patients choose for themselves in the portal.
    require_two_step = models.BooleanField(default=False)
    # How patients reach the clinic, shown wherever they are told to call (portal, printed
    # aftercare, reminder texts: touchup.core.contact.call_the_clinic). Optional: without
    # a number the words stay "call the clinic".
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's role in one clinic. Staff only; patients reach the portal via Patient.user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=[c for c in Role.choices if c[0] != Role.PATIENT])
    # A licensed physician may sign off screenings for therapeutic indications.
    is_doctor = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="one_membership_per_clinic")]


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other / not stated"


class Patient(models.Model):
    # URLs and the API use public_id, never the row id or a name (no PHI in URLs).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # The patient's own choice (portal): "email", "sms" or "none"; blank: the clinic's
    # default (email when there is an address, else a text message).
    reminder_channel = models.CharField(max_length=8, blank=True, default="")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="patient"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
        ]

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def __str__(self) -> str:
        return self.display_name


class Screening(models.Model):
    """The intake questionnaire as answered, with the findings the core derived from it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="screenings")
    indication = models.CharField(max_length=40)
    answers = models.JSONField()
    findings = models.JSONField(default=list)
    blocking = models.BooleanField(default=False)
    requires_doctor = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    doctor_signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    doctor_signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "-recorded_at"])]

    @property
    def doctor_signed(self) -> bool:
        return self.doctor_signed_at is not None


class Vial(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="vials")
    product = models.CharField(max_length=40)  # catalogue key
    lot = models.CharField(max_length=64)
    expiry = models.DateField()
    units = models.PositiveIntegerField()
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reconstituted_at = models.DateTimeField(null=True, blank=True)
    diluent_ml = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    reconstituted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    discarded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["clinic", "product", "lot"])]

    @property
    def units_per_0_1ml(self) -> float | None:
        if not self.diluent_ml:
            return None
        return float(self.units) / (float(self.diluent_ml) * 10)

    def __str__(self) -> str:
        return f"{self.product} lot {self.lot}"


class TreatmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"


class Treatment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="treatments")
    # Denormalised from patient so the gate and the lists filter on one column.
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="treatments")
    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    treated_on = models.DateField()
    product = models.CharField(max_length=40)
    indication = models.CharField(max_length=40)
    protocol = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=10, choices=TreatmentStatus.choices, default=TreatmentStatus.DRAFT)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The doctor's sign-off for a therapeutic indication is carried by the screening.
    screening = models.ForeignKey(Screening, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [
            # The treatment list's order, whole and per filter, so a page is read straight
            # off an index instead of sorting the clinic's treatments (docs/performance.md).
            models.Index(fields=["clinic", "-treated_on", "-created_at", "-id"], name="treatment_list_idx"),
            models.Index(
                fields=["clinic", "status", "-treated_on", "-created_at", "-id"], name="treatment_list_status_idx"
            ),
            models.Index(
                fields=["clinic", "indication", "-treated_on", "-created_at", "-id"], name="treatment_list_ind_idx"
            ),
            models.Index(
                fields=["clinic", "status", "indication", "-treated_on", "-created_at", "-id"],
                name="treatment_list_st_ind_idx",
            ),
            # One patient's treatments as the gate asks for them (clinic and patient). Without
            # it SQLite, lacking statistics, walks a list index through the whole clinic.
            models.Index(fields=["clinic", "patient", "treated_on", "created_at"], name="treatment_patient_idx"),
            models.Index(fields=["patient", "-treated_on"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft") | Q(signed_at__isnull=False), name="signed_has_time"
            )
        ]

    @property
    def is_signed(self) -> bool:
        return self.status == TreatmentStatus.SIGNED


class InjectionPoint(models.Model):
    treatment = models.ForeignKey(Treatment, on_delete=models.CASCADE, related_name="points")
    site = models.CharField(max_length=60, blank=True)  # catalogue site key; blank for a free point
    area = models.CharField(max_length=40)
    units = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    vial = models.ForeignKey(Vial, null=True, blank=True, on_delete=models.PROTECT, related_name="points")
    view = models.CharField(max_length=8, default="front")
    x = models.FloatField()
    y = models.FloatField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(units__isnull=True) | Q(units__gt=0), name="units_positive")
        ]


class TreatmentAmendment(models.Model):
    """A signed treatment is never edited; corrections are appended here with a reason."""

    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="amendments")
    reason = models.TextField()
    changes = models.JSONField()
    amended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amended_at = models.DateTimeField()


class ObservationKind(models.TextChoices):
    WRINKLE_INDEX = "wrinkle_index", "Wrinkle index (photo)"
    FWS_GRADE = "fws_grade", "Facial wrinkle scale (0-3)"
    WEARING_OFF_REPORTED = "wearing_off_reported", "Patient reports wearing off"
    HEADACHE_DAYS = "headache_days", "Headache days (last 30)"
    SYMPTOM_SCORE = "symptom_score", "Dystonia symptom score"


class Observation(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    area = models.CharField(max_length=40)
    observed_on = models.DateField()
    kind = models.CharField(max_length=30, choices=ObservationKind.choices)
    value = models.FloatField()
    source = models.CharField(max_length=20)  # photo | clinician | patient
    # The photo a `wrinkle_index` was measured on (source "photo"): its measurements go
    # when the photo is removed, loses clinical consent or is analysed again.
    photo = models.ForeignKey(
        "Photo", null=True, blank=True, on_delete=models.PROTECT, related_name="observations"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "area", "observed_on"])]


class AuditEvent(models.Model):
    """Append-only, hash-chained record of every read and write of patient data.

    hash = SHA-256(prev_hash + canonical JSON of the row). An edited row breaks its own
    hash; a deleted row breaks the link of the next one (and the head, for the last).
    """

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)  # survives user deletion
    clinic_id_ref = models.BigIntegerField(null=True, blank=True)
    patient_id_ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10, default="ok")  # ok | denied
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=32, blank=True)
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        # The manager's audit page, newest first, with its filters (touchup.web.audit_search;
        # docs/performance.md, "Audit trail"). Person and patient use actor's and
        # patient_id_ref's own indexes; dates become an id range found through `at`.
        indexes = [
            models.Index(fields=["outcome", "clinic_id_ref", "id"], name="audit_outcome_idx"),
            models.Index(fields=["action", "clinic_id_ref", "id"], name="audit_action_idx"),
            models.Index(fields=["at"], name="audit_at_idx"),
        ]


class AuditChainHead(models.Model):
    """One row: the latest hash. Locking it serialises appends on PostgreSQL (SQLite's
    IMMEDIATE transactions serialise writers anyway) and lets verify spot a deleted tail."""

    last_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)


class ApiToken(models.Model):
    """A bearer token for the JSON API, tied to one person. Only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class PhotoView(models.TextChoices):
    """The standard views. Wear-off shows first in movement, so each dynamic view
    is the one that measures its area."""

    AT_REST = "at_rest", "At rest (front)"
    FROWN = "frown", "Frown"
    BROWS_RAISED = "brows_raised", "Brows raised"
    SMILE_SQUINT = "smile_squint", "Smile and squint"
    NECK_TENSED = "neck_tensed", "Neck tensed"


class AnalysisStatus(models.TextChoices):
    PENDING = "pending", "Analysing"
    DONE = "done", "Analysed"
    FAILED = "failed", "Analysis failed"


class PhotoQuerySet(models.QuerySet):
    def kept(self) -> "PhotoQuerySet":
        """Not removed (a removed photo is a tombstone: no file, never served)."""
        return self.filter(removed_at__isnull=True)

    def removed(self) -> "PhotoQuerySet":
        return self.filter(removed_at__isnull=False)

    def measurable(self) -> "PhotoQuerySet":
        """Kept and with clinical consent: may be measured, compared and be a baseline."""
        return self.filter(removed_at__isnull=True, consent_clinical=True)


class Photo(models.Model):
    """A follow-up photo. The stored file is a clean re-encoded JPEG (orientation applied,
    EXIF and GPS gone) under a random name; it is read only through the gated view.

    Removing a photo deletes the file and keeps this row as a tombstone (removed_at,
    removed_by, removal_reason; `file` emptied, analysis cleared). Withdrawn clinical
    consent keeps the photo in the record but takes it out of every measurement."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="photos")
    # The treatment cycle the photo follows. A discarded draft leaves its photos in place.
    treatment = models.ForeignKey(
        Treatment, null=True, blank=True, on_delete=models.SET_NULL, related_name="photos"
    )
    view = models.CharField(max_length=20, choices=PhotoView.choices)
    taken_on = models.DateField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(max_length=200)
    sha256 = models.CharField(max_length=64)  # of the bytes as uploaded: finds duplicates
    file_sha256 = models.CharField(max_length=64)  # of the stored copy: checked when served
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    consent_clinical = models.BooleanField(default=False)
    consent_marketing = models.BooleanField(default=False)
    is_baseline = models.BooleanField(default=False)
    analysis = models.JSONField(null=True, blank=True)
    analysis_status = models.CharField(
        max_length=10, choices=AnalysisStatus.choices, default=AnalysisStatus.PENDING
    )
    # An analysis owed (docs/photos.md "An analysis is never lost"): the photo row is its
    # own outbox. Set with every request in the requesting transaction, cleared when a
    # result (or a failure) is stored or when there is nothing left to analyse. While it is
    # set, the worker's sweep queues the task again each time `analysis_retry_at` passes.
    analysis_requested_at = models.DateTimeField(null=True, blank=True)  # the back-off counts from it
    analysis_retry_at = models.DateTimeField(null=True, blank=True)  # NULL: nothing owed
    # Runs of the task started for this request and not finished (a worker killed
    # mid-analysis): after photos.ANALYSIS_MAX_STARTS the sweep records the analysis failed.
    analysis_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removal_reason = models.CharField(max_length=20, blank=True)  # touchup.core.photo_rules.REMOVAL_REASONS
    removal_note = models.TextField(blank=True)

    objects = PhotoQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["patient", "view", "taken_on"]),
            # The sweep's scan: only the analyses owed, however many photos the clinic has.
            models.Index(fields=["analysis_retry_at"], condition=Q(analysis_retry_at__isnull=False),
                         name="photo_analysis_owed"),
        ]
        constraints = [
            # The same file once per patient; a removed photo (say, filed under the wrong
            # view) does not stop it being kept again.
            models.UniqueConstraint(
                fields=["patient", "sha256"], condition=Q(removed_at__isnull=True), name="photo_once_per_patient"
            ),
            # One baseline per patient and view: the reference every later photo is aligned to.
            models.UniqueConstraint(
                fields=["patient", "view"], condition=Q(is_baseline=True), name="one_baseline_per_view"
            ),
            # ...and it is a photo that may be measured.
            models.CheckConstraint(
                condition=Q(is_baseline=False) | Q(removed_at__isnull=True, consent_clinical=True),
                name="baseline_is_kept_with_clinical_consent",
            ),
            models.CheckConstraint(
                condition=Q(removed_at__isnull=True) | (Q(removed_by__isnull=False) & ~Q(removal_reason="")),
                name="removal_says_who_and_why",
            ),
        ]

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None

    @property
    def problems(self) -> list[str]:
        return list(((self.analysis or {}).get("quality") or {}).get("problems") or [])


class PhotoConsentChange(models.Model):
    """One change of one consent on one photo: kept for good, in order. The consent given
    when the photo was kept is on the Photo (uploaded_by, created_at)."""

    photo = models.ForeignKey(Photo, on_delete=models.PROTECT, related_name="consent_changes")
    consent = models.CharField(max_length=10)  # touchup.core.photo_rules.CONSENTS: clinical | marketing
    given_before = models.BooleanField()
    given_after = models.BooleanField()
    # portal (the patient themself) | in_person | phone | in_writing (staff, on the
    # patient's instruction): touchup.core.photo_rules.CHANNELS
    channel = models.CharField(max_length=12)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(given_before=True, given_after=False) | Q(given_before=False, given_after=True),
                name="consent_change_changes",
            ),
        ]


class PasswordLink(models.Model):
    """A single-use link that lets a new staff member set their first password (their
    account is made without one: no default passwords). Only the SHA-256 of the token is
    stored, as for the portal's invitations, so a copy of the database hands out no
    working links."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="+")
    token_sha256 = models.CharField(max_length=64, unique=True)
    # The manager who added the person; empty when `touchup clinic create` made it.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # A newer link for the same person retires the older ones.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"])]
