"""Education, screening, aftercare and side-effect reports from the patient's side."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.web.conftest import clean_answers
from touchup.clinic.models import Screening
from touchup.core.catalogue import load_catalogue
from touchup.portal.education import pages
from touchup.portal.models import SideEffectReport

pytestmark = pytest.mark.django_db


def test_every_indication_has_a_sourced_page():
    cat = load_catalogue()
    assert set(pages()) == set(cat.indications)
    for page in pages().values():
        assert page.sections and all(s.sources for s in page.sections)
        text = " ".join(s.text for s in page.sections).lower()
        for must in ("neck", "migraine", "exercise", "photo", "wears off"):
            assert must in text, (page.indication, must)


def test_education_page_cites_its_sources(as_dana):
    r = as_dana.get("/portal/learn/platysma_bands/")
    body = r.content.decode()
    assert r.status_code == 200 and "Neck bands" in body
    src = load_catalogue().sources["S6"]
    assert src.title in body and 'id="src-S6"' in body
    assert as_dana.get("/portal/learn/nonsense/").status_code == 404


def _answers(indication, yes=()):
    data = {"indication": indication}
    for key in clean_answers(indication):
        data[f"q_{key}"] = "yes" if key in yes else "no"
        data[f"q_{key}_details"] = "since Monday" if key in yes else ""
    return data


def test_screening_from_the_portal_reaches_the_clinic(as_dana, dana, client, clinician):
    r = as_dana.post("/portal/screening/", _answers("glabellar_lines"))
    assert r.status_code == 302
    s = Screening.objects.get(patient=dana)
    assert s.recorded_by == dana.user and not s.blocking and not s.requires_doctor
    done = as_dana.get(r["Location"]).content.decode()
    assert "Nothing in your answers stands in the way" in done


def test_therapeutic_screening_needs_a_doctor_and_shows_on_the_worklist(as_dana, dana, clinician):
    as_dana.post("/portal/screening/", _answers("chronic_migraine", yes=("infection_at_site",)))
    s = Screening.objects.get(patient=dana)
    assert s.requires_doctor and s.blocking
    page = as_dana.get("/portal/screening/done/").content.decode()
    assert "a doctor reviews your answers" in page and "needs to talk with you" in page
    as_dana.logout()
    as_dana.force_login(clinician)
    work = as_dana.get("/from-patients/").content.decode()
    assert "Dana Example" in work and "Doctor sign-off needed" in work and "Blocks treatment" in work


def test_unanswered_question_is_named_and_nothing_saved(as_dana, dana):
    data = _answers("glabellar_lines")
    missing = next(k for k in data if k.startswith("q_") and not k.endswith("_details"))
    del data[missing]
    r = as_dana.post("/portal/screening/", data)
    assert r.status_code == 200 and b"Answer yes or no." in r.content and b"Nothing was saved" in r.content
    assert not Screening.objects.exists()


def test_a_yes_without_its_details_is_named_and_nothing_saved(as_dana, dana):
    data = _answers("glabellar_lines", yes=("bleeding_risk",))
    data["q_bleeding_risk_details"] = ""
    r = as_dana.post("/portal/screening/", data)
    body = r.content.decode()
    assert r.status_code == 200 and "Nothing was saved" in body
    assert 'id="id_q_bleeding_risk_details_error"' in body and "is answered yes: give the details" in body
    assert not Screening.objects.exists()


def test_the_aftercare_list_names_what_each_treatment_was_for(as_dana, treated):
    """Not "Treatment on 23 October 2026": a patient treated for two things must tell
    the lines apart, and the aftercare differs by area."""
    body = as_dana.get("/portal/aftercare/").content.decode()
    name = load_catalogue().indications[treated.indication].name
    assert f'>{name}, {treated.treated_on.day} {treated.treated_on:%B %Y}</a>' in body.replace("&#x27;", "'")


def test_aftercare_timeline_and_warning_signs(as_dana, treated):
    body = as_dana.get(f"/portal/aftercare/{treated.public_id}/").content.decode()
    assert "Skip exercise" in body and "Trouble swallowing, speaking or breathing" in body
    assert "Get emergency care at once" in body
    assert "Done" in body  # the first hours are behind her (treated 3 days ago)
    # Source codes lead to what they stand for, listed once at the foot (as on the Learn pages);
    # no raw key reaches the patient.
    assert '<a href="#src-S90">S90</a>' in body and '<li id="src-S90">' in body
    assert body.count('<li id="src-S90">') == 1
    assert "clinic_policy</" not in body and "(Sources: S" not in body
    assert '<a href="#src-clinic_policy">Clinic</a>' in body


def test_a_step_that_lasts_to_midnight_ends_with_the_day_before(as_dana, treated):
    """"Today and tomorrow" read "until Sun 25 Oct, 00:00"; it ends with the Saturday."""
    body = as_dana.get(f"/portal/aftercare/{treated.public_id}/").content.decode()
    tomorrow = treated.treated_on + dt.timedelta(days=1)
    assert f"Today and tomorrow · until the end of {tomorrow:%a} {tomorrow.day} {tomorrow:%b}" in body
    assert ", 00:00" not in body
    assert "First 4 hours · until " in body  # a step that ends within the day keeps its time


def test_side_effect_reaches_the_worklist_at_once(as_dana, dana, treated, clinician, client):
    r = as_dana.post("/portal/side-effects/new/", {"kind": "drooping_eyelid", "details": "left eyelid",
                                                   "treatment": str(treated.public_id),
                                                   "started_on": timezone.localdate().isoformat()})
    assert r.status_code == 200 and b"the clinic has your report" in r.content
    report = SideEffectReport.objects.get()
    assert report.treatment == treated and not report.urgent
    as_dana.logout()
    as_dana.force_login(clinician)
    work = as_dana.get("/from-patients/").content.decode()
    assert "Drooping eyelid" in work and "left eyelid" in work
    as_dana.post(f"/from-patients/side-effects/{report.public_id}/reviewed/", {"note": "called, fine"})
    report.refresh_from_db()
    assert report.reviewed_by == clinician


def test_trouble_swallowing_is_urgent_and_sends_to_emergency_care(as_dana, dana):
    r = as_dana.post("/portal/side-effects/new/", {"kind": "trouble_swallowing"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "Get emergency care now" in body and "Call your local emergency number now" in body
    assert "<html" not in body  # the htmx fragment
    assert SideEffectReport.objects.get().urgent


@pytest.mark.parametrize("data,field,words", [
    ({"kind": "bruising", "started_on": "2999-01-01"}, "started_on", "cannot be in the future"),
    ({"kind": "other"}, "details", "tell us what you noticed"),
    ({"kind": "bruising", "started_on": "not a date"}, "started_on", "Enter a valid date"),
    ({}, "kind", "Choose what you noticed"),
])
def test_side_effect_bad_input_is_named_and_nothing_saved(as_dana, data, field, words):
    r = as_dana.post("/portal/side-effects/new/", data)
    assert r.status_code == 200 and words in r.content.decode()
    assert not SideEffectReport.objects.exists()


def test_staff_worklist_needs_a_clinical_role(client, front_desk, clinic_b, other_clinician, dana):
    from touchup.portal.services.side_effects import side_effect_report

    report = side_effect_report(actor=dana.user, patient=dana, kind="headache",
                                started_on=timezone.localdate() - dt.timedelta(days=1))
    client.force_login(front_desk)
    assert client.get("/from-patients/").status_code == 403
    client.force_login(other_clinician)
    assert "Dana" not in client.get("/from-patients/").content.decode()
    assert client.post(f"/from-patients/side-effects/{report.public_id}/reviewed/").status_code == 404


def test_worklist_summary_is_polled_without_patient_names(client, clinician, dana):
    from touchup.clinic.models import AuditEvent
    from touchup.portal.services.side_effects import side_effect_report

    side_effect_report(actor=dana.user, patient=dana, kind="trouble_breathing")
    client.force_login(clinician)
    n = AuditEvent.objects.filter(action="portal.worklist.view").count()
    r = client.get("/from-patients/?part=summary", HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "urgent report waiting" in body and "Dana" not in body and "<html" not in body
    assert AuditEvent.objects.filter(action="portal.worklist.view").count() == n
    full = client.get("/from-patients/").content.decode()
    assert "Trouble breathing" in full and "Urgent" in full
    assert AuditEvent.objects.filter(action="portal.worklist.view").count() == n + 1
