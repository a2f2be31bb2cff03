"""The clinic's own medians: proposed from its charts, applied by the manager, used by
every recompute of that clinic only."""

import datetime as dt
import json
import math
import random

import pytest
from django.utils import timezone

from touchup.cli import main as touchup
from touchup.clinic.models import AuditEvent, Observation
from touchup.clinic.services.patients import patient_create
from touchup.core.wearoff import improvement, load_priors
from touchup.maintenance.models import AreaForecast, MedianCalibration
from touchup.maintenance.services import calibration, forecasts

from .conftest import signed_treatment

GLABELLA = load_priors().areas["glabella"]


def long_lasting_patients(clinic, clinician, n, factor=1.3, seed=5):
    """n patients whose glabella lasts `factor` x the published median: photographed
    before the first treatment, at two weeks, around day 100 and on the day they came back."""
    rng = random.Random(seed)
    today = timezone.localdate()
    made = []
    for i in range(n):
        p = patient_create(actor=clinician, clinic=clinic, given_name=f"P{i}", family_name="Calibration",
                           birth_date=dt.date(1980, 1, 1), sex="female")
        person = rng.gauss(0, GLABELLA.sd_log_person)
        day = today - dt.timedelta(days=420 + rng.randrange(60))
        base = rng.uniform(0.25, 0.5)
        Observation.objects.create(patient=p, area="glabella", observed_on=day, kind="wrinkle_index",
                                   value=base, source="photo")
        for _ in range(2):
            D = GLABELLA.median_days * factor * math.exp(person + rng.gauss(0, GLABELLA.sd_log_cycle))
            A = rng.uniform(0.4, 0.8)
            gap = round(D * math.exp(rng.gauss(0.05, 0.1)))
            signed_treatment(p, clinician, day, {"glabella": 20})
            for t in (14, min(100, gap - 1), gap):
                f = float(improvement(t, D, GLABELLA.peak_days, GLABELLA.rise_shape, GLABELLA.decline_shape))
                Observation.objects.create(patient=p, area="glabella", observed_on=day + dt.timedelta(days=t),
                                           kind="wrinkle_index", value=round(base * (1 - A * f), 4),
                                           source="photo")
            day += dt.timedelta(days=gap)
        signed_treatment(p, clinician, min(day, today), {"glabella": 20})
        made.append(p)
    return made


def test_a_proposal_finds_the_clinics_longer_wear_off_and_changes_nothing_yet(clinic_a, clinician, manager):
    patients = long_lasting_patients(clinic_a, clinician, 30)
    forecasts.recompute(patients[0])
    before = AreaForecast.objects.get(patient=patients[0]).wear_off_date

    row = calibration.propose(clinic_a, actor=manager)
    glabella = row.result["glabella"]
    assert row.patients == 30 and glabella["patients"] == 30 and glabella["calibrated"]
    assert 0.1 < glabella["shift"] < 0.45, glabella
    assert glabella["after"] > glabella["before"] == GLABELLA.median_days
    assert row.applied_at is None and calibration.active(clinic_a.pk) is None
    forecasts.recompute(patients[0])
    assert AreaForecast.objects.get(patient=patients[0]).wear_off_date == before
    event = AuditEvent.objects.get(action="forecast.calibration.propose")
    assert event.detail == {"patients": 30} and event.actor == manager


def test_applied_medians_move_that_clinics_forecasts_only(clinic_a, clinic_b, clinician, other_clinician, manager):
    patients = long_lasting_patients(clinic_a, clinician, 25)
    elsewhere = long_lasting_patients(clinic_b, other_clinician, 1, seed=9)[0]
    forecasts.recompute_many([patients[0], elsewhere])
    before = {r.patient_id: r.wear_off_date for r in AreaForecast.objects.all()}

    calibration.apply(calibration.propose(clinic_a), actor=manager)
    forecasts.recompute_many([patients[0], elsewhere])
    after = {r.patient_id: r.wear_off_date for r in AreaForecast.objects.all()}
    assert after[patients[0].pk] > before[patients[0].pk]
    assert after[elsewhere.pk] == before[elsewhere.pk]
    basis = {r.patient_id: r.basis for r in AreaForecast.objects.all()}
    assert basis[patients[0].pk].endswith("; median fitted to this clinic's patients")
    assert "clinic" not in basis[elsewhere.pk]
    forecasts.recompute(patients[0])
    assert AreaForecast.objects.get(patient=patients[0]).basis == basis[patients[0].pk]
    assert calibration.priors_for(clinic_b.pk) is calibration.priors_for(clinic_b.pk)
    assert calibration.priors_for(clinic_a.pk).areas["glabella"].median_days > GLABELLA.median_days
    assert AuditEvent.objects.filter(action="forecast.calibration.apply", actor=manager).count() == 1


def test_too_few_patients_keep_the_published_medians(clinic_a, clinician):
    long_lasting_patients(clinic_a, clinician, 3)
    row = calibration.propose(clinic_a)
    assert not row.result["glabella"]["calibrated"] and row.shifts() == {}
    calibration.apply(row)
    assert calibration.priors_for(clinic_a.pk).areas["glabella"].median_days == GLABELLA.median_days


def test_a_clinic_without_signed_treatments_has_nothing_to_calibrate(clinic_a):
    with pytest.raises(calibration.NothingToCalibrate):
        calibration.propose(clinic_a)


def test_the_command_shows_and_applies_and_recomputes(clinic_a, clinician, capsys):
    patients = long_lasting_patients(clinic_a, clinician, 22)
    assert touchup(["calibrate", "--clinic", "alpha", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["clinic"] == "alpha" and shown["patients"] == 22 and not shown["applied"]
    assert shown["areas"]["glabella"]["calibrated"]
    assert not MedianCalibration.objects.filter(applied_at__isnull=False).exists()

    assert touchup(["calibrate", "--clinic", "alpha", "--apply"]) == 0
    text = capsys.readouterr().out
    assert "glabella" in text and "applied: forecasts recomputed" in text
    assert AreaForecast.objects.filter(patient__in=patients).count() == 22

    assert touchup(["calibrate", "--clinic", "nowhere"]) == 2
    assert "no clinic 'nowhere'" in capsys.readouterr().err
