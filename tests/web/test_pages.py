"""Each staff page renders for the roles that may use it, and refuses the others."""

import pytest
from django.urls import reverse

from touchup.clinic.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_visitors_to_the_styled_login_page(client):
    response = client.get(reverse("patients"))
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "Sign in to Touchup" in html
    assert '<label for="id_login">Username</label>' in html
    assert "touchup/touchup.css" in html


def test_it_signs_in_through_the_login_form_and_shows_who_and_where(client, clinician):
    from tests.conftest import PASSWORD

    response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD}, follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Alpha Aesthetics" in html and "Clinician" in html and "alice" in html
    for tab in ("Patients", "Treatments", "Vials"):
        assert f">{tab}</a>" in html
    assert ">Audit</a>" not in html  # managers only


def test_it_signs_out_by_post_only(as_clinician):
    assert as_clinician.get(reverse("patients")).status_code == 200
    as_clinician.post(reverse("account_logout"))
    assert as_clinician.get(reverse("patients")).status_code == 302


def test_the_layout_has_landmarks_and_no_inline_script_or_cdn(as_clinician):
    html = as_clinician.get(reverse("patients")).content.decode()
    assert "<main" in html and "<nav" in html and "<header" in html
    assert '"allowEval":false' in html
    assert "<script>" not in html and "cdn" not in html.lower() and "unpkg" not in html


def test_the_manager_sees_the_audit_tab_and_page(as_manager, patient):
    html = as_manager.get(reverse("patients")).content.decode()
    assert ">Audit</a>" in html
    page = as_manager.get(reverse("audit"))
    assert page.status_code == 200
    assert "patient.create" in page.content.decode()


@pytest.mark.parametrize("url_name", ["audit"])
def test_clinicians_cannot_open_the_audit(as_clinician, url_name):
    response = as_clinician.get(reverse(url_name))
    assert response.status_code == 403
    assert "Not allowed for your role" in response.content.decode()


def test_front_desk_sees_patients_but_no_clinical_tabs(as_front_desk, patient):
    html = as_front_desk.get(reverse("patients")).content.decode()
    assert "Example, Dana" in html
    assert ">Treatments</a>" not in html and ">Vials</a>" not in html
    page = as_front_desk.get(reverse("patient", args=[patient.public_id]))
    assert page.status_code == 200
    assert "Treatment history" not in page.content.decode()
    assert as_front_desk.get(reverse("treatments")).status_code == 403
    assert as_front_desk.get(reverse("vials")).status_code == 403


def test_every_main_page_renders_for_the_clinician(as_clinician, draft, vial):
    for url in (
        reverse("patients"), reverse("patient_new"), reverse("patient", args=[draft.patient.public_id]),
        reverse("patient_edit", args=[draft.patient.public_id]),
        reverse("screening_new", args=[draft.patient.public_id]),
        reverse("treatments"), reverse("chart", args=[draft.public_id]),
        reverse("vials"), reverse("vial_receive"), reverse("vial_recall"),
    ):
        response = as_clinician.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "no-store", url


def test_pages_carry_no_patient_names_in_urls(as_clinician, draft):
    html = as_clinician.get(reverse("patient", args=[draft.patient.public_id])).content.decode()
    assert "Dana" in html
    assert "?q=" not in html and "Dana/" not in html


def test_the_treatments_list_filters_and_does_not_query_per_row(as_clinician, draft, django_assert_max_num_queries):
    from touchup.clinic.services.treatments import treatment_start

    for _ in range(8):
        treatment_start(actor=draft.clinician, patient=draft.patient, indication="glabellar_lines",
                        product="onabotulinumtoxinA", protocol=draft.protocol)
    with django_assert_max_num_queries(12):
        response = as_clinician.get(reverse("treatments"))
    assert response.status_code == 200
    assert response.content.decode().count("Example, Dana") == 9
    signed_only = as_clinician.get(reverse("treatments"), {"status": "signed"}).content.decode()
    assert "Example, Dana" not in signed_only


def test_the_audit_page_shows_only_this_clinics_events(as_manager, patient, other_clinician, clinic_b):
    from touchup.clinic.services.patients import patient_create

    patient_create(actor=other_clinician, clinic=clinic_b, given_name="Zed", family_name="Other",
                   birth_date="1990-01-01", sex="male")
    events = AuditEvent.objects.filter(clinic_id_ref=clinic_b.pk)
    assert events.exists()
    html = as_manager.get(reverse("audit")).content.decode()
    for e in events:
        assert f">{e.id}</td>" not in html



def test_the_audit_page_lists_refusals_of_the_clinics_own_staff(client, manager, front_desk, clinician, patient,
                                                                 other_clinician, django_capture_on_commit_callbacks):
    """Outcome 'denied' never showed: refused attempts were filed under no clinic."""
    from touchup.clinic import audit

    with django_capture_on_commit_callbacks(execute=True):  # refusals are written after the failed request
        client.force_login(front_desk)
        assert client.get(reverse("audit")).status_code == 403
        client.force_login(clinician)
        assert client.get("/patients/00000000-0000-0000-0000-000000000001/").status_code == 404
        client.force_login(other_clinician)  # another clinic probing this clinic's patient
        assert client.get(f"/patients/{patient.public_id}/").status_code == 404

    role = AuditEvent.objects.get(action="access.role", actor=front_desk)
    probe = AuditEvent.objects.get(action="patient.not_found", actor=clinician)
    foreign = AuditEvent.objects.get(action="patient.not_found", actor=other_clinician)
    assert role.clinic_id_ref == probe.clinic_id_ref == patient.clinic_id
    assert foreign.clinic_id_ref == other_clinician.memberships.get().clinic_id  # the asker's clinic, not ours
    client.force_login(manager)
    html = client.get(reverse("audit")).content.decode()
    assert f">{role.id}</td>" in html and f">{probe.id}</td>" in html and "denied" in html
    assert f">{foreign.id}</td>" not in html
    assert audit.verify().ok
