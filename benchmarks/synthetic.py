"""A synthetic clinic of any size, written fast with bulk_create, for the page benchmarks.

    generate(patients=100_000, slug="synthetic-100000")

One clinic (the worst case for the clinic-wide lists: every row is the user's), one
clinician who is also a doctor, a front desk and a manager; vial stock of every product
over the years plus in-date reconstituted vials to chart with today; and per patient:
a screening for their indication (doctor-signed when therapeutic), a history of signed
treatments at realistic intervals charted from the catalogue's protocols (each point
on its vial), and follow-up observations. No audit events: the demo clinic's trail is
written by the services; here only the pages' own reads and writes add to it.

Patients are not charted through the services (that would take hours for 100,000);
the rows are what the services would write. It is test data, never for a real clinic.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from touchup.clinic.models import (
    Clinic,
    InjectionPoint,
    Membership,
    Observation,
    ObservationKind,
    Patient,
    Screening,
    Treatment,
    TreatmentStatus,
    Vial,
)
from touchup.core.catalogue import load_catalogue
from touchup.core.screening import QUESTIONS, evaluate_screening

PASSWORD = "synthetic benchmark only"
# The clinic's mix of indications (ASSUMPTION: mostly cosmetic, a tenth therapeutic).
INDICATION_MIX = [
    (0.38, "glabellar_lines"), (0.14, "forehead_lines"), (0.12, "lateral_canthal_lines"),
    (0.16, "upper_face_lines"), (0.08, "platysma_bands"), (0.08, "chronic_migraine"),
    (0.04, "cervical_dystonia"),
]
GIVEN = ["Ada", "Ben", "Cleo", "Dara", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lea", "Max", "Nia",
         "Oli", "Pia", "Quin", "Rae", "Sol", "Tess", "Uma", "Vik", "Wren", "Xan", "Yara", "Zed"]
FAMILY = ["Adler", "Brook", "Castillo", "Dimitrov", "Eze", "Fischer", "Garcia", "Haddad", "Ito", "Jensen",
          "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka",
          "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang"]


def usernames(slug: str) -> dict[str, str]:
    return {"clinician": f"{slug}-clinician", "front_desk": f"{slug}-desk", "manager": f"{slug}-manager"}


def existing(slug: str) -> Clinic | None:
    """The clinic if a previous run generated it completely (the last step marks it)."""
    return Clinic.objects.filter(slug=slug, name__endswith="(complete)").first()


def generate(
    *, patients: int, slug: str, seed: int = 1, batch: int = 2000, years: int = 5,
    progress: Callable[[str], None] = print,
) -> Clinic:
    """Write the synthetic clinic; returns it. Removes nothing: use a throwaway database."""
    if Clinic.objects.filter(slug=slug).exists():
        raise RuntimeError(f"clinic {slug!r} exists but is incomplete: use a fresh database")
    rng = random.Random(seed)
    cat = load_catalogue()
    today = timezone.localdate()
    now = timezone.now()
    started = time.perf_counter()

    clinic = Clinic.objects.create(name=f"Synthetic clinic {patients}", slug=slug)
    User = get_user_model()
    staff = {}
    for role, username in usernames(slug).items():
        user = User.objects.create_user(username=username, password=PASSWORD)
        Membership.objects.create(user=user, clinic=clinic, role=role, is_doctor=(role == "clinician"))
        staff[role] = user
    clinician = staff["clinician"]

    vials = _vials(clinic, clinician, cat, today=today, now=now, years=years)
    # Screening answers and findings are the same for every "all no" screening of an
    # indication: evaluate once per indication.
    screening_rows = {}
    for _, ind in INDICATION_MIX:
        answers = {q.key: {"answer": False, "details": ""} for q in QUESTIONS
                   if q.indications is None or ind in q.indications}
        result = evaluate_screening(answers, ind)
        screening_rows[ind] = (answers, [asdict(f) for f in result.findings], result.requires_doctor)
    protocols = {ind: list(cat.protocols_for(ind)) for _, ind in INDICATION_MIX}
    weights = [w for w, _ in INDICATION_MIX]
    kinds = [k for _, k in INDICATION_MIX]

    done = 0
    while done < patients:
        n = min(batch, patients - done)
        with transaction.atomic():
            _batch(
                rng, clinic, clinician, n, done, today=today, now=now, years=years, vials=vials,
                screening_rows=screening_rows, protocols=protocols, weights=weights, kinds=kinds,
            )
        done += n
        if done % (batch * 10) == 0 or done == patients:
            progress(f"  {done:>7} patients written ({time.perf_counter() - started:.0f} s)")

    add_forecasts(clinic, clinician, progress=progress)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            # What autovacuum would have done by now on a live server: planner statistics
            # and the visibility map (index-only scans).
            cur.execute("VACUUM ANALYZE")
    clinic.name = f"Synthetic clinic {patients} (complete)"
    clinic.save(update_fields=["name"])
    progress(f"  generated in {time.perf_counter() - started:.0f} s")
    return clinic


def _vials(clinic, clinician, cat, *, today, now, years) -> dict[str, list[tuple[dt.date, Vial]]]:
    """A vial of each product received every month for `years` (sorted by receipt),
    and two in-date vials per product reconstituted an hour ago for today's charting."""
    rows = []
    for product in cat.products:
        size = cat.products[product].vial_sizes_units[0]
        for month in range(years * 12, -1, -1):
            received = today - dt.timedelta(days=30 * month + 1)
            at = timezone.make_aware(dt.datetime.combine(received, dt.time(9)))
            rows.append(Vial(
                clinic=clinic, product=product, lot=f"S{product[:3].upper()}{month:03d}",
                expiry=received + dt.timedelta(days=540), units=size, received_at=at, received_by=clinician,
                reconstituted_at=at + dt.timedelta(hours=1), diluent_ml=Decimal("2.50"),
                reconstituted_by=clinician,
                # Used up by the end of its day; today's vials stay open.
                discarded_at=None if month == 0 else at + dt.timedelta(hours=10),
            ))
        for k in range(2):
            rows.append(Vial(
                clinic=clinic, product=product, lot=f"T{product[:3].upper()}{k}",
                expiry=today + dt.timedelta(days=300), units=size, received_at=now - dt.timedelta(days=3),
                received_by=clinician, reconstituted_at=now - dt.timedelta(hours=1),
                diluent_ml=Decimal("2.50"), reconstituted_by=clinician,
            ))
    created = Vial.objects.bulk_create(rows, batch_size=500)
    out: dict[str, list[tuple[dt.date, Vial]]] = {}
    for v in created:
        out.setdefault(v.product, []).append((v.received_at.date(), v))
    for rows_of_product in out.values():
        rows_of_product.sort(key=lambda r: r[0])
    return out


def _vial_on(vials: list[tuple[dt.date, Vial]], day: dt.date) -> Vial:
    """The vial of that product most recently received on or before `day`."""
    lo, hi = 0, len(vials) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if vials[mid][0] <= day:
            lo = mid
        else:
            hi = mid - 1
    return vials[lo][1]


def _batch(rng, clinic, clinician, n, offset, *, today, now, years, vials, screening_rows,
           protocols, weights, kinds) -> None:
    plans: list[dict[str, Any]] = []
    patients = []
    for i in range(n):
        ind = rng.choices(kinds, weights)[0]
        therapeutic = ind in ("chronic_migraine", "cervical_dystonia")
        interval = rng.randint(84, 130) if therapeutic else rng.randint(100, 200)
        # Several cycles each: 1 to 12, most patients between 2 and 6.
        cycles = max(1, min(12, int(rng.gauss(4, 2))))
        first = today - dt.timedelta(days=min(years * 365, interval * cycles + rng.randint(0, 60)))
        plans.append({"ind": ind, "interval": interval, "cycles": cycles, "first": first})
        patients.append(Patient(
            clinic=clinic, given_name=rng.choice(GIVEN), family_name=f"{rng.choice(FAMILY)}-{offset + i}",
            birth_date=dt.date(1950, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 55)),
            sex=rng.choice(("female", "female", "female", "male", "other")),
            email=f"p{offset + i}@example.invalid",
        ))
    Patient.objects.bulk_create(patients)

    screenings = []
    for p, plan in zip(patients, plans):
        answers, findings, requires_doctor = screening_rows[plan["ind"]]
        at = timezone.make_aware(dt.datetime.combine(plan["first"] - dt.timedelta(days=7), dt.time(10)))
        screenings.append(Screening(
            patient=p, indication=plan["ind"], answers=answers, findings=findings, blocking=False,
            requires_doctor=requires_doctor, recorded_by=clinician, recorded_at=at,
            doctor_signed_by=clinician if requires_doctor else None,
            doctor_signed_at=at + dt.timedelta(hours=1) if requires_doctor else None,
        ))
    Screening.objects.bulk_create(screenings)

    treatments, shapes = [], []
    for p, plan, s in zip(patients, plans, screenings):
        protocol = rng.choice(protocols[plan["ind"]])
        day = plan["first"]
        for _ in range(plan["cycles"]):
            if day > today:
                break
            signed = timezone.make_aware(dt.datetime.combine(day, dt.time(11, rng.randint(0, 59))))
            treatments.append(Treatment(
                patient=p, clinic=clinic, clinician=clinician, treated_on=day, product=protocol.product,
                indication=plan["ind"], protocol=protocol.key, status=TreatmentStatus.SIGNED,
                signed_at=signed, signed_by=clinician, screening=s,
            ))
            shapes.append((protocol, day, p))
            day += dt.timedelta(days=plan["interval"] + rng.randint(-7, 21))
    Treatment.objects.bulk_create(treatments)

    points, observations = [], []
    for t, (protocol, day, p) in zip(treatments, shapes):
        vial = _vial_on(vials[protocol.product], day)
        for site in protocol.sites:
            if site.optional and rng.random() < 0.7:
                continue
            units = site.units if site.units is not None else rng.choice((15, 20, 25, 30, 40, 50))
            points.append(InjectionPoint(
                treatment=t, site=site.key, area=site.area, units=Decimal(str(units)), vial=vial,
                view=site.view, x=site.x, y=site.y,
            ))
        area = protocol.sites[0].area
        if protocol.indication == "chronic_migraine":
            kind, values = ObservationKind.HEADACHE_DAYS, (rng.randint(12, 20), rng.randint(4, 14))
        elif protocol.indication == "cervical_dystonia":
            kind, values = ObservationKind.SYMPTOM_SCORE, (rng.randint(30, 50), rng.randint(15, 35))
        else:
            kind, values = ObservationKind.FWS_GRADE, (rng.randint(2, 3), rng.randint(0, 1))
        for offset_days, value in zip((0, 28), values):
            if day + dt.timedelta(days=offset_days) <= today:
                observations.append(Observation(
                    patient=p, area=area, observed_on=day + dt.timedelta(days=offset_days), kind=kind,
                    value=float(value), source="clinician",
                ))
    InjectionPoint.objects.bulk_create(points, batch_size=2000)
    Observation.objects.bulk_create(observations, batch_size=2000)


def add_forecasts(clinic: Clinic, clinician: Any, *, progress: Callable[[str], None] = print) -> int:
    """The maintenance app's wear-off forecasts, one row per patient and area of their
    latest treatment, as the patient page and the worklist read them; added once (also to
    a data set generated before the forecasts existed). The dates are fixed offsets (about
    3.5 months after treatment), not the model's output: the pages only read them."""
    try:
        from touchup.maintenance.models import AreaForecast
    except ImportError:
        return 0
    if AreaForecast.objects.filter(clinic=clinic).exists():
        return 0
    cat = load_catalogue()
    now = timezone.now()
    latest: dict[int, tuple[int, dt.date, str, str]] = {}
    rows = (Treatment.objects.filter(clinic=clinic, status=TreatmentStatus.SIGNED)
            .order_by("patient_id", "treated_on", "id")
            .values_list("patient_id", "id", "treated_on", "product", "indication"))
    for patient_id, tid, treated_on, product, indication in rows.iterator(chunk_size=20_000):
        latest[patient_id] = (tid, treated_on, product, indication)
    batch: list[Any] = []
    written = 0
    for patient_id, (tid, treated_on, product, indication) in latest.items():
        therapeutic = cat.indications[indication].kind == "therapeutic"
        wear_off = treated_on + dt.timedelta(days=84 if therapeutic else 105)
        earliest = treated_on + dt.timedelta(days=cat.min_retreatment_days(product, indication))
        for area in cat.indications[indication].areas:
            batch.append(AreaForecast(
                patient_id=patient_id, clinic=clinic, clinician=clinician, treatment_id=tid, area=area,
                product=product, treated_on=treated_on, wear_off_date=wear_off,
                wear_off_low=wear_off - dt.timedelta(days=20), wear_off_high=wear_off + dt.timedelta(days=25),
                book_from=max(earliest, wear_off - dt.timedelta(days=14)),
                book_by=max(earliest, wear_off + dt.timedelta(days=7)),
                earliest_allowed=earliest, basis="synthetic benchmark data", computed_at=now,
            ))
        if len(batch) >= 5000:
            with transaction.atomic():
                AreaForecast.objects.bulk_create(batch)
            written += len(batch)
            batch = []
    with transaction.atomic():
        AreaForecast.objects.bulk_create(batch)
    written += len(batch)
    progress(f"  {written:,} area forecasts written")
    return written
