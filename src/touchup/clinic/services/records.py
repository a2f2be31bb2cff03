"""A patient's whole record for export: the patient's own copy (right of access) and a
handover (a referral, another clinic). The selector reads the rows into the plain
dataclasses of touchup.interop.fhir, which maps them; the service audits the export.

What goes in: the patient, their signed treatments (never a draft) with points, vials and
amendments, every reading, the photos still kept (as entries without their pixels), their
side-effect reports, screenings and HIT-6 scores. What stays out: drafts, removed photos,
the audit trail, sign-in data, and every row number (docs/interop.md).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from touchup.interop import fhir

from .. import audit
from ..models import (
    InjectionPoint, Observation, Patient, Photo, PhotoView, Screening, Treatment, TreatmentAmendment,
    TreatmentStatus, Vial,
)


def stable_ref(kind: str, pk: Any) -> str:
    """A stable id for a row without a public id (a vial, a staff member, a reading): the
    same row gets the same id in every export, and the id does not give its row number
    away (keyed by the installation's SECRET_KEY, so it cannot be worked back)."""
    key = hashlib.sha256(f"touchup.fhir:{settings.SECRET_KEY}".encode()).digest()
    digest = hmac.new(key, f"{kind}:{pk}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def patient_record(patient: Patient) -> fhir.PatientRecord:
    """Everything exported for `patient`, read in a fixed number of queries (about ten,
    whatever the number of cycles). The caller has passed the gate."""
    from touchup.portal.models import Hit6Score, SideEffectKind, SideEffectReport

    staff_ids: set[int] = set()

    def who(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if patient.user_id is not None and user_id == patient.user_id:
            return fhir.PATIENT
        staff_ids.add(user_id)
        return stable_ref("staff", user_id)

    treatments = list(Treatment.objects.filter(patient=patient, status=TreatmentStatus.SIGNED)
                      .order_by("treated_on", "signed_at", "pk"))
    by_pk = {t.pk: t for t in treatments}
    points: dict[int, list[fhir.PointInfo]] = defaultdict(list)
    vial_ids: set[int] = set()
    for tid, site, area, u, vial_id in (
        InjectionPoint.objects.filter(treatment__in=treatments).order_by("pk")
        .values_list("treatment_id", "site", "area", "units", "vial_id")
    ):
        if u is None:  # a signed chart has none (treatment_sign refuses it)
            continue
        if vial_id is not None:
            vial_ids.add(vial_id)
        points[tid].append(fhir.PointInfo(site=site, area=area, units=float(u),
                                          vial_ref=stable_ref("vial", vial_id) if vial_id is not None else None))
    amendments: dict[int, list[fhir.AmendmentInfo]] = defaultdict(list)
    for a in TreatmentAmendment.objects.filter(treatment__in=treatments).order_by("amended_at", "pk"):
        amendments[a.treatment_id].append(
            fhir.AmendmentInfo(reason=a.reason, changes=dict(a.changes), by=who(a.amended_by_id), at=a.amended_at))
    treatment_infos = tuple(
        fhir.TreatmentInfo(
            public_id=t.public_id, treated_on=t.treated_on, product=t.product, indication=t.indication,
            notes=t.notes, clinician=who(t.clinician_id), signed_by=who(t.signed_by_id), signed_at=t.signed_at,
            points=tuple(points[t.pk]), amendments=tuple(amendments[t.pk]),
        )
        for t in treatments
    )
    vials = tuple(
        fhir.VialInfo(ref=stable_ref("vial", v.pk), product=v.product, lot=v.lot, expiry=v.expiry, units=v.units,
                      diluent_ml=float(v.diluent_ml) if v.diluent_ml else None)
        for v in Vial.objects.filter(pk__in=vial_ids).order_by("received_at", "pk")
    )

    photo_ids: dict[int, uuid.UUID] = {}
    photo_infos = []
    views = dict(PhotoView.choices)
    for pk, public_id, view, taken_on, width, height, uploader, tid in (
        Photo.objects.kept().filter(patient=patient).order_by("taken_on", "created_at", "pk")
        .values_list("pk", "public_id", "view", "taken_on", "width", "height", "uploaded_by_id", "treatment_id")
    ):
        photo_ids[pk] = public_id
        photo_infos.append(fhir.PhotoInfo(
            public_id=public_id, view=view, view_label=views.get(view, view), taken_on=taken_on, width=width,
            height=height, taken_by=who(uploader), treatment=by_pk[tid].public_id if tid in by_pk else None,
        ))

    observations = [
        fhir.ObservationInfo(
            ref=stable_ref("observation", o.pk), kind=o.kind, area=o.area, observed_on=o.observed_on,
            value=o.value, source=o.source, recorded_at=o.recorded_at, photo=photo_ids.get(o.photo_id),
        )
        for o in Observation.objects.filter(patient=patient).order_by("observed_on", "recorded_at", "pk")
    ]
    observations += [
        fhir.ObservationInfo(
            ref=stable_ref("hit6", h.pk), kind="hit6_total", area="migraine", observed_on=h.observed_on,
            value=h.value, source="patient" if who(h.recorded_by_id) == fhir.PATIENT else "clinician",
            recorded_at=h.recorded_at,
        )
        for h in Hit6Score.objects.filter(patient=patient).order_by("observed_on", "recorded_at", "pk")
    ]
    observations.sort(key=lambda o: (o.observed_on, o.recorded_at))

    kinds = dict(SideEffectKind.choices)
    side_effects = tuple(
        fhir.SideEffectInfo(
            public_id=s.public_id, kind=s.kind, kind_label=kinds.get(s.kind, s.kind), details=s.details,
            started_on=s.started_on, urgent=s.urgent, reported_by=who(s.reported_by_id), reported_at=s.reported_at,
            treatment=by_pk[s.treatment_id].public_id if s.treatment_id in by_pk else None,
            reviewed_by=who(s.reviewed_by_id),
        )
        for s in SideEffectReport.objects.filter(patient=patient).order_by("reported_at", "pk")
    )
    screenings = tuple(
        fhir.ScreeningInfo(public_id=s.public_id, indication=s.indication, answers=dict(s.answers),
                           recorded_by=who(s.recorded_by_id), recorded_at=s.recorded_at)
        for s in Screening.objects.filter(patient=patient).order_by("recorded_at", "pk")
    )

    users = get_user_model().objects.filter(pk__in=staff_ids).order_by("pk").values_list(
        "pk", "first_name", "last_name")
    staff = tuple(fhir.Staff(ref=stable_ref("staff", pk), given_name=first.strip(), family_name=last.strip())
                  for pk, first, last in users)
    clinic = patient.clinic
    info = fhir.PatientInfo(
        public_id=patient.public_id, given_name=patient.given_name, family_name=patient.family_name,
        birth_date=patient.birth_date, sex=patient.sex, email=patient.email, phone=patient.phone,
        clinic_ref=stable_ref("clinic", clinic.pk), clinic_name=clinic.name,
    )
    return fhir.PatientRecord(
        patient=info, staff=staff, vials=vials, treatments=treatment_infos, observations=tuple(observations),
        photos=tuple(photo_infos), side_effects=side_effects, screenings=screenings,
    )


@dataclass(frozen=True)
class Export:
    data: bytes
    filename: str
    media_type: str
    counts: dict[str, int]


@transaction.atomic
def patient_export_fhir(*, actor: Any, patient: Patient, via: str) -> Export:
    """The record as FHIR JSON, audited as `patient.export` (format, where from, how many
    resources of each type: counts and ids only). The gate has been passed: staff through
    access.patient_for(need="patient.export"), a patient through the portal's patient_of."""
    now = timezone.now()
    b = fhir.bundle(patient_record(patient), export_id=uuid.uuid4(), now=now)
    counts = fhir.resource_counts(b)
    audit.record("patient.export", actor=actor, patient=patient, obj=patient,
                 detail={"format": fhir.FORMAT, "via": via, "export": b["id"], "counts": counts})
    return Export(data=fhir.to_json(b), filename=f"touchup-record-{patient.public_id}.json",
                  media_type=fhir.MEDIA_TYPE, counts=counts)
