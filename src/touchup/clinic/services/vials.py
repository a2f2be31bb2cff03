from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import DecimalField, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from touchup.core.catalogue import load_catalogue
from touchup.core.findings import Finding
from touchup.core.stock import expiry_finding, receipt_refusal

from .. import audit
from ..errors import Conflict, InvalidInput
from ..models import Clinic, Patient, Treatment, TreatmentStatus, Vial


@transaction.atomic
def vial_receive(
    *, actor: Any, clinic: Clinic, product: str, lot: str, expiry: dt.date, units: int
) -> Vial:
    catalogue = load_catalogue()
    if product not in catalogue.products:
        raise InvalidInput("product", f"unknown product {product!r}")
    lot = (lot or "").strip()
    if not lot or len(lot) > 64:
        raise InvalidInput("lot", "is required (at most 64 characters)")
    if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
        raise InvalidInput("units", "must be a positive whole number")
    sizes = catalogue.products[product].vial_sizes_units
    if sizes and units not in sizes:
        allowed = ", ".join(str(s) for s in sizes)
        raise InvalidInput("units", f"{product} comes in vials of {allowed} units")
    if not isinstance(expiry, dt.date) or isinstance(expiry, dt.datetime):
        raise InvalidInput("expiry", "must be a date (YYYY-MM-DD)")
    # The clinic's today, not UTC's: the expiry day itself is still usable in the clinic.
    refusal = receipt_refusal(lot=lot, expiry=expiry, today=timezone.localdate())
    if refusal:
        raise InvalidInput("expiry", refusal)
    vial = Vial.objects.create(
        clinic=clinic, product=product, lot=lot, expiry=expiry, units=units,
        received_at=timezone.now(), received_by=actor,
    )
    audit.record("vial.receive", actor=actor, clinic=clinic, obj=vial, detail={"product": product, "lot": lot})
    return vial


def with_units_charted(vials: QuerySet[Vial]) -> QuerySet[Vial]:
    """Each vial with `units_signed` and `units_in_drafts` (Decimal, 0 when none): the
    units charted from it, summed in the same query as the list (one GROUP BY, not one
    query per row).

    Only signed charts take units out of the vial: a draft may still change its vial or
    be discarded, so its units are shown beside the remainder ("held by drafts"), not
    subtracted from it."""
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=12, decimal_places=2))
    return vials.annotate(
        units_signed=Coalesce(Sum("points__units", filter=Q(points__treatment__status=TreatmentStatus.SIGNED)), zero),
        units_in_drafts=Coalesce(Sum("points__units", filter=Q(points__treatment__status=TreatmentStatus.DRAFT)), zero),
    )


def vial_expiry_finding(vial: Vial, *, today: dt.date | None = None) -> Finding | None:
    """What to say about this vial's expiry (expired, or expiring within the catalogue's
    warning window), for the page or the API answer that shows it; None when it is fine."""
    return expiry_finding(lot=vial.lot, expiry=vial.expiry, today=today or timezone.localdate())


@transaction.atomic
def vial_reconstitute(*, actor: Any, vial: Vial, diluent_ml: Any, at: dt.datetime | None = None) -> Vial:
    # FOR NO KEY UPDATE: a chart saved meanwhile with points from this vial
    # (InjectionPoint.vial) has its key checked at its commit (FOR KEY SHARE) while it holds
    # the audit head, which this transaction asks for last; FOR UPDATE made the two wait for
    # each other on PostgreSQL.
    vial = Vial.objects.select_for_update(no_key=True).get(pk=vial.pk)
    if vial.reconstituted_at is not None:
        raise Conflict("This vial was already reconstituted.")
    try:
        ml = Decimal(str(diluent_ml))
    except (InvalidOperation, ValueError):
        raise InvalidInput("diluent_ml", "must be a number of millilitres") from None
    if not ml.is_finite() or ml <= 0 or ml > 20:
        raise InvalidInput("diluent_ml", "must be between 0 and 20 mL")
    at = at or timezone.now()
    if at > timezone.now():
        raise InvalidInput("reconstituted_at", "is in the future")
    vial.reconstituted_at = at
    vial.diluent_ml = ml
    vial.reconstituted_by = actor
    vial.save(update_fields=["reconstituted_at", "diluent_ml", "reconstituted_by"])
    audit.record("vial.reconstitute", actor=actor, clinic=vial.clinic_id, obj=vial, detail={"diluent_ml": str(ml)})
    return vial


def vial_recall_list(*, actor: Any, clinic: Clinic, product: str, lot: str) -> list[Patient]:
    """Patients charted from any vial of this lot: a read of patient data, so audited.

    Draft (unsigned) charts count too: a draft may be a dose given and not yet signed,
    and a recall that missed that patient would be the worse error. Each patient carries
    `lot_signed` and `lot_in_draft` (bool) so the page and the API can say which; a
    patient with `lot_signed` False appears only because of a draft."""
    from_lot = Treatment.objects.filter(
        patient=OuterRef("pk"), points__vial__lot=lot, points__vial__product=product, points__vial__clinic=clinic,
    )
    patients = list(
        Patient.objects.filter(
            clinic=clinic, treatments__points__vial__lot=lot, treatments__points__vial__product=product
        ).distinct().annotate(
            lot_signed=Exists(from_lot.filter(status=TreatmentStatus.SIGNED)),
            lot_in_draft=Exists(from_lot.filter(status=TreatmentStatus.DRAFT)),
        ).order_by("family_name", "given_name")
    )
    with transaction.atomic():
        audit.record(
            "vial.recall_list", actor=actor, clinic=clinic,
            detail={"product": product, "lot": lot, "patients": [p.pk for p in patients],
                    "draft_only": [p.pk for p in patients if not p.lot_signed]},
        )
    return patients
