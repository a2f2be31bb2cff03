"""The "due for maintenance" worklist page."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.maintenance.conftest import area_forecast, signed_treatment
from touchup.clinic.models import AuditEvent
from touchup.maintenance.models import AreaForecast


def make_patient(actor, clinic, given, family, **extra):
    from touchup.clinic.services.patients import patient_create

    return patient_create(actor=actor, clinic=clinic, given_name=given, family_name=family,
                          birth_date=dt.date(1985, 5, 5), sex="female", **extra)


@pytest.fixture
def due(patient, clinician, clinic_a):
    """Dana's glabella window is open; Fay's opens in two months; Gus is booked."""
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(patient, t, "glabella", today - dt.timedelta(days=2))
    fay = make_patient(clinician, clinic_a, "Fay", "Later")
    t2 = signed_treatment(fay, clinician, today - dt.timedelta(days=20), {"glabella": 20})
    area_forecast(fay, t2, "glabella", today + dt.timedelta(days=60))
    return patient


def test_front_desk_sees_who_is_due(as_front_desk, due):
    r = as_front_desk.get("/worklist/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Dana Example" in html and "Fay Later" not in html
    assert f"/patients/{due.public_id}/book/" in html
    assert "Open until" in html
    assert AuditEvent.objects.filter(action="worklist.view", outcome="ok").count() == 1


def test_other_clinics_patients_never_show(as_other_clinician, due):
    r = as_other_clinician.get("/worklist/")
    assert r.status_code == 200
    assert "Dana Example" not in r.content.decode()


def test_filters_and_their_errors(as_front_desk, due, clinician, other_clinician):
    assert "Dana Example" in as_front_desk.get("/worklist/?area=glabella").content.decode()
    assert "Dana Example" not in as_front_desk.get("/worklist/?area=forehead").content.decode()
    assert "Dana Example" in as_front_desk.get(f"/worklist/?clinician={clinician.pk}").content.decode()
    for query, field in (("area=elbow", "area"), (f"clinician={other_clinician.pk}", "clinician"),
                         ("contact=maybe", "contact"), ("show=all", "show"), ("page=x", "page")):
        r = as_front_desk.get(f"/worklist/?{query}")
        assert r.status_code == 400, query
        html = r.content.decode()
        assert f'data-error-field="{field}">{field.capitalize()}:' in html, query  # its label, not its name


def test_htmx_filtering_returns_only_the_results(as_front_desk, due):
    r = as_front_desk.get("/worklist/?area=glabella", HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and "Dana Example" in html and "<html" not in html


def test_mark_not_reachable(as_front_desk, due):
    r = as_front_desk.post(f"/worklist/{due.public_id}/contact/", {"area": "glabella", "status": "not_reachable"},
                           HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "Not reachable" in r.content.decode()
    assert AreaForecast.objects.get(patient=due).contact_status == "not_reachable"
    assert "Not reachable" in as_front_desk.get("/worklist/?contact=not_reachable").content.decode()
    bad = as_front_desk.post(f"/worklist/{due.public_id}/contact/", {"area": "glabella", "status": "gone"})
    assert bad.status_code == 400 and b"status" in bad.content


def test_a_contact_note_without_javascript_returns_to_the_filtered_page(as_front_desk, due, clinician):
    page = as_front_desk.get(f"/worklist/?area=glabella&clinician={clinician.pk}&contact=&show=open")
    here = f"/worklist/?area=glabella&amp;clinician={clinician.pk}&amp;show=open"
    assert f'name="next" value="{here}"' in page.content.decode()
    r = as_front_desk.post(f"/worklist/{due.public_id}/contact/",
                           {"area": "glabella", "status": "declined", "next": here.replace("&amp;", "&")})
    assert r.status_code == 302 and r["Location"] == here.replace("&amp;", "&")
    assert AreaForecast.objects.get(patient=due).contact_status == "declined"


@pytest.mark.parametrize("next_url", [
    "https://evil.example/worklist/?area=glabella", "//evil.example/worklist/", "/\\evil.example/worklist/",
    "/worklist/../admin/", "/patients/", "/worklist/?area=nonsense", "/worklist/?clinician=999999",
    "javascript:alert(1)", "",
])
def test_a_contact_notes_next_is_never_followed_off_the_worklist(as_front_desk, due, next_url):
    r = as_front_desk.post(f"/worklist/{due.public_id}/contact/",
                           {"area": "glabella", "status": "not_reachable", "next": next_url})
    assert r.status_code == 302 and r["Location"] == "/worklist/"


def test_a_contact_notes_next_is_rebuilt_from_its_filters(as_front_desk, due):
    r = as_front_desk.post(f"/worklist/{due.public_id}/contact/", {
        "area": "glabella", "status": "not_reachable",
        "next": "/worklist/?show=booked&page=2&extra=%3Cscript%3E&contact=declined"})
    assert r["Location"] == "/worklist/?contact=declined&show=booked&page=2"


def test_another_clinics_patient_is_404_and_audited(as_other_clinician, due, django_capture_on_commit_callbacks):
    # The denied event is written after the failing request's transaction (on commit).
    with django_capture_on_commit_callbacks(execute=True):
        r = as_other_clinician.post(f"/worklist/{due.public_id}/contact/",
                                    {"area": "glabella", "status": "not_reachable"})
    assert r.status_code == 404
    assert AreaForecast.objects.get(patient=due).contact_status == ""
    assert AuditEvent.objects.filter(action="patient.not_found", outcome="denied").exists()


def test_signed_out_visitors_go_to_the_login(client, due):
    r = client.get("/worklist/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]


@pytest.fixture
def due_twice(due, clinician):
    """Dana's forehead, treated the same day, opens a week after her glabella."""
    t = due.treatments.get()
    area_forecast(due, t, "forehead", timezone.localdate() + dt.timedelta(days=5))
    return due


def test_a_patient_due_in_two_areas_is_one_line_with_both(as_front_desk, due_twice):
    html = as_front_desk.get("/worklist/").content.decode()
    assert html.count(f"/patients/{due_twice.public_id}/book/") == 1  # one Book: it covers both areas
    line = html[html.index("Dana Example"):html.index("</tr>", html.index("Dana Example"))]
    assert "Glabella" in line and "Forehead" in line and "Open until" in line and "Opens" in line
    assert "2 areas due" in html  # the count stays per area


def test_not_reachable_notes_every_area_on_the_line_at_once(as_front_desk, due_twice):
    r = as_front_desk.post(f"/worklist/{due_twice.public_id}/contact/",
                           {"area": ["glabella", "forehead"], "status": "not_reachable"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    assert set(AreaForecast.objects.filter(patient=due_twice).values_list("contact_status", flat=True)) == {
        "not_reachable"}
    event = AuditEvent.objects.filter(action="worklist.contact").latest("at")
    assert event.detail["area"] == ["glabella", "forehead"]


def test_an_area_without_a_forecast_changes_nothing(as_front_desk, due_twice):
    r = as_front_desk.post(f"/worklist/{due_twice.public_id}/contact/",
                           {"area": ["glabella", "platysma"], "status": "not_reachable"})
    assert r.status_code == 400 and b"area[1]:" in r.content
    assert set(AreaForecast.objects.filter(patient=due_twice).values_list("contact_status", flat=True)) == {""}
    assert as_front_desk.post(f"/worklist/{due_twice.public_id}/contact/", {"status": "reminded"}).status_code == 400


def test_portal_call_requests_reach_the_front_desk_on_the_due_page(as_front_desk, due, front_desk):
    """The front desk makes the calls, but the requests were only on "From patients", which
    the front desk cannot open: they are on its Due page, with Book and Done."""
    from django.contrib.auth import get_user_model

    from touchup.portal.models import BookingRequest
    from touchup.portal.services.booking_requests import booking_request_create

    assert "Asked to be called" not in as_front_desk.get("/worklist/").content.decode()
    assert not AuditEvent.objects.filter(action="portal.worklist.view").exists()  # nothing listed, nothing read

    user = get_user_model().objects.create_user(username="dana", password="x-long-password-1")
    due.user = user
    due.save()
    req = booking_request_create(actor=user, patient=due, areas=["glabella"], preferred="weekday mornings")
    html = as_front_desk.get("/worklist/").content.decode()
    assert "Asked to be called to book (1)" in html and "weekday mornings" in html
    assert f'action="/from-patients/booking-requests/{req.public_id}/done/"' in html
    assert AuditEvent.objects.filter(action="portal.worklist.view", actor=front_desk).count() == 1
    # Filtering (htmx) swaps only the results: no second read of the requests.
    as_front_desk.get("/worklist/?area=glabella", HTTP_HX_REQUEST="true")
    assert AuditEvent.objects.filter(action="portal.worklist.view").count() == 1

    r = as_front_desk.post(f"/from-patients/booking-requests/{req.public_id}/done/", {"back": "worklist"})
    assert r.status_code == 302 and r["Location"] == "/worklist/"
    req.refresh_from_db()
    assert req.handled_by == front_desk
    assert "Asked to be called" not in as_front_desk.get("/worklist/").content.decode()
    assert BookingRequest.objects.filter(handled_at__isnull=True).count() == 0


def test_window_labels_write_dates_as_the_page_does():
    """"1 Oct" beside "22 Sep – 1 Oct 2026", not "01 Oct"."""
    from touchup.maintenance.services.worklist import _state

    wed = dt.date(2026, 9, 30)
    assert _state(dt.date(2026, 9, 1), dt.date(2026, 9, 5), wed) == ("overdue", "Overdue since 5 Sep")
    assert _state(dt.date(2026, 9, 20), dt.date(2026, 10, 3), wed) == ("open", "Open until 3 Oct")
    assert _state(dt.date(2026, 10, 2), dt.date(2026, 10, 9), wed) == ("this_week", "Opens Fri 2 Oct")
    assert _state(dt.date(2026, 10, 6), dt.date(2026, 10, 9), wed) == ("next_week", "Opens Tue 6 Oct")
