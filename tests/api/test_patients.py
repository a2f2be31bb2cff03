"""Patients over the API: list, search by POST, register, read, edit."""

import pytest

from touchup.clinic.models import AuditEvent, Patient

from .helpers import Api, counts, fields_named

NEW = {"given_name": "Erin", "family_name": "Sample", "birth_date": "1990-05-17", "sex": "female"}


def test_it_lists_the_clinics_patients(api_clinician, patient):
    r = api_clinician.get("/patients")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    assert body["items"] == [{
        "id": str(patient.public_id), "given_name": "Dana", "family_name": "Example",
        "birth_date": "1984-03-02", "sex": "female",
    }]


def test_it_pages(api_clinician, clinician, clinic_a):
    from touchup.clinic.services.patients import patient_create

    for i in range(5):
        patient_create(actor=clinician, clinic=clinic_a, given_name=f"P{i}", family_name=f"F{i}",
                       birth_date="1980-01-01", sex="other")
    body = api_clinician.get("/patients", limit=2, offset=2).json()
    assert body["count"] == 5 and body["limit"] == 2 and body["offset"] == 2
    assert [p["family_name"] for p in body["items"]] == ["F2", "F3"]
    r = api_clinician.get("/patients", limit=10_000)
    assert r.status_code == 422 and fields_named(r) == {"limit"}


def test_search_is_a_post_and_matches_every_word(api_front_desk, patient, other_clinician, clinic_b):
    from touchup.clinic.services.patients import patient_create

    patient_create(actor=other_clinician, clinic=clinic_b, given_name="Dana", family_name="Example",
                   birth_date="1984-03-02", sex="female")
    r = api_front_desk.post("/patients/search", {"q": "dana exam"})
    assert r.status_code == 200
    assert [p["id"] for p in r.json()["items"]] == [str(patient.public_id)]  # not clinic B's Dana
    assert api_front_desk.post("/patients/search", {"q": "dana nobody"}).json()["count"] == 0
    assert api_front_desk.post("/patients/search", {"q": "1984-03-02"}).json()["count"] == 1
    # Names are PHI: there is no GET form that would put them in a URL.
    assert api_front_desk.get("/patients/search").status_code == 405


def test_it_registers_a_patient(api_front_desk, clinic_a):
    r = api_front_desk.post("/patients", {**NEW, "email": "erin@example.org", "phone": "+44 20 7946 0000"})
    assert r.status_code == 201, r.json()
    body = r.json()
    p = Patient.objects.get(public_id=body["id"])
    assert p.clinic == clinic_a and p.family_name == "Sample" and p.email == "erin@example.org"
    assert AuditEvent.objects.filter(action="patient.create", object_id=body["id"]).exists()


def test_mass_assignment_is_ignored(api_clinician, clinic_a, clinic_b):
    """Fields that are not in the input schema (clinic, id, user) cannot be set."""
    r = api_clinician.post("/patients", {**NEW, "clinic": clinic_b.pk, "clinic_id": clinic_b.pk,
                                         "id": "00000000-0000-0000-0000-000000000001", "user": 1})
    assert r.status_code == 201
    p = Patient.objects.get(public_id=r.json()["id"])
    assert p.clinic == clinic_a and p.user is None and str(p.public_id) != "00000000-0000-0000-0000-000000000001"


def test_it_reads_a_patient_and_audits_the_read(api_clinician, clinician, patient):
    r = api_clinician.get(f"/patients/{patient.public_id}")
    assert r.status_code == 200
    assert r.json()["clinical"] == {"screenings": [], "treatments": []}
    event = AuditEvent.objects.filter(action="patient.view").latest("id")
    assert event.actor == clinician and event.patient_id_ref == patient.pk and event.ip == "198.51.100.7"


def test_the_front_desk_sees_no_clinical_data(api_front_desk, signed):
    """ASVS 8.2.3: same object, fewer fields for a role without clinical.view."""
    body = api_front_desk.get(f"/patients/{signed.patient.public_id}").json()
    assert body["clinical"] is None
    assert set(body) == {"id", "given_name", "family_name", "birth_date", "sex", "email", "phone",
                         "created_at", "clinical"}


def test_clinicians_see_screenings_and_treatments(api_manager, signed):
    body = api_manager.get(f"/patients/{signed.patient.public_id}").json()
    assert [t["id"] for t in body["clinical"]["treatments"]] == [str(signed.public_id)]
    assert len(body["clinical"]["screenings"]) == 1


def test_it_updates_only_the_fields_sent(api_front_desk, patient):
    r = api_front_desk.patch(f"/patients/{patient.public_id}", {"phone": "0123 456", "family_name": "Changed"})
    assert r.status_code == 200, r.json()
    patient.refresh_from_db()
    assert (patient.phone, patient.family_name, patient.given_name) == ("0123 456", "Changed", "Dana")
    event = AuditEvent.objects.filter(action="patient.update").latest("id")
    assert event.detail == {"fields": ["family_name", "phone"]}


@pytest.mark.parametrize(("body", "field"), [
    ({**NEW, "given_name": ""}, "given_name"),
    ({**NEW, "given_name": "   "}, "given_name"),
    ({**NEW, "family_name": "x" * 101}, "family_name"),
    ({**NEW, "given_name": "Nul\x00l"}, "given_name"),
    ({**NEW, "birth_date": "2999-01-01"}, "birth_date"),
    ({**NEW, "birth_date": "1850-01-01"}, "birth_date"),
    ({**NEW, "birth_date": "17/05/1990"}, "birth_date"),
    ({**NEW, "birth_date": "1990-02-30"}, "birth_date"),
    ({**NEW, "birth_date": 642902400}, "birth_date"),
    ({**NEW, "sex": "f"}, "sex"),
    ({**NEW, "email": "not an email"}, "email"),
    ({**NEW, "phone": "1" * 33}, "phone"),
    ({**NEW, "phone": "hello"}, "phone"),  # was kept; text-message reminders went to it
    ({**NEW, "phone": "12345"}, "phone"),
    ({k: v for k, v in NEW.items() if k != "family_name"}, "family_name"),
    ({**NEW, "given_name": 7}, "given_name"),
    ({**NEW, "given_name": None}, "given_name"),
])
def test_registering_validates_each_field(api_clinician, clinic_a, body, field):
    before = counts()
    r = api_clinician.post("/patients", body)
    assert r.status_code == 422, r.json()
    assert field in fields_named(r)
    assert counts() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"given_name": None}, "given_name"),
    ({"birth_date": None}, "birth_date"),
    ({"email": None}, "email"),
    ({"sex": "unknown"}, "sex"),
    ({"birth_date": "tomorrow"}, "birth_date"),
    ({"phone": "\x00"}, "phone"),
])
def test_updating_validates_each_field(api_clinician, patient, body, field):
    before = counts()
    r = api_clinician.patch(f"/patients/{patient.public_id}", body)
    assert r.status_code == 422, r.json()
    assert fields_named(r) == {field}
    assert counts() == before
    patient.refresh_from_db()
    assert patient.given_name == "Dana" and patient.email == ""


def test_bad_json_is_a_400_not_a_500(api_clinician, clinic_a):
    before = counts()
    r = api_clinician.post("/patients", raw=b'{"given_name": ')
    assert r.status_code == 400 and "detail" in r.json()
    r = api_clinician.post("/patients", raw=b"[1, 2]")
    assert r.status_code == 422
    assert counts() == before


def test_another_clinics_patient_is_a_404_and_audited_as_denied(api_other, other_clinician, patient, denied):
    before = counts()
    with denied():
        for r in (
            api_other.get(f"/patients/{patient.public_id}"),
            api_other.patch(f"/patients/{patient.public_id}", {"family_name": "Hijacked"}),
        ):
            assert r.status_code == 404
            assert r.json() == {"detail": "Not found."}
    assert counts() == before
    patient.refresh_from_db()
    assert patient.family_name == "Example"
    events = AuditEvent.objects.filter(outcome="denied", actor=other_clinician, action="patient.not_found")
    assert events.count() == 2
    # The same answer for an id that does not exist at all: nothing to tell them apart.
    missing = api_other.get("/patients/00000000-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not found."})


def test_other_clinics_lists_do_not_show_clinic_a(api_other, patient):
    assert api_other.get("/patients").json()["count"] == 0
    assert api_other.post("/patients/search", {"q": "Dana"}).json()["count"] == 0


def test_a_malformed_id_names_the_field(api_clinician):
    r = api_clinician.get("/patients/not-a-uuid")
    assert r.status_code == 422 and fields_named(r) == {"patient_id"}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("get", "/patients", None),
    ("post", "/patients", NEW),
    ("post", "/patients/search", {"q": "Dana"}),
    ("get", "/patients/{id}", None),
    ("patch", "/patients/{id}", {"phone": "1"}),
])
def test_anonymous_gets_401(anon, patient, method, path, body):
    before = counts()
    r = anon.call(method, path.format(id=patient.public_id), body)
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication required."}
    assert counts() == before


def test_a_user_without_a_clinic_gets_403(django_user_model, patient):
    loner = django_user_model.objects.create_user(username="loner", password="x" * 12)
    assert Api(loner).get("/patients").status_code == 403
    assert Api(loner).get(f"/patients/{patient.public_id}").status_code == 403
