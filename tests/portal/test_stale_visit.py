"""The patient's own pages for a visit a treatment since its booking made too early: plain
words that the clinic will confirm, and the visit left as it is."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.portal.conftest import signed_treatment
from touchup.clinic.zones import clinic_zone
from touchup.maintenance.models import Appointment, AppointmentStatus

pytestmark = pytest.mark.django_db

WORDS = "Your clinic will confirm whether you still need this visit."


@pytest.fixture
def visit(dana, clinician):
    today = timezone.localdate()
    signed_treatment(dana, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    starts = dt.datetime.combine(today + dt.timedelta(days=5), dt.time(10), tzinfo=clinic_zone(dana.clinic))
    booked = timezone.now() - dt.timedelta(days=10)
    return Appointment.objects.create(
        clinic=dana.clinic, patient=dana, clinician=clinician, starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=30), areas=["glabella"], booked_by=clinician, booked_at=booked,
        updated_at=booked,
    )


def test_the_visit_list_and_page_say_the_clinic_will_confirm(as_dana, dana, clinician, visit):
    for url in ("/portal/book/", f"/portal/visits/{visit.public_id}/", "/portal/"):
        assert WORDS not in as_dana.get(url).content.decode(), url
    signed_treatment(dana, clinician, timezone.localdate(), {"glabella": 20})
    for url in ("/portal/book/", f"/portal/visits/{visit.public_id}/", "/portal/"):
        html = as_dana.get(url).content.decode()
        assert WORDS in html, url
        assert "after this visit was booked" in html
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.BOOKED
