"""Staff pages for a booked maintenance visit a later treatment made too early: the
appointment and patient pages say so above Cancel and Move, the Day view marks it in words
(one query for the whole day), and the chart page tells the clinician who signed it."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.maintenance.conftest import signed_treatment, weekday_hours  # noqa: F401 - fixture
from tests.web.conftest import signed_in
from touchup.clinic.zones import clinic_zone
from touchup.core.dates import day_text
from touchup.maintenance.models import Appointment, AppointmentStatus
from touchup.maintenance.services import day as day_svc

pytestmark = pytest.mark.django_db


def today_of(clinic):
    return day_svc.clinic_today(clinic)


def booked_visit(patient, clinician, day, *, areas=("glabella",), booked_days_ago=10, hh=10):
    """A visit booked `booked_days_ago` days ago for `day` at hh:00 (clinic time)."""
    zone = clinic_zone(patient.clinic)
    starts = dt.datetime.combine(day, dt.time(hh), tzinfo=zone)
    booked = timezone.now() - dt.timedelta(days=booked_days_ago)
    return Appointment.objects.create(
        clinic=patient.clinic, patient=patient, clinician=clinician, starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=30), areas=list(areas), booked_by=clinician, booked_at=booked,
        updated_at=booked,
    )


@pytest.fixture
def walk_in(patient, clinician):
    """The Chloe case: glabella treated 120 days ago, a visit booked 10 days ago for five
    days ahead, then glabella treated again today (a walk-in), before the forecast caught up."""
    today = today_of(patient.clinic)
    signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    visit = booked_visit(patient, clinician, today + dt.timedelta(days=5))
    signed_treatment(patient, clinician, today, {"glabella": 20})
    return visit


def test_the_appointment_page_says_why_and_keeps_move_and_cancel(as_front_desk, patient, walk_in):
    today = today_of(patient.clinic)
    html = as_front_desk.get(reverse("appointment", args=[walk_in.public_id])).content.decode()
    assert "Too early for treatment." in html
    assert (f"Booked before the treatment on {day_text(today)}; glabella (frown lines) cannot be treated again "
            f"before {day_text(today + dt.timedelta(days=90))}. Cancel it or move it into the new window.") in html
    assert "Cancel appointment" in html and "Move here" in html
    # Move opens on the first day glabella may be treated again, not around the old visit.
    assert f'?from={(today + dt.timedelta(days=97)).isoformat()}' in html  # "Later →", a week on
    walk_in.refresh_from_db()
    assert walk_in.status == AppointmentStatus.BOOKED  # nothing is cancelled for anyone


def test_the_patient_page_names_the_stale_visit_with_the_way_to_it(as_front_desk, patient, walk_in):
    html = as_front_desk.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert "stale-visits" in html and "Too early: the visit on" in html
    assert reverse("appointment", args=[walk_in.public_id]) in html
    assert "Cancel it or move it into the new window." in html


def test_a_visit_booked_after_the_treatment_or_in_the_new_window_is_not_flagged(as_front_desk, patient, clinician):
    today = today_of(patient.clinic)
    signed_treatment(patient, clinician, today - dt.timedelta(days=3), {"glabella": 20})
    later = booked_visit(patient, clinician, today + dt.timedelta(days=100))  # in the new window
    html = as_front_desk.get(reverse("patient", args=[patient.public_id])).content.decode()
    assert "stale-visits" not in html
    assert "Too early" not in as_front_desk.get(reverse("appointment", args=[later.public_id])).content.decode()


def test_a_visit_for_another_area_too_is_partly_stale_and_says_what_it_is_still_for(as_front_desk, patient,
                                                                                       clinician):
    today = today_of(patient.clinic)
    signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20, "forehead": 10},
                     indication="upper_face_lines")
    visit = booked_visit(patient, clinician, today + dt.timedelta(days=5), areas=("forehead", "glabella"))
    signed_treatment(patient, clinician, today, {"glabella": 20})
    html = as_front_desk.get(reverse("appointment", args=[visit.public_id])).content.decode()
    assert "Partly too early." in html and "still of use for forehead only" in html
    day = as_front_desk.get(reverse("day") + f"?date={(today + dt.timedelta(days=5)).isoformat()}").content.decode()
    assert "glabella (frown lines) treated since booking" in day


def test_once_the_forecast_caught_up_its_earliest_day_is_the_one_given(as_front_desk, patient, walk_in):
    from touchup.maintenance.models import AreaForecast
    from touchup.maintenance.services.forecasts import recompute

    recompute(patient)
    row = AreaForecast.objects.get(patient=patient, area="glabella")
    assert row.treated_on == today_of(patient.clinic)
    AreaForecast.objects.filter(pk=row.pk).update(earliest_allowed=row.earliest_allowed + dt.timedelta(days=9))
    html = as_front_desk.get(reverse("appointment", args=[walk_in.public_id])).content.decode()
    assert f"before {day_text(row.earliest_allowed + dt.timedelta(days=9))}" in html


def test_the_day_view_marks_stale_visits_in_words_with_one_query_for_the_day(client, front_desk, clinic_a,
                                                                              clinician, patient):
    from touchup.clinic.services.patients import patient_create

    c = signed_in(client, front_desk)
    today = today_of(clinic_a)
    day = today + dt.timedelta(days=5)
    url = reverse("day") + f"?date={day.isoformat()}"

    def add(hh, *, treated_again):
        p = patient_create(actor=front_desk, clinic=clinic_a, given_name=f"P{hh}", family_name="Day",
                           birth_date=dt.date(1980, 1, 1), sex="female")
        signed_treatment(p, clinician, today - dt.timedelta(days=120), {"glabella": 20})
        booked_visit(p, clinician, day, hh=hh)
        if treated_again:
            signed_treatment(p, clinician, today, {"glabella": 20})

    add(9, treated_again=True)
    add(10, treated_again=False)
    with CaptureQueriesContext(connection) as one:
        html = c.get(url).content.decode()
    assert html.count("treated since booking") == 1
    for hh in (11, 12, 13, 14):
        add(hh, treated_again=hh % 2 == 1)
    with CaptureQueriesContext(connection) as six:
        html = c.get(url).content.decode()
    assert html.count("treated since booking") == 3
    assert len(six.captured_queries) == len(one.captured_queries)
    assert sum("injectionpoint" in q["sql"].lower() for q in six.captured_queries) == 1


def test_signing_the_chart_tells_the_clinician_and_cancels_nothing(as_clinician, draft, vial, clinician):
    from tests.web.test_chart import chart_state

    patient = draft.patient
    today = today_of(patient.clinic)
    signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    visit = booked_visit(patient, clinician, today + dt.timedelta(days=5))
    page = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), chart_state(draft, vial=str(vial.pk)),
                             follow=True).content.decode()
    draft.refresh_from_db()
    assert draft.status == "signed"
    assert (f"{patient.given_name} has a maintenance visit on "
            f"{(today + dt.timedelta(days=5)):%a} {(today + dt.timedelta(days=5)).day} "
            f"{(today + dt.timedelta(days=5)):%b} for this area: it is now too early. Cancel it?") in page
    assert reverse("appointment", args=[visit.public_id]) in page
    visit.refresh_from_db()
    assert visit.status == AppointmentStatus.BOOKED
    # Another signed chart of the patient (the earlier one) does not claim the visit.
    earlier = patient.treatments.exclude(pk=draft.pk).get()
    assert "has a maintenance visit" not in as_clinician.get(reverse("chart", args=[earlier.public_id])).content.decode()


def test_a_stale_visit_moved_into_the_new_window_serves_the_new_forecast(front_desk, patient, clinician, walk_in,
                                                                          weekday_hours):
    """Moved past the new earliest day, the visit is the new cycle's booking: the area
    leaves the Due worklist (its forecast row is linked), as for a visit booked there."""
    from touchup.maintenance.models import AreaForecast
    from touchup.maintenance.services import booking
    from touchup.maintenance.services.forecasts import recompute

    recompute(patient)  # the new cycle's forecast: no booking carried over from the old one
    row = AreaForecast.objects.get(patient=patient, area="glabella")
    assert row.appointment_id is None
    slot = booking.free_slots(patient.clinic, clinician, row.earliest_allowed,
                              row.earliest_allowed + dt.timedelta(days=14))[0]
    booking.move(actor=front_desk, appointment=walk_in, starts_at=slot.starts_at)
    row.refresh_from_db()
    assert row.appointment_id == walk_in.pk
    # Too early a time is still refused, and links nothing.
    row.appointment = None
    row.save(update_fields=["appointment"])
    with pytest.raises(Exception, match="earliest|before"):
        booking.move(actor=front_desk, appointment=walk_in,
                     starts_at=booking.free_slots(patient.clinic, clinician, today_of(patient.clinic) + dt.timedelta(days=2),
                                                  today_of(patient.clinic) + dt.timedelta(days=9))[0].starts_at)
    row.refresh_from_db()
    assert row.appointment_id is None
