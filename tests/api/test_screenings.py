"""Screening over the API: questions, record, read, doctor sign-off."""

import pytest

from touchup.clinic.models import AuditEvent, Membership, Screening

from .helpers import Api, clean_answers, counts, fields_named


def test_the_questions_come_from_the_core(api_front_desk):
    r = api_front_desk.get("/screening/questions")
    assert r.status_code == 200
    keys = [q["key"] for q in r.json()]
    assert keys and set(clean_answers()) <= set(keys)
    only = api_front_desk.get("/screening/questions", indication="glabellar_lines").json()
    assert {q["key"] for q in only} == set(clean_answers("glabellar_lines"))


def test_a_clinician_records_and_gets_the_findings(api_clinician, patient, clinician):
    r = api_clinician.post(f"/patients/{patient.public_id}/screenings",
                           {"indication": "glabellar_lines", "answers": clean_answers()})
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["patient_id"] == str(patient.public_id)
    assert body["blocking"] is False and isinstance(body["findings"], list)
    s = Screening.objects.get(public_id=body["id"])
    assert s.recorded_by == clinician
    assert AuditEvent.objects.filter(action="screening.record", object_id=body["id"]).exists()


def test_the_front_desk_records_and_gets_a_receipt(api_front_desk, patient):
    """Intake is front-desk work; the findings are clinical data they do not see."""
    r = api_front_desk.post(f"/patients/{patient.public_id}/screenings",
                            {"indication": "glabellar_lines", "answers": clean_answers()})
    assert r.status_code == 201, r.json()
    assert set(r.json()) == {"id", "patient_id", "indication", "recorded_at"}
    assert api_front_desk.get(f"/screenings/{r.json()['id']}").status_code == 403


def test_it_reads_a_screening(api_manager, screening):
    r = api_manager.get(f"/screenings/{screening.public_id}")
    assert r.status_code == 200
    assert r.json()["answers"] == clean_answers()
    assert AuditEvent.objects.filter(action="screening.view").exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"indication": "hair_loss", "answers": "CLEAN"}, "indication"),
    ({"indication": "", "answers": "CLEAN"}, "indication"),
    ({"indication": "glabellar_lines", "answers": []}, "answers"),
    ({"indication": "glabellar_lines", "answers": "yes"}, "answers"),
    ({"indication": "glabellar_lines"}, "answers"),
    ({"indication": "glabellar_lines", "answers": {"x\x00": {"answer": False}}}, "answers"),
    ({"indication": "glabellar_lines", "answers": {"q": "a" * 6000}}, "answers"),
])
def test_recording_validates(api_clinician, patient, body, field):
    if body.get("answers") == "CLEAN":
        body = {**body, "answers": clean_answers()}
    before = counts()
    r = api_clinician.post(f"/patients/{patient.public_id}/screenings", body)
    assert r.status_code == 422, r.json()
    assert field in fields_named(r)
    assert counts() == before


def test_unanswered_or_malformed_answers_are_refused(api_clinician, patient):
    answers = clean_answers()
    first = next(iter(answers))
    before = counts()
    for bad in ({k: v for k, v in answers.items() if k != first}, {**answers, first: "maybe"}):
        r = api_clinician.post(f"/patients/{patient.public_id}/screenings",
                               {"indication": "glabellar_lines", "answers": bad})
        assert r.status_code == 422, r.json()
        assert r.json()["detail"][0]["field"]
    assert counts() == before


def test_a_doctor_signs_off_once(api_clinician, screening, clinician):
    r = api_clinician.post(f"/screenings/{screening.public_id}/doctor-signoff")
    assert r.status_code == 200, r.json()
    assert r.json()["doctor_signed_by"] == "alice"
    before = counts()
    r = api_clinician.post(f"/screenings/{screening.public_id}/doctor-signoff")
    assert r.status_code == 409
    assert counts() == before


def test_only_a_doctor_signs_off(screening, django_user_model, clinic_a, api_manager, api_front_desk):
    nurse = django_user_model.objects.create_user(username="nina", password="x" * 12)
    Membership.objects.create(user=nurse, clinic=clinic_a, role="clinician", is_doctor=False)
    before = counts()
    for api in (Api(nurse), api_manager, api_front_desk):
        assert api.post(f"/screenings/{screening.public_id}/doctor-signoff").status_code == 403
    assert counts() == before


def test_another_clinics_screening_is_a_404(api_other, other_clinician, screening, patient, denied):
    before = counts()
    with denied():
        assert api_other.get(f"/screenings/{screening.public_id}").status_code == 404
        assert api_other.post(f"/screenings/{screening.public_id}/doctor-signoff").status_code == 404
        r = api_other.post(f"/patients/{patient.public_id}/screenings",
                           {"indication": "glabellar_lines", "answers": clean_answers()})
        assert r.status_code == 404
    assert counts() == before
    actions = set(AuditEvent.objects.filter(outcome="denied", actor=other_clinician).values_list("action", flat=True))
    assert actions == {"screening.not_found", "patient.not_found"}


def test_anonymous_gets_401(anon, screening, patient):
    before = counts()
    assert anon.get("/screening/questions").status_code == 401
    assert anon.get(f"/screenings/{screening.public_id}").status_code == 401
    assert anon.post(f"/screenings/{screening.public_id}/doctor-signoff").status_code == 401
    assert anon.post(f"/patients/{patient.public_id}/screenings", {}).status_code == 401
    assert counts() == before


def test_a_yes_without_the_details_it_asks_for_is_refused(api_clinician, patient):
    before = counts()
    answers = clean_answers() | {"bleeding_risk": {"answer": True, "details": ""}}
    r = api_clinician.post(f"/patients/{patient.public_id}/screenings", {"indication": "glabellar_lines", "answers": answers})
    assert r.status_code == 422, r.json()
    assert "bleeding_risk" in fields_named(r)
    assert "Which medicine or condition?" in str(r.json())
    assert counts() == before
    answers["bleeding_risk"]["details"] = "aspirin 75 mg"
    r = api_clinician.post(f"/patients/{patient.public_id}/screenings", {"indication": "glabellar_lines", "answers": answers})
    assert r.status_code == 201, r.json()
