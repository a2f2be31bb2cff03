"""Patients: search by POST, register, edit, the patient page and other clinics' 404s."""

import pytest
from django.urls import reverse

from touchup.clinic.models import AuditEvent, Patient

pytestmark = pytest.mark.django_db


def test_search_is_a_post_and_finds_by_name(as_clinician, patient):
    response = as_clinician.post(reverse("patient_search"), {"q": "dana exa"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Example, Dana" in html
    assert "<html" not in html  # an htmx partial, not a page
    assert as_clinician.get(reverse("patient_search")).status_code == 405


def test_search_without_htmx_renders_the_whole_page(as_clinician, patient):
    html = as_clinician.post(reverse("patient_search"), {"q": "nobody"}).content.decode()
    assert "No patient matches" in html and "<html" in html


def test_search_by_birth_date(as_clinician, patient):
    html = as_clinician.post(reverse("patient_search"), {"q": "1984-03-02"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Example, Dana" in html


def test_search_never_shows_another_clinics_patients(as_other_clinician, patient):
    html = as_other_clinician.post(reverse("patient_search"), {"q": "Dana"}, HTTP_HX_REQUEST="true").content.decode()
    assert "No patient matches" in html and "Example" not in html
    assert "Example" not in as_other_clinician.get(reverse("patients")).content.decode()


def test_front_desk_registers_a_patient(as_front_desk):
    response = as_front_desk.post(reverse("patient_new"), {
        "given_name": "Ada", "family_name": "Lovelace", "birth_date": "1990-12-10", "sex": "female",
    })
    patient = Patient.objects.get(family_name="Lovelace")
    assert response.status_code == 302
    assert response["Location"] == reverse("patient", args=[patient.public_id])


def test_bad_patient_input_shows_the_field_error_and_writes_nothing(as_front_desk):
    response = as_front_desk.post(reverse("patient_new"), {
        "given_name": "Ada", "family_name": "   ", "birth_date": "2999-01-01", "sex": "female",
    })
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert 'class="field-error"' in html
    assert not Patient.objects.filter(given_name="Ada").exists()


def test_a_future_birth_date_comes_back_from_the_service_on_its_field(as_front_desk):
    response = as_front_desk.post(reverse("patient_new"), {
        "given_name": "Ada", "family_name": "Lovelace", "birth_date": "2999-01-01", "sex": "female",
    })
    assert response.context["form"].errors["birth_date"] == ["is in the future"]
    assert not Patient.objects.exists()


@pytest.mark.parametrize("phone", ["hello", "call her mum", "12345", "+44 7700 900123 ext 4", "1" * 16])
def test_a_phone_number_that_cannot_be_dialled_is_refused_on_its_field(as_front_desk, phone):
    """"hello" was kept as the patient's phone, and the text-message reminders went to it."""
    response = as_front_desk.post(reverse("patient_new"), {
        "given_name": "Ada", "family_name": "Lovelace", "birth_date": "1990-01-01", "sex": "female", "phone": phone,
    })
    assert response.status_code == 200
    assert response.context["form"].errors["phone"][0].startswith("must be a phone number")
    assert not Patient.objects.exists()


@pytest.mark.parametrize(("typed", "kept"), [
    ("+44 7700 900123", "+44 7700 900123"), ("(020) 7946-0000", "(020) 7946-0000"),
    ("  0123  456 ", "0123 456"), ("+1.415.555.0100", "+1.415.555.0100"), ("", ""),
])
def test_phone_numbers_as_people_write_them_are_kept(as_front_desk, typed, kept):
    response = as_front_desk.post(reverse("patient_new"), {
        "given_name": "Ada", "family_name": "Lovelace", "birth_date": "1990-01-01", "sex": "female", "phone": typed,
    })
    assert response.status_code == 302
    assert Patient.objects.get().phone == kept


def test_edit_changes_only_what_changed(as_clinician, patient):
    response = as_clinician.post(reverse("patient_edit", args=[patient.public_id]), {
        "given_name": "Dana", "family_name": "Example", "birth_date": "1984-03-02", "sex": "female",
        "phone": "+44 20 7946 0000",
    })
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.phone == "+44 20 7946 0000"


def test_patient_page_shows_screening_and_history(as_clinician, draft):
    html = as_clinician.get(reverse("patient", args=[draft.patient.public_id])).content.decode()
    assert "Clear to treat" in html
    assert "Treatment history" in html
    assert reverse("chart", args=[draft.public_id]) in html
    assert "Start a treatment" in html


def test_patient_page_without_screening_says_so(as_clinician, patient):
    html = as_clinician.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert "No screening on file" in html


@pytest.mark.parametrize("name", ["patient", "patient_edit", "screening_new"])
def test_idor_another_clinics_patient_is_404(as_other_clinician, patient, name, django_capture_on_commit_callbacks):
    before = AuditEvent.objects.filter(outcome="ok").count()
    # The denied event is written after the failing request's transaction (on commit).
    with django_capture_on_commit_callbacks(execute=True):
        response = as_other_clinician.get(reverse(name, args=[patient.public_id]))
    assert response.status_code == 404
    assert "Dana" not in response.content.decode()
    assert AuditEvent.objects.filter(outcome="ok").count() == before
    assert AuditEvent.objects.filter(outcome="denied", action="patient.not_found").exists()


def test_idor_another_clinic_cannot_edit_or_start_a_treatment(as_other_clinician, patient):
    from touchup.clinic.models import Treatment

    r1 = as_other_clinician.post(reverse("patient_edit", args=[patient.public_id]), {
        "given_name": "Hacked", "family_name": "Example", "birth_date": "1984-03-02", "sex": "female",
    })
    r2 = as_other_clinician.post(reverse("treatment_new", args=[patient.public_id]), {
        "indication": "glabellar_lines", "product": "onabotulinumtoxinA", "treated_on": "2025-01-01",
    })
    assert (r1.status_code, r2.status_code) == (404, 404)
    patient.refresh_from_db()
    assert patient.given_name == "Dana"
    assert not Treatment.objects.exists()


def test_a_malformed_id_is_a_404_not_an_error(as_clinician):
    assert as_clinician.get("/patients/not-a-uuid/").status_code == 404


def test_patient_page_lists_booked_visits_and_offers_booking(as_front_desk, patient, clinician, front_desk):
    """Whoever has the patient on the phone sees the next visit and can book one from here
    (the front desk had no way from the patient to their appointments)."""
    import datetime as dt

    from django.utils import timezone

    from tests.maintenance.conftest import next_weekday
    from touchup.maintenance.services.booking import book, set_working_hours

    html = as_front_desk.get(f"/patients/{patient.public_id}/").content.decode()
    assert "No visit booked." in html
    assert f'href="/patients/{patient.public_id}/book/"' in html and "Book a visit" in html

    set_working_hours(actor=clinician, clinic=patient.clinic, clinician=clinician,
                      blocks=[{"weekday": 0, "start": "09:00", "end": "10:00", "slot_minutes": 30}])
    monday = next_weekday(timezone.localdate() + dt.timedelta(days=1), 0)
    starts = dt.datetime.combine(monday, dt.time(9, 30), tzinfo=dt.timezone.utc)
    appt = book(actor=front_desk, patient=patient, clinician=clinician, starts_at=starts)
    html = as_front_desk.get(f"/patients/{patient.public_id}/").content.decode()
    assert "No visit booked." not in html
    assert f'href="/appointments/{appt.public_id}/"' in html
    assert f"{monday:%a} {monday.day} {monday:%b %Y}, 09:30" in html


def test_a_cancelled_visit_is_not_listed(as_clinician, patient, clinician):
    import datetime as dt

    from django.utils import timezone

    from tests.maintenance.conftest import next_weekday
    from touchup.maintenance.services.booking import book, cancel, set_working_hours

    set_working_hours(actor=clinician, clinic=patient.clinic, clinician=clinician,
                      blocks=[{"weekday": 0, "start": "09:00", "end": "10:00", "slot_minutes": 30}])
    monday = next_weekday(timezone.localdate() + dt.timedelta(days=1), 0)
    appt = book(actor=clinician, patient=patient, clinician=clinician,
                starts_at=dt.datetime.combine(monday, dt.time(9), tzinfo=dt.timezone.utc))
    cancel(actor=clinician, appointment=appt)
    html = as_clinician.get(f"/patients/{patient.public_id}/").content.decode()
    assert f"/appointments/{appt.public_id}/" not in html and "No visit booked." in html
