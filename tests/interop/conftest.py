"""A patient with a real history for the export tests: Dana (clinic A, with a portal login)
treated for frown lines twice, chronic migraine and cervical dystonia, every chart signed
through the services, one chart amended, a draft that must never leave the clinic, vials
with lots, readings from the clinician, the patient and a photo, a side-effect report and
screenings (the latest with a toxin allergy)."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone

from tests.api.conftest import keep_photo
from tests.api.helpers import clean_answers, protocol_for
from tests.photos.conftest import media  # noqa: F401 - fixture
from tests.portal.conftest import dana, erin  # noqa: F401 - fixture

DRAFT_NOTE = "Draft only: never exported"
AMEND_REASON = "Paper record checked after signing"
CORRECTION = "Point 3 was 5 U, not 4 U."


def _vial(actor, clinic, product, lot, units, diluent):
    from touchup.clinic.services.vials import vial_receive, vial_reconstitute

    v = vial_receive(actor=actor, clinic=clinic, product=product, lot=lot,
                     expiry=timezone.localdate() + dt.timedelta(days=300), units=units)
    return vial_reconstitute(actor=actor, vial=v, diluent_ml=diluent, at=timezone.now() - dt.timedelta(hours=1))


def _screen(actor, patient, indication, *, allergy=False):
    from touchup.clinic.services.screenings import screening_doctor_signoff, screening_record

    answers = clean_answers(indication)
    if allergy:
        answers["toxin_allergy"] = {"answer": True, "details": "rash after Dysport in 2019"}
    s = screening_record(actor=actor, patient=patient, indication=indication, answers=answers)
    if s.requires_doctor:
        s = screening_doctor_signoff(actor=actor, screening=s)
    return s


def _signed(actor, patient, indication, product, days_ago, vial, *, points=None, notes=""):
    from touchup.clinic.services.treatments import (
        treatment_set_points, treatment_sign, treatment_start, treatment_update,
    )

    t = treatment_start(actor=actor, patient=patient, indication=indication, product=product,
                        protocol=None if points else protocol_for(indication, product),
                        treated_on=timezone.localdate() - dt.timedelta(days=days_ago), vial=vial)
    if points:
        t = treatment_set_points(actor=actor, treatment=t, points=[dict(p, vial_id=vial.pk) for p in points])
    if notes:
        t = treatment_update(actor=actor, treatment=t, notes=notes)
    return treatment_sign(actor=actor, treatment=t)


@pytest.fixture
def record(dana, clinician, media, django_capture_on_commit_callbacks):  # noqa: F811 - fixture
    from touchup.clinic.services.observations import observation_record
    from touchup.clinic.services.treatments import treatment_amend, treatment_start
    from touchup.portal.services.diaries import record_checkin, record_headache_diary, record_symptom_diary
    from touchup.portal.services.side_effects import side_effect_report

    clinician.first_name, clinician.last_name = "Alice", "Rivera"
    clinician.save(update_fields=["first_name", "last_name"])
    clinic, today = dana.clinic, timezone.localdate()
    ona1 = _vial(clinician, clinic, "onabotulinumtoxinA", "GL-2024-A", 100, "2.5")
    ona2 = _vial(clinician, clinic, "onabotulinumtoxinA", "CM-2025-B", 200, "4.0")
    inco = _vial(clinician, clinic, "incobotulinumtoxinA", "XE-77", 200, "4.0")

    _screen(clinician, dana, "glabellar_lines")
    first = _signed(clinician, dana, "glabellar_lines", "onabotulinumtoxinA", 330, ona1,
                    notes="Asymmetric frown, more units on the left next time.")
    second = _signed(clinician, dana, "glabellar_lines", "onabotulinumtoxinA", 220, ona1)
    _screen(clinician, dana, "chronic_migraine")
    migraine = _signed(clinician, dana, "chronic_migraine", "onabotulinumtoxinA", 120, ona2)
    _screen(clinician, dana, "cervical_dystonia", allergy=False)
    dystonia = _signed(clinician, dana, "cervical_dystonia", "incobotulinumtoxinA", 20, inco, points=[
        {"site": "cd_scm_r", "units": 40, "x": 180, "y": 420, "view": "front"},
        {"site": "cd_splenius_l", "units": 50, "x": 170, "y": 250, "view": "back"},
    ])
    amendment = treatment_amend(actor=clinician, treatment=first, reason=AMEND_REASON,
                                changes={"correction": CORRECTION})
    draft = treatment_start(actor=clinician, patient=dana, indication="glabellar_lines",
                            product="onabotulinumtoxinA", protocol=protocol_for(), vial=ona1)
    from touchup.clinic.services.treatments import treatment_update

    treatment_update(actor=clinician, treatment=draft, notes=DRAFT_NOTE)
    latest_screening = _screen(clinician, dana, "cervical_dystonia", allergy=True)

    with django_capture_on_commit_callbacks(execute=False):
        readings = [
            observation_record(actor=clinician, patient=dana, area="glabella", kind="fws_grade", value=2,
                               observed_on=today - dt.timedelta(days=220)),
            observation_record(actor=clinician, patient=dana, area="migraine", kind="headache_days", value=18,
                               observed_on=today - dt.timedelta(days=120)),
            record_headache_diary(actor=dana.user, patient=dana, headache_days=9, hit6=58,
                                  observed_on=today - dt.timedelta(days=60)),
            record_symptom_diary(actor=dana.user, patient=dana, score=6, observed_on=today - dt.timedelta(days=10)),
            record_checkin(actor=dana.user, patient=dana, area="glabella", wearing_off=True,
                           observed_on=today - dt.timedelta(days=100)),
        ]
        report = side_effect_report(actor=dana.user, patient=dana, kind="headache", details="Two days, mild.",
                                    started_on=today - dt.timedelta(days=18), treatment=dystonia)
    photo = keep_photo(clinician, dana, days_ago=5, wrinkle_index=0.3)
    return SimpleNamespace(
        patient=dana, clinician=clinician, signed=[first, second, migraine, dystonia], draft=draft,
        amendment=amendment, vials=[ona1, ona2, inco], readings=readings, report=report, photo=photo,
        latest_screening=latest_screening,
    )
