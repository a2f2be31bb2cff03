"""Charting: start a draft, place injection points, check it, sign it, amend it."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from touchup.core.catalogue import load_catalogue
from touchup.core import findings as findings_core
from touchup.core.findings import Finding
from touchup.core.rules import (
    DraftInjection,
    DraftTreatment,
    InvalidDraft,
    PastTreatment,
    VialState,
    check_treatment,
)
from touchup.core.screening import InvalidScreening, evaluate_screening

from .. import audit
from ..errors import Conflict, InvalidInput, SigningRefused, WarningsNotAccepted
from ..models import InjectionPoint, Patient, Photo, Treatment, TreatmentAmendment, TreatmentStatus, Vial
from .screenings import latest_screening

# The chart's SVG views are 400 x 500 (see touchup/web/templates/web/chart.svg).
CHART_WIDTH, CHART_HEIGHT = 400.0, 500.0
# Above this a number is a typo, not a dose: no single site of any label takes it.
ABSURD_UNITS_PER_POINT = 500
# Answers change (new medicines, pregnancy): after a year the clinician is asked to re-screen.
SCREENING_FRESH_DAYS = 365


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise InvalidInput(field, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(field, "must be a number") from None
    if not math.isfinite(number):
        raise InvalidInput(field, "must be a finite number")
    return number


def _check_catalogue_keys(*, product: str, indication: str, protocol: str | None = None) -> None:
    cat = load_catalogue()
    if product not in cat.products:
        raise InvalidInput("product", f"unknown product {product!r}")
    if indication not in cat.indications:
        raise InvalidInput("indication", f"unknown indication {indication!r}")
    if protocol:
        proto = cat.protocols.get(protocol)
        if proto is None:
            raise InvalidInput("protocol", f"unknown protocol {protocol!r}")
        if proto.indication != indication:
            raise InvalidInput("protocol", f"{protocol!r} is not a protocol for {indication}")


def _check_date(treated_on: dt.date) -> None:
    if treated_on > timezone.localdate():
        raise InvalidInput("treated_on", "is in the future")


@transaction.atomic
def treatment_start(
    *,
    actor: Any,
    patient: Patient,
    indication: str,
    product: str,
    protocol: str | None = None,
    treated_on: dt.date | None = None,
    vial: Vial | None = None,
) -> Treatment:
    """A draft treatment; with a protocol, its named sites are pre-filled with label units."""
    _check_catalogue_keys(product=product, indication=indication, protocol=protocol)
    treated_on = treated_on or timezone.localdate()
    _check_date(treated_on)
    if vial is not None and vial.clinic_id != patient.clinic_id:
        raise InvalidInput("vial", "no such vial in this clinic")
    treatment = Treatment.objects.create(
        patient=patient, clinic_id=patient.clinic_id, clinician=actor, treated_on=treated_on,
        product=product, indication=indication, protocol=protocol or "",
    )
    if protocol:
        proto = load_catalogue().protocols[protocol]
        InjectionPoint.objects.bulk_create(
            InjectionPoint(
                treatment=treatment, site=s.key, area=s.area,
                units=None if s.units is None else Decimal(str(s.units)),
                vial=vial, view=s.view, x=s.x, y=s.y,
            )
            for s in proto.sites
            if not s.optional
        )
    audit.record(
        "treatment.start", actor=actor, patient=patient, obj=treatment,
        detail={"indication": indication, "product": product, "protocol": protocol or ""},
    )
    return treatment


def _require_draft(treatment: Treatment) -> Treatment:
    # FOR NO KEY UPDATE: a photo kept meanwhile for this treatment's day names the draft
    # (Photo.treatment) and PostgreSQL checks that key at its commit (FOR KEY SHARE) while it
    # holds the audit head, which the charting, signing or updating transaction asks for
    # last; FOR UPDATE made the two wait for each other. A discard deletes the row, which
    # locks it fully, only once it holds the head (treatment_discard).
    locked = Treatment.objects.select_for_update(no_key=True).get(pk=treatment.pk)
    if locked.is_signed:
        raise Conflict("This treatment is signed; amend it with a reason instead.")
    return locked


def _clean_points(treatment: Treatment, points: list[dict[str, Any]]) -> list[InjectionPoint]:
    cat = load_catalogue()
    allowed_areas = set(cat.indications[treatment.indication].areas)
    vial_ids = {p.get("vial_id") for p in points if p.get("vial_id") not in (None, "")}
    vials = {v.pk: v for v in Vial.objects.filter(pk__in=[int(i) for i in vial_ids if str(i).isdigit()], clinic_id=treatment.clinic_id)}
    cleaned = []
    for i, p in enumerate(points):
        where = f"points[{i}]"
        site_key = p.get("site") or ""
        area = p.get("area") or ""
        if site_key:
            site = cat.sites.get(site_key)
            if site is None:
                raise InvalidInput(f"{where}.site", f"unknown site {site_key!r}")
            area = area or site.area
        if area not in cat.areas:
            raise InvalidInput(f"{where}.area", f"unknown area {area!r}")
        if area not in allowed_areas:
            raise InvalidInput(f"{where}.area", f"{area} is not an area of {treatment.indication}")
        units = p.get("units")
        if units in (None, ""):
            units_dec = None
        else:
            u = _number(units, f"{where}.units")
            if u <= 0:
                raise InvalidInput(f"{where}.units", "must be more than 0")
            if u > ABSURD_UNITS_PER_POINT:
                raise InvalidInput(f"{where}.units", f"{u:g} units at one point is not a plausible dose")
            units_dec = Decimal(str(round(u, 2)))
        x = _number(p.get("x"), f"{where}.x")
        y = _number(p.get("y"), f"{where}.y")
        if not (0 <= x <= CHART_WIDTH and 0 <= y <= CHART_HEIGHT):
            raise InvalidInput(f"{where}", "is outside the chart")
        view = p.get("view") or "front"
        if view not in ("front", "back"):
            raise InvalidInput(f"{where}.view", "must be front or back")
        vial = None
        if p.get("vial_id") not in (None, ""):
            vial = vials.get(int(p["vial_id"])) if str(p["vial_id"]).isdigit() else None
            if vial is None:
                raise InvalidInput(f"{where}.vial_id", "no such vial in this clinic")
        cleaned.append(
            InjectionPoint(treatment=treatment, site=site_key, area=area, units=units_dec, vial=vial, view=view, x=x, y=y)
        )
    return cleaned


@transaction.atomic
def treatment_set_points(*, actor: Any, treatment: Treatment, points: list[dict[str, Any]]) -> Treatment:
    """Replace the chart's points with what the clinician sees (the page posts its state)."""
    treatment = _require_draft(treatment)
    cleaned = _clean_points(treatment, points)
    treatment.points.all().delete()
    InjectionPoint.objects.bulk_create(cleaned)
    audit.record("treatment.chart", actor=actor, patient=treatment.patient, obj=treatment, detail={"points": len(cleaned)})
    return treatment


@transaction.atomic
def treatment_update(
    *, actor: Any, treatment: Treatment, product: str | None = None, treated_on: dt.date | None = None,
    notes: str | None = None, vial: Vial | None = None,
) -> Treatment:
    """Change the draft's product, date or notes; `vial` applies one vial to every point."""
    treatment = _require_draft(treatment)
    changed = []
    if product is not None and product != treatment.product:
        _check_catalogue_keys(product=product, indication=treatment.indication)
        treatment.product = product
        changed.append("product")
    if treated_on is not None and treated_on != treatment.treated_on:
        _check_date(treated_on)
        treatment.treated_on = treated_on
        changed.append("treated_on")
    if notes is not None and notes != treatment.notes:
        treatment.notes = notes
        changed.append("notes")
    if changed:
        treatment.save(update_fields=changed)
    if vial is not None:
        if vial.clinic_id != treatment.clinic_id:
            raise InvalidInput("vial", "no such vial in this clinic")
        treatment.points.update(vial=vial)
        changed.append("vial")
    audit.record("treatment.update", actor=actor, patient=treatment.patient, obj=treatment, detail={"fields": changed})
    return treatment


def _history(treatment: Treatment) -> list[PastTreatment]:
    units: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows = (
        InjectionPoint.objects.filter(
            treatment__patient_id=treatment.patient_id, treatment__status=TreatmentStatus.SIGNED
        )
        .exclude(treatment_id=treatment.pk)
        .values_list("treatment_id", "area", "units")
    )
    for tid, area, u in rows:
        units[tid][area] += float(u or 0)
    past = Treatment.objects.filter(pk__in=list(units)).values_list("pk", "treated_on", "product", "indication")
    return [
        PastTreatment(date=d, product=prod, indication=ind, units_by_area=dict(units[pk]))
        for pk, d, prod, ind in sorted(past, key=lambda r: r[1])
    ]


def treatment_check(treatment: Treatment, *, now: dt.datetime | None = None) -> list[Finding]:
    """The safety findings for this chart as it stands (block / warn / info)."""
    now = now or timezone.now()
    points = list(treatment.points.select_related("vial"))
    injections = tuple(
        DraftInjection(site=p.site or None, area=p.area, units=float(p.units)) for p in points if p.units is not None
    )
    screening = latest_screening(treatment.patient)
    screening_result, screening_gap = None, None
    if screening is not None:
        try:
            screening_result = evaluate_screening(screening.answers, treatment.indication)
        except InvalidScreening:
            # Screened for another indication whose questions differ: ask again.
            screening_gap = Finding(
                severity="block", code="screening_incomplete",
                message="The screening on file does not cover this indication: screen the patient for it.",
                rule="screening_required", source="clinic_policy", site=None,
            )
    doctor_signoff = bool(screening and screening.doctor_signed)
    vials = {p.vial_id: p.vial for p in points if p.vial is not None}
    vial_states = [
        VialState(product=v.product, lot=v.lot, expiry=v.expiry, reconstituted_at=v.reconstituted_at, now=now)
        for v in vials.values()
    ] or [None]
    history = _history(treatment)
    findings: list[Finding] = []
    seen = set()
    for vial_state in vial_states:
        draft = DraftTreatment(
            date=treatment.treated_on, product=treatment.product, indication=treatment.indication,
            injections=injections, vial=vial_state, doctor_signoff=doctor_signoff,
            protocol=treatment.protocol or None,
        )
        try:
            result = check_treatment(draft, history=history, screening=screening_result, today=now.date())
        except InvalidDraft as exc:
            raise InvalidInput(getattr(exc, "field", "treatment"), str(exc)) from None
        for f in result:
            key = (f.code, f.message, f.site)
            if key not in seen:
                seen.add(key)
                findings.append(f)
    if screening_gap is not None:
        findings.insert(0, screening_gap)
    elif screening is not None and (now - screening.recorded_at).days > SCREENING_FRESH_DAYS:
        findings.append(Finding(
            severity="warn", code="screening_old",
            message=f"The screening is {(now - screening.recorded_at).days} days old: ask the questions again "
                    "(medicines, pregnancy, new conditions) and record a new screening if anything changed.",
            rule="screening_fresh", source="clinic_policy", site=None,
        ))
    if screening is None:
        findings.insert(0, Finding(
            severity="block", code="screening_missing",
            message="Screen the patient before treating: no screening is on file.",
            rule="screening_required", source="clinic_policy", site=None,
        ))
    return findings


def signing_problems(treatment: Treatment, findings: list[Finding]) -> list[str]:
    problems = [f.message for f in findings if f.severity == "block"]
    points = list(treatment.points.all())
    if not points:
        problems.append("Chart at least one injection point.")
    if any(p.units is None for p in points):
        problems.append("Every injection point needs its units.")
    if any(p.vial_id is None for p in points):
        problems.append("Every injection point needs the vial (lot) it came from.")
    return problems


def unaccepted_warnings(findings: list[Finding], accepted: Any) -> list[Finding]:
    """The warnings standing that the clinician did not accept (by key, see Finding.key)."""
    return findings_core.unaccepted_warnings(findings, [str(a) for a in (accepted or ())])


@transaction.atomic
def treatment_sign(*, actor: Any, treatment: Treatment, accepted_warnings: Any = ()) -> Treatment:
    """Sign the chart. Refused while a blocking finding stands or a point lacks units or lot,
    and while a warning stands whose key (Finding.key) is not in `accepted_warnings`: overriding a safety
    warning is an explicit, recorded act, never a side effect of one click on Sign."""
    treatment = _require_draft(treatment)
    findings = treatment_check(treatment)
    problems = signing_problems(treatment, findings)
    if problems:
        raise SigningRefused(problems)
    accepted = [str(a) for a in (accepted_warnings or ())]
    missing = unaccepted_warnings(findings, accepted)
    if missing:
        count = sum(1 for f in findings if f.severity == "warn")
        codes = list(dict.fromkeys(f.code for f in missing))
        if accepted and all(findings_core.is_bare_code(a) for a in accepted):
            # A client of the earlier contract (codes): a code cannot tell a bigger dose at a
            # warned site from the one read, so it is refused with the way to the keys.
            raise WarningsNotAccepted([
                "Warnings are accepted by their key from the safety checks, not by code: "
                f"accept {', '.join(f.key for f in missing)} after reviewing "
                + " ".join(f.message for f in missing)
            ], codes=codes, count=count, changed=True)
        if accepted:
            # The clinician accepted a set of warnings that is no longer the one standing:
            # a point or the dose changed (another tab, a colleague) after they read them.
            raise WarningsNotAccepted([
                "The safety checks changed since you reviewed them: "
                + " ".join(f.message for f in missing)
                + " Review the warnings again and accept them to sign."
            ], codes=codes, count=count, changed=True)
        raise WarningsNotAccepted([
            f"{count} safety warning{'s' if count != 1 else ''} must be reviewed and accepted before signing "
            f"({', '.join(codes)})."
        ], codes=codes, count=count, changed=False)
    treatment.status = TreatmentStatus.SIGNED
    treatment.signed_at = timezone.now()
    treatment.signed_by = actor
    treatment.screening = latest_screening(treatment.patient)
    treatment.save(update_fields=["status", "signed_at", "signed_by", "screening"])
    audit.record(
        "treatment.sign", actor=actor, patient=treatment.patient, obj=treatment,
        # `warnings` the codes (for reports), `accepted` the exact warnings the clinician accepted.
        detail={"warnings": [f.code for f in findings if f.severity == "warn"],
                "accepted": [f.key for f in findings if f.severity == "warn"]},
    )
    # A new cycle: the forecast (and with it the aftercare, check-in and maintenance
    # reminders) is recomputed in the background once this commits.
    from touchup.maintenance.services.forecasts import request_recompute

    request_recompute(treatment.patient)
    return treatment


@transaction.atomic
def treatment_amend(*, actor: Any, treatment: Treatment, reason: str, changes: dict[str, Any]) -> TreatmentAmendment:
    """Append a correction to a signed chart; the original stays as it was signed."""
    if not treatment.is_signed:
        raise Conflict("Only a signed treatment is amended; edit the draft instead.")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise InvalidInput("reason", "say why the signed chart is being amended")
    if not changes:
        raise InvalidInput("changes", "describe what is corrected")
    amendment = TreatmentAmendment.objects.create(
        treatment=treatment, reason=reason, changes=changes, amended_by=actor, amended_at=timezone.now()
    )
    audit.record("treatment.amend", actor=actor, patient=treatment.patient, obj=treatment, detail={"amendment": amendment.pk})
    return amendment


@transaction.atomic
def treatment_discard(*, actor: Any, treatment: Treatment) -> None:
    treatment = _require_draft(treatment)
    patient = treatment.patient
    treatment.points.all().delete()
    # Its photos stay, unlinked (Photo.treatment is SET_NULL), before the audit event: a photo
    # row is locked by the storing of its analysis, which then asks for the head, so
    # unlinking it while holding the head could deadlock (docs/reliability.md).
    Photo.objects.filter(treatment=treatment).update(treatment=None)
    audit.record("treatment.discard", actor=actor, patient=patient, obj=treatment)
    # The row itself after the event: deleting it conflicts with the foreign-key check of a
    # photo kept for it meanwhile, whose transaction holds the head at its commit.
    treatment.delete()


def findings_as_dicts(findings: list[Finding]) -> list[dict[str, Any]]:
    return [{**asdict(f), "key": f.key} for f in findings]
