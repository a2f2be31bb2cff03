"""The demo clinic: staff with each role and fictional patients with years of treatment
cycles across every indication, so that every page shows something real.

    seed_demo()      -> True when it created the clinic, False when it was there already
    prepare_day()    -> fresh reconstituted vials for today (run on every `touchup demo`)
    demo_logins()    -> [{role, username, password}] for the terminal

Seeding is idempotent: the clinic's slug marks it as done. The patients are invented
(names from a fixed list, a seeded random generator), the histories follow the catalogue's
protocols and intervals, and the observations follow a simple time course with noise, so
that the forecast has something to learn from. Passwords are random per installation and
kept in the data directory (mode 0600), never in the code.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import random
import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from touchup.core.catalogue import load_catalogue
from touchup.core.screening import questions_for

from . import audit
from .models import (
    Clinic,
    InjectionPoint,
    Membership,
    Observation,
    Patient,
    Screening,
    Treatment,
    TreatmentStatus,
    Vial,
)

SLUG = "demo"
STAFF = (
    # username, given, family, role, is_doctor, label printed in the terminal
    ("dr.rivera", "Ana", "Rivera", "clinician", True, "clinician (doctor)"),
    ("nurse.kim", "Jun", "Kim", "clinician", False, "clinician (nurse injector)"),
    ("desk.sam", "Sam", "Okafor", "front_desk", False, "front desk"),
    ("manager.lee", "Lee", "Moreau", "manager", False, "clinic manager"),
)

GIVEN = ["Amara", "Beatriz", "Chloe", "Dana", "Elif", "Farah", "Greta", "Hana", "Ines", "Jonas", "Kai", "Lena",
         "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sofia", "Tomas", "Uma", "Vera", "Wen", "Ximena",
         "Yara", "Zoe", "Aiko", "Bruno", "Carmen", "Dmitri", "Esther", "Felix", "Gloria", "Hugo", "Ivy", "Jasper",
         "Kira", "Luca", "Maya", "Noor"]
FAMILY = ["Abara", "Berg", "Costa", "Duarte", "Eriksen", "Fontaine", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski",
          "Laurent", "Mensah", "Novak", "Ortiz", "Petrov", "Quist", "Rossi", "Sato", "Tanaka", "Ueda", "Varga", "Weber",
          "Xu", "Yilmaz", "Zhang", "Alves", "Brandt", "Cruz", "Dubois", "Engel", "Ferreira", "Gomez", "Horvat",
          "Ivanova", "Jovanovic", "Keller", "Lindqvist", "Moreno", "Nakamura"]

MALE = {"Jonas", "Kai", "Mateo", "Omar", "Tomas", "Bruno", "Dmitri", "Felix", "Hugo", "Jasper", "Luca"}

# indication, protocol, how many patients, typical days between visits (the clinic's habit)
PLAN = (
    ("glabellar_lines", "glabellar_ona_20", 9),
    ("glabellar_lines", "glabellar_abo_50", 3),
    ("glabellar_lines", "glabellar_daxi_40", 2),
    ("forehead_lines", "forehead_ona_40", 4),
    ("lateral_canthal_lines", "crows_feet_ona_24", 4),
    ("upper_face_lines", "upper_face_ona_64", 5),
    ("platysma_bands", "platysma_ona_31", 3),
    ("chronic_migraine", "chronic_migraine_ona_155", 4),
    ("cervical_dystonia", "cervical_dystonia_ona", 3),
    ("cervical_dystonia", "cervical_dystonia_abo", 1),
)
# Median days to wear-off used to draw the demo histories (clinical-facts.md 3.8).
WEAR_OFF_DAYS = {"glabella": 130, "forehead": 140, "crows_feet": 130, "platysma": 115, "migraine": 80,
                 "cervical_dystonia": 90}
DAXI_FACTOR = 1.3
# Cervical dystonia is dosed per patient: units per muscle site for the demo charts.
CD_UNITS = {"onabotulinumtoxinA": {"scm": 25, "splenius": 40, "levator": 25, "trapezius": 30},  # 240 U (median 236, S12)
            "abobotulinumtoxinA": {"scm": 120, "splenius": 150, "levator": 90, "trapezius": 120}}
VIAL_FOR = {"onabotulinumtoxinA": 100, "abobotulinumtoxinA": 300, "daxibotulinumtoxinA": 100,
            "incobotulinumtoxinA": 100, "prabotulinumtoxinA": 100, "letibotulinumtoxinA": 100}
BIG_VIAL_FOR = {"onabotulinumtoxinA": 200, "abobotulinumtoxinA": 500}


def _logins_path() -> Path:
    return Path(settings.DATA_DIR) / "demo_logins.json"


PATIENT_LOGIN = "patient.demo"


def demo_logins() -> list[dict[str, str]]:
    path = _logins_path()
    if not path.exists():
        return []
    stored = json.loads(path.read_text())
    logins = [{"role": label, "username": u, "password": stored.get(u, "?")} for u, *_, label in STAFF]
    if PATIENT_LOGIN in stored:
        logins.append({"role": "patient (sign in at /portal/)", "username": PATIENT_LOGIN,
                       "password": stored[PATIENT_LOGIN]})
    return logins


def _passwords() -> dict[str, str]:
    """Random passwords, made once per data directory and kept readable only by its owner."""
    path = _logins_path()
    if path.exists():
        return json.loads(path.read_text())
    passwords = {u: f"{secrets.token_urlsafe(6)}-{secrets.token_urlsafe(6)}" for u, *_ in STAFF}
    passwords[PATIENT_LOGIN] = f"{secrets.token_urlsafe(6)}-{secrets.token_urlsafe(6)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(passwords, fh)
    return passwords


def _effect(day: float, wear_off: float) -> float:
    """Fraction of the peak effect on `day` after treatment: builds to a peak at ~3 weeks,
    then fades so that it is at one half on `wear_off` (the forecast's definition)."""
    if day <= 0:
        return 0.0
    onset = 1 - math.exp(-day / 5)
    peak = 21
    if day <= peak:
        return onset
    k = math.log(2) / max(wear_off - peak, 10)
    return onset * math.exp(-k * (day - peak))


class _Seeder:
    def __init__(self, clinic: Clinic, staff: dict[str, Any], today: dt.date, rng: random.Random):
        self.clinic, self.staff, self.today, self.rng = clinic, staff, today, rng
        self.cat = load_catalogue()
        self.vials: dict[tuple[str, dt.date, int], Vial] = {}

    def vial(self, product: str, day: dt.date, units: int) -> Vial:
        """One vial per product, size and treatment day, reconstituted that morning."""
        key = (product, day, units)
        if key not in self.vials:
            dilution = next((d for d in self.cat.products[product].standard_dilutions if d.vial_units == units), None)
            at = timezone.make_aware(dt.datetime.combine(day, dt.time(8, 30)))
            self.vials[key] = Vial.objects.create(
                clinic=self.clinic, product=product, lot=f"{product[:3].upper()}{day:%y%m%d}{units}",
                expiry=day + dt.timedelta(days=400), units=units, received_at=at - dt.timedelta(days=20),
                received_by=self.staff["manager.lee"], reconstituted_at=at,
                diluent_ml=Decimal(str(dilution.diluent_ml)) if dilution else Decimal("2.5"),
                reconstituted_by=self.staff["nurse.kim"],
                # Used up or thrown away at the end of that clinic day, as the label's use-by requires.
                discarded_at=at + dt.timedelta(hours=10),
            )
        return self.vials[key]

    def screening(self, patient: Patient, indication: str, on: dt.date) -> Screening:
        answers = {q.key: {"answer": False, "details": ""} for q in questions_for(indication)}
        if self.rng.random() < 0.25:
            answers["bleeding_risk"] = {"answer": True, "details": "low-dose aspirin"}
        from touchup.core.screening import evaluate_screening

        result = evaluate_screening(answers, indication)
        at = timezone.make_aware(dt.datetime.combine(on, dt.time(9, 0)))
        doctor = self.staff["dr.rivera"]
        return Screening.objects.create(
            patient=patient, indication=indication, answers=answers,
            findings=[{"severity": f.severity, "code": f.code, "message": f.message, "rule": f.rule,
                       "source": f.source, "site": f.site} for f in result.findings],
            blocking=result.blocking, requires_doctor=result.requires_doctor, recorded_by=self.staff["desk.sam"],
            recorded_at=at, doctor_signed_by=doctor if result.requires_doctor else None,
            doctor_signed_at=at + dt.timedelta(hours=1) if result.requires_doctor else None,
        )

    def points(self, protocol_key: str, product: str, rng: random.Random) -> list[tuple[Any, float]]:
        proto = self.cat.protocols[protocol_key]
        out = []
        for s in proto.sites:
            if s.optional and rng.random() < 0.6:
                continue
            units = s.units
            if units is None:  # cervical dystonia: dosed per patient
                muscle = s.key.split("_")[1]
                if muscle == "scalene":
                    continue
                units = CD_UNITS[product][muscle]
            out.append((s, float(units)))
        return out

    def patient(self, n: int, indication: str, protocol_key: str) -> None:
        rng = self.rng
        proto = self.cat.protocols[protocol_key]
        product = proto.product
        ind = self.cat.indications[indication]
        given = GIVEN[n % len(GIVEN)]
        sex = "male" if given in MALE else "female"
        birth = dt.date(rng.randint(1958, 1998), rng.randint(1, 12), rng.randint(1, 28))
        patient = Patient.objects.create(
            clinic=self.clinic, given_name=given, family_name=FAMILY[(n * 7) % len(FAMILY)],
            birth_date=birth, sex=sex, email=f"patient{n:02d}@example.org", phone=f"+44 7700 900{n:03d}",
        )
        person = math.exp(rng.gauss(0, 0.18))  # this patient's own pace of wear-off
        min_days = self.cat.min_retreatment_days(product, indication)
        # Two sessions inside the product's cumulative window must stay under its limit
        # (Botox 400 U in 3 months): a larger regular dose waits out the window.
        prod = self.cat.products[product]
        typical = sum(s.units or 0 for s in proto.sites if not s.optional)
        if indication == "cervical_dystonia":  # both sides of each muscle, dosed per patient
            typical += 2 * sum(CD_UNITS[product].values())
        if prod.cumulative_limit_units and 2 * typical > prod.cumulative_limit_units:
            min_days = max(min_days, prod.cumulative_window_days)
        # Where the patient is in the cycle today: some just treated, many mid-cycle,
        # some entering their window, a few overdue.
        years = rng.choice((1, 2, 2, 3, 4))
        day = self.today - dt.timedelta(days=int(365 * years + rng.randint(0, 60)))
        screened_on = day - dt.timedelta(days=rng.randint(1, 14))
        self.screening(patient, indication, screened_on)
        # Registered when they first got in touch, up to three weeks before the screening.
        # Its own generator, so the histories drawn from `rng` stay as they were.
        _registered(patient, screened_on - dt.timedelta(days=random.Random(n).randint(1, 21)), hour=9 + n % 8)
        clinician = self.staff["dr.rivera"] if ind.therapeutic or rng.random() < 0.5 else self.staff["nurse.kim"]
        cycles = []
        while day <= self.today - dt.timedelta(days=3):
            cycles.append(day)
            area_median = WEAR_OFF_DAYS[ind.areas[0]] * (DAXI_FACTOR if product == "daxibotulinumtoxinA" else 1)
            gap = max(min_days, int(area_median * person * math.exp(rng.gauss(0, 0.12)) + rng.randint(-5, 25)))
            day += dt.timedelta(days=gap)
        for i, treated_on in enumerate(cycles):
            # A cycle's readings stop the day before the next treatment (or today).
            end = cycles[i + 1] - dt.timedelta(days=1) if i + 1 < len(cycles) else self.today
            self.treatment(patient, indication, protocol_key, product, treated_on, clinician, person, end)

    def treatment(self, patient: Patient, indication: str, protocol_key: str, product: str, treated_on: dt.date,
                  clinician: Any, person: float, end: dt.date) -> None:
        rng = self.rng
        points = self.points(protocol_key, product, rng)
        total = sum(u for _, u in points)
        size = VIAL_FOR[product] if total <= VIAL_FOR[product] else BIG_VIAL_FOR.get(product, VIAL_FOR[product])
        vial = self.vial(product, treated_on, size)
        signed_at = timezone.make_aware(dt.datetime.combine(treated_on, dt.time(rng.randint(9, 17), rng.choice((0, 30)))))
        t = Treatment.objects.create(
            patient=patient, clinic=self.clinic, clinician=clinician, treated_on=treated_on, product=product,
            indication=indication, protocol=protocol_key, status=TreatmentStatus.SIGNED, signed_at=signed_at,
            signed_by=clinician, screening=patient.screenings.order_by("-recorded_at").first(),
        )
        InjectionPoint.objects.bulk_create(
            InjectionPoint(treatment=t, site=s.key, area=s.area, units=Decimal(str(u)), vial=vial, view=s.view,
                           x=s.x, y=s.y)
            for s, u in points
        )
        self.observations(patient, sorted({s.area for s, _ in points}), treated_on, person, product, end)

    def observations(self, patient: Patient, areas: list[str], treated_on: dt.date, person: float,
                     product: str, end: dt.date) -> None:
        """What the clinic and the patient recorded during the cycle that starts here and
        runs to `end` (the day before the next treatment, or today)."""
        rng = self.rng
        rows = []
        for area in areas:
            wear = WEAR_OFF_DAYS[area] * person * (DAXI_FACTOR if product == "daxibotulinumtoxinA" else 1)
            if area == "migraine":
                baseline = rng.randint(16, 24)
                for d in (0, 30, 60, 90):
                    day = treated_on + dt.timedelta(days=d)
                    if day <= end:
                        value = baseline * (1 - 0.55 * _effect(d, wear)) + rng.gauss(0, 1.2)
                        rows.append((day, area, "headache_days", float(max(0, min(30, round(value))))))
                continue
            if area == "cervical_dystonia":
                for d in range(0, 120, 14):
                    day = treated_on + dt.timedelta(days=d)
                    if day <= end:
                        # The patient's own 0-10 rating, the scale the portal's diary asks for.
                        value = 7 * (1 - 0.5 * _effect(d, wear)) + rng.gauss(0, 0.4)
                        rows.append((day, area, "symptom_score", float(max(0, min(10, round(value))))))
                continue
            # Cosmetic: the clinician's grade before the injections and at the 2-week
            # review, the patient's monthly check-in from 2 months on.
            rows.append((treated_on, area, "fws_grade", float(rng.choice((2, 2, 3)))))
            review = treated_on + dt.timedelta(days=14)
            if review <= end:
                rows.append((review, area, "fws_grade", float(rng.choice((0, 0, 1)))))
            for d in range(60, 200, 30):
                day = treated_on + dt.timedelta(days=d + rng.randint(-3, 3))
                if day > end:
                    break
                worn = _effect(d, wear) < 0.5
                if rng.random() < 0.08:  # people sometimes answer the other way
                    worn = not worn
                rows.append((day, area, "wearing_off_reported", 1.0 if worn else 0.0))
        Observation.objects.bulk_create(
            Observation(patient=patient, area=a, observed_on=d, kind=k, value=v,
                        source="patient" if k == "wearing_off_reported" or k in ("headache_days", "symptom_score")
                        else "clinician")
            for d, a, k, v in rows
        )


def _registered(patient: Patient, on: dt.date, *, hour: int) -> None:
    """Back-date the patient's registration (created_at is set on insert) to a day before
    their first screening, so the patient page does not say every demo patient joined the
    day the demo was made."""
    at = timezone.make_aware(dt.datetime.combine(on, dt.time(hour, 15)))
    Patient.objects.filter(pk=patient.pk).update(created_at=at)
    patient.created_at = at


def _staff(clinic: Clinic) -> dict[str, Any]:
    User = get_user_model()
    passwords = _passwords()
    staff = {}
    for username, given, family, role, is_doctor, _ in STAFF:
        user, created = User.objects.get_or_create(username=username, defaults={"first_name": given, "last_name": family})
        if created:
            user.set_password(passwords[username])
            user.save()
        Membership.objects.get_or_create(user=user, clinic=clinic, defaults={"role": role, "is_doctor": is_doctor})
        staff[username] = user
    return staff


@transaction.atomic
def seed_demo(*, today: dt.date | None = None, seed: int = 7) -> bool:
    """Create the demo clinic with its staff and patients, once."""
    if Clinic.objects.filter(slug=SLUG).exists():
        return False
    today = today or timezone.localdate()
    # Two-step sign-in stays optional here, so the README's walk-through needs no phone;
    # manager.lee turns it on from the Clinic page (docs/using-touchup.md).
    # The phone number is from Ofcom's range kept for drama (020 7946 0xxx): it rings nobody.
    clinic = Clinic.objects.create(name="Touchup Demo Clinic", slug=SLUG, time_zone=settings.TIME_ZONE,
                                   require_two_step=False, phone="020 7946 0000",
                                   email="reception@example.org")
    staff = _staff(clinic)
    seeder = _Seeder(clinic, staff, today, random.Random(seed))
    n = 0
    for indication, protocol, count in PLAN:
        for _ in range(count):
            seeder.patient(n, indication, protocol)
            n += 1
    # Two new patients: one screened and ready for a first frown-line treatment, one
    # for migraine waiting for the doctor's sign-off.
    for given, family, indication, signed in (("Olivia", "Grant", "glabellar_lines", False),
                                              ("Marcus", "Bell", "chronic_migraine", False)):
        p = Patient.objects.create(clinic=clinic, given_name=given, family_name=family,
                                   birth_date=dt.date(1988, 4, 12), sex="female" if given == "Olivia" else "male",
                                   email=f"{given.lower()}@example.org")
        _registered(p, today - dt.timedelta(days=5), hour=11)
        s = seeder.screening(p, indication, today - dt.timedelta(days=2))
        if s.requires_doctor and not signed:
            s.doctor_signed_by, s.doctor_signed_at = None, None
            s.save(update_fields=["doctor_signed_by", "doctor_signed_at"])
    audit.record("demo.seed", actor=staff["manager.lee"], clinic=clinic, detail={"patients": n + 2})
    _seed_schedule(clinic, staff)
    _seed_photos(clinic, staff, today)
    _seed_patient_login(clinic)
    _seed_forecasts(clinic)
    return True


def _seed_patient_login(clinic: Clinic) -> None:
    """A portal account for the patient with the photo series (a frown-line regular), as
    if she had accepted the clinic's invitation."""
    treatment = (Treatment.objects.filter(clinic=clinic, protocol="glabellar_ona_20")
                 .order_by("-treated_on").first())
    if treatment is None:
        return
    password = _passwords().get(PATIENT_LOGIN)
    if password is None:
        return
    patient = treatment.patient
    # The invitation's address, as accepting one gives the account: without it the
    # portal's "Forgotten your password?" found no account for her.
    user = get_user_model().objects.create_user(username=PATIENT_LOGIN, password=password, email=patient.email,
                                                first_name=patient.given_name)
    patient.user = user
    patient.save(update_fields=["user"])


# Frown-view photos of one patient's latest cycle: (days after the treatment, line depth).
# Depth is how much darker the painted lines are (touchup.vision.synthetic): deep before
# the injections, nearly gone at the 2-week review, coming back as the effect fades.
PHOTO_SERIES = ((0, 0.30), (14, 0.04), (45, 0.08), (75, 0.14), (100, 0.22))


def _seed_photos(clinic: Clinic, staff: dict[str, Any], today: dt.date) -> None:
    """A photo series for one frown-line patient, through the same upload service staff
    use (cleaned, audited, analysed by the worker). The face is Grace Hopper's portrait that
    ships with matplotlib (public domain), with lines painted at known depths: not the
    astronaut's, whose broad smile the expression check rightly refuses for a frown photo."""
    try:
        from pathlib import Path

        import cv2
        import matplotlib

        from touchup.vision.landmarks import default_detector
        from touchup.vision.synthetic import paint_lines

        from .services.photos import photo_upload
    except ImportError:
        return
    treatment = (Treatment.objects.filter(clinic=clinic, protocol="glabellar_ona_20")
                 .order_by("-treated_on").first())
    if treatment is None:
        return
    # The portrait is 512 x 600 px: upscale it to phone-photo size and restore some
    # crispness, so it passes the same quality checks a clinic photo must.
    bgr = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    if bgr is None:
        return
    face = cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None, fx=3, fy=3, interpolation=cv2.INTER_LANCZOS4)
    face = cv2.addWeighted(face, 1.8, cv2.GaussianBlur(face, (0, 0), 3), -0.8, 0)
    landmarks = default_detector().detect(face)
    if landmarks is None:
        return
    for days, depth in PHOTO_SERIES:
        taken_on = treatment.treated_on + dt.timedelta(days=days)
        if taken_on > today:
            break
        rgb = paint_lines(face, landmarks, {"glabella": depth, "forehead": depth * 0.6})
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        photo_upload(actor=staff["nurse.kim"], patient=treatment.patient, view="frown", upload=jpeg.tobytes(),
                     taken_on=taken_on, treatment=treatment, consent_clinical=True)


def _seed_schedule(clinic: Clinic, staff: dict[str, Any]) -> None:
    """Working hours for both injectors, so the front desk can book."""
    try:
        from touchup.maintenance.services.booking import set_working_hours
    except ImportError:  # the maintenance app is optional for the clinic app
        return
    for username, days in (("dr.rivera", (0, 1, 3)), ("nurse.kim", (1, 2, 3, 4))):
        blocks = [{"weekday": d, "start": "09:00", "end": "17:00", "slot_minutes": 30} for d in days]
        set_working_hours(actor=staff["manager.lee"], clinic=clinic, clinician=staff[username], blocks=blocks)


def _seed_forecasts(clinic: Clinic) -> None:
    try:
        from touchup.maintenance.services.forecasts import recompute
    except ImportError:
        return
    for patient in Patient.objects.filter(clinic=clinic):
        recompute(patient)


@transaction.atomic
def prepare_day(*, now: dt.datetime | None = None) -> int:
    """The morning's preparation: one freshly reconstituted vial of each product in
    stock for today, so a treatment can be charted at once. Returns how many it made."""
    from .services.vials import vial_reconstitute

    clinic = Clinic.objects.filter(slug=SLUG).first()
    if clinic is None:
        return 0
    now = now or timezone.now()
    nurse = get_user_model().objects.get(username="nurse.kim")
    cat = load_catalogue()
    made = 0
    for product in ("onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA"):
        fresh = Vial.objects.filter(
            clinic=clinic, product=product, discarded_at__isnull=True,
            reconstituted_at__gte=now - dt.timedelta(hours=cat.products[product].use_within_hours),
            expiry__gte=timezone.localdate(now),
        )
        if fresh.exists():
            continue
        size = VIAL_FOR[product]
        dilution = next((d for d in cat.products[product].standard_dilutions if d.vial_units == size), None)
        vial = Vial.objects.create(
            clinic=clinic, product=product, lot=f"{product[:3].upper()}{now:%y%m%d}T", units=size,
            expiry=timezone.localdate(now) + dt.timedelta(days=365), received_at=now - dt.timedelta(days=7),
            received_by=nurse,
        )
        audit.record("vial.receive", actor=nurse, clinic=clinic, obj=vial, detail={"product": product, "lot": vial.lot})
        vial_reconstitute(actor=nurse, vial=vial, diluent_ml=dilution.diluent_ml if dilution else 2.5, at=now)
        made += 1
    return made
