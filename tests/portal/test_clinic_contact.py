"""Wherever the portal tells a patient to call the clinic, it gives the clinic's number
once the manager has set one, and the old words until then."""

import datetime as dt

import pytest
from django.utils import timezone

from touchup.clinic.models import Clinic
from touchup.maintenance.models import Appointment

pytestmark = pytest.mark.django_db

NUMBER = "020 7946 0000"


def with_phone(clinic, phone=NUMBER, email=""):
    Clinic.objects.filter(pk=clinic.pk).update(phone=phone, email=email)


def visit_in_5_hours(dana, clinician):
    now = timezone.now()
    return Appointment.objects.create(clinic=dana.clinic, patient=dana, clinician=clinician,
                                      starts_at=now + dt.timedelta(hours=5),
                                      ends_at=now + dt.timedelta(hours=5, minutes=30),
                                      booked_by=clinician, booked_at=now, updated_at=now)


def test_a_visit_too_close_to_change_online_gives_the_number(as_dana, dana, clinician):
    a = visit_in_5_hours(dana, clinician)
    page = as_dana.get(f"/portal/visits/{a.public_id}/").content.decode()
    assert "to change it, please call the clinic.</p>" in page and "call the clinic on" not in page
    with_phone(dana.clinic)
    page = as_dana.get(f"/portal/visits/{a.public_id}/").content.decode()
    assert f"to change it, please call the clinic on {NUMBER}.</p>" in page
    # The move page sends her back with the same words.
    r = as_dana.get(f"/portal/visits/{a.public_id}/move/", follow=True)
    assert f"can no longer be changed online: please call the clinic on {NUMBER}." in r.content.decode()


def test_the_footer_gives_the_number_and_email_only_once_there_are_some(as_dana, dana):
    assert "Questions or worries" not in as_dana.get("/portal/").content.decode()
    with_phone(dana.clinic, email="desk@example.org")
    page = as_dana.get("/portal/").content.decode()
    assert (f"Questions or worries about your treatment? Call the clinic on {NUMBER} or email "
            '<a href="mailto:desk@example.org">desk@example.org</a>.') in page


def test_the_aftercare_warning_signs_give_the_number(as_dana, dana, treated):
    with_phone(dana.clinic)
    body = as_dana.get(f"/portal/aftercare/{treated.public_id}/").content.decode()
    assert f"(use “Report a side effect”, or call the clinic on {NUMBER}) for:" in body


def test_another_clinics_number_is_never_shown(as_dana, dana, clinic_b):
    with_phone(clinic_b, "01632 960000")
    assert "01632 960000" not in as_dana.get("/portal/").content.decode()
