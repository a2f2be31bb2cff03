"""Screening: the core's questions as a form, findings, and the doctor's sign-off."""

import pytest
from django.urls import reverse

from touchup.clinic.models import Screening

from .conftest import clean_answers

pytestmark = pytest.mark.django_db


def form_post(indication, answers=None, **yes):
    """The screening form as a browser posts it: every question no, except `yes`."""
    data = {"indication": indication}
    for key in answers or clean_answers(indication):
        data[f"q_{key}"] = "yes" if key in yes else "no"
        data[f"q_{key}_details"] = yes.get(key, "")
    return data


def test_the_form_shows_every_question_with_labelled_yes_no(as_front_desk, patient):
    from touchup.web.forms import screening_questions

    html = as_front_desk.get(reverse("screening_new", args=[patient.public_id]), {"indication": "glabellar_lines"}).content.decode()
    questions = screening_questions("glabellar_lines")
    assert questions
    assert '<input type="hidden" name="indication" value="glabellar_lines">' in html
    for q in questions:
        assert f'name="q_{q.key}"' in html
        assert f'for="id_q_{q.key}_0"' in html  # the "Yes" label is tied to its radio


def test_front_desk_records_a_clean_screening(as_front_desk, patient):
    response = as_front_desk.post(reverse("screening_new", args=[patient.public_id]), form_post("glabellar_lines"))
    assert response.status_code == 302
    screening = Screening.objects.get()
    assert not screening.blocking
    page = as_front_desk.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert "Clear to treat" in page


def test_an_unanswered_question_is_an_error_and_nothing_is_written(as_clinician, patient):
    data = form_post("glabellar_lines")
    first = next(k for k in data if k.startswith("q_") and not k.endswith("_details"))
    del data[first]
    response = as_clinician.post(reverse("screening_new", args=[patient.public_id]), data)
    assert response.status_code == 200
    assert "Answer yes or no." in response.content.decode()
    assert not Screening.objects.exists()


def test_a_yes_that_blocks_shows_the_finding(as_clinician, patient):
    from touchup.web.forms import screening_questions

    keys = [q.key for q in screening_questions("glabellar_lines")]
    blocking_key = next((k for k in keys if "pregnan" in k or "neuromuscular" in k), keys[0])
    response = as_clinician.post(
        reverse("screening_new", args=[patient.public_id]), form_post("glabellar_lines", **{blocking_key: "yes, details"}),
        follow=True,
    )
    html = response.content.decode()
    screening = Screening.objects.get()
    assert screening.blocking
    assert "finding-block" in html and "Do not treat" in html


def test_a_therapeutic_screening_needs_and_gets_the_doctors_sign_off(as_clinician, patient):
    as_clinician.post(reverse("screening_new", args=[patient.public_id]), form_post("chronic_migraine"))
    screening = Screening.objects.get()
    assert screening.requires_doctor
    html = as_clinician.get(reverse("screening", args=[screening.public_id])).content.decode()
    assert "Sign off as doctor" in html
    as_clinician.post(reverse("screening_signoff", args=[screening.public_id]))
    screening.refresh_from_db()
    assert screening.doctor_signed
    page = as_clinician.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert "Signed off by a doctor" in page


def test_a_clinician_who_is_not_a_doctor_cannot_sign_off(client, patient, clinic_a, django_user_model):
    from tests.conftest import PASSWORD, _user
    from touchup.clinic.services.screenings import screening_record

    nurse = _user(django_user_model, "nina", clinic_a, "clinician", is_doctor=False)
    screening = screening_record(actor=nurse, patient=patient, indication="chronic_migraine", answers=clean_answers("chronic_migraine"))
    client.login(username="nina", password=PASSWORD)
    html = client.get(reverse("screening", args=[screening.public_id])).content.decode()
    assert "Sign off as doctor" not in html and "Waiting for a doctor" in html
    assert client.post(reverse("screening_signoff", args=[screening.public_id])).status_code == 403
    screening.refresh_from_db()
    assert not screening.doctor_signed


def test_front_desk_cannot_sign_off(as_front_desk, patient, clinician):
    from touchup.clinic.services.screenings import screening_record

    screening = screening_record(actor=clinician, patient=patient, indication="chronic_migraine", answers=clean_answers("chronic_migraine"))
    assert as_front_desk.post(reverse("screening_signoff", args=[screening.public_id])).status_code == 403


def test_idor_another_clinics_screening_is_404(as_other_clinician, patient, clinician):
    from touchup.clinic.services.screenings import screening_record

    screening = screening_record(actor=clinician, patient=patient, indication="chronic_migraine", answers=clean_answers("chronic_migraine"))
    assert as_other_clinician.get(reverse("screening", args=[screening.public_id])).status_code == 404
    assert as_other_clinician.post(reverse("screening_signoff", args=[screening.public_id])).status_code == 404
    assert as_other_clinician.post(reverse("screening_new", args=[patient.public_id]), form_post("glabellar_lines")).status_code == 404
    screening.refresh_from_db()
    assert not screening.doctor_signed
    assert Screening.objects.count() == 1


def test_the_screenings_age_counts_calendar_days(as_clinician, patient, clinician):
    """Recorded the day before yesterday reads "2 days ago" beside its date, even when fewer
    than 48 hours have passed (it said "1 day ago" next to a date two days back)."""
    import datetime as dt

    from django.utils import timezone

    from touchup.clinic.services.screenings import screening_record

    s = screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())
    now = timezone.localtime()
    recorded = now - dt.timedelta(days=2) + dt.timedelta(seconds=30)  # 47 h 59 min 30 s ago
    if recorded.date() != now.date() - dt.timedelta(days=2):  # run in the last 30 s before midnight
        recorded = now - dt.timedelta(days=2)
    Screening.objects.filter(pk=s.pk).update(recorded_at=recorded)
    page = as_clinician.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert f"{recorded:%d %b %Y}".lstrip("0") in page
    assert "(2 days ago)" in page


def test_a_clear_screening_leads_on_to_starting_a_treatment(as_clinician, patient):
    """The screening's result page is where a clinician lands after recording it: when it
    clears treatment, it offers the next step instead of being a dead end."""
    as_clinician.post(reverse("screening_new", args=[patient.public_id]), form_post("glabellar_lines"))
    screening = Screening.objects.get()
    html = as_clinician.get(reverse("screening", args=[screening.public_id])).content.decode()
    assert f'href="{reverse("patient", args=[patient.public_id])}#start-h"' in html
    assert "Start a treatment" in html


def test_the_front_desk_is_not_offered_a_treatment_it_cannot_chart(as_front_desk, patient):
    as_front_desk.post(reverse("screening_new", args=[patient.public_id]), form_post("glabellar_lines"))
    screening = Screening.objects.get()
    assert "Start a treatment" not in as_front_desk.get(reverse("screening", args=[screening.public_id])).content.decode()


def test_a_screening_that_needs_a_doctor_does_not_offer_to_start_a_treatment(as_clinician, patient):
    as_clinician.post(reverse("screening_new", args=[patient.public_id]), form_post("chronic_migraine"))
    screening = Screening.objects.get()
    html = as_clinician.get(reverse("screening", args=[screening.public_id])).content.decode()
    assert "Start a treatment" not in html


def test_a_yes_without_its_details_is_named_on_that_question_and_nothing_saved(as_clinician, patient):
    from touchup.web.forms import screening_questions

    asking = [q for q in screening_questions("glabellar_lines") if q.details_prompt][:2]
    data = form_post("glabellar_lines", **{q.key: "" for q in asking})
    for q in asking:
        data[f"q_{q.key}"] = "yes"  # yes, with the "(if yes)" box left empty
    response = as_clinician.post(reverse("screening_new", args=[patient.public_id]), data)
    html = response.content.decode()
    assert response.status_code == 200
    for q in asking:
        assert f'id="id_q_{q.key}_details_error"' in html
        assert q.details_prompt in html.split(f'id="id_q_{q.key}_details_error"')[1].split("</p>")[0]
    assert not Screening.objects.exists()
