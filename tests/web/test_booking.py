"""Booking pages: slots, booking, double booking, move, cancel, .ics export and the
clinician's calendar feed."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.utils import timezone

from tests.maintenance.conftest import area_forecast, next_weekday, signed_treatment
from touchup.clinic.models import AuditEvent
from touchup.interop import ical
from touchup.maintenance.models import Appointment, AreaForecast, WorkingHours

UTC = zoneinfo.ZoneInfo("UTC")


@pytest.fixture
def due(patient, clinician):
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(patient, t, "glabella", today - dt.timedelta(days=2))
    return patient


@pytest.fixture
def hours(clinic_a, clinician):
    from touchup.maintenance.services.booking import set_working_hours

    set_working_hours(actor=clinician, clinic=clinic_a, clinician=clinician,
                      blocks=[{"weekday": d, "start": "09:00", "end": "12:00", "slot_minutes": 30} for d in range(5)])


def slot(hh=9, mm=0):
    return dt.datetime.combine(next_weekday(timezone.localdate(), 0), dt.time(hh, mm), tzinfo=UTC)


def test_the_booking_page_offers_free_slots(as_front_desk, due, hours):
    r = as_front_desk.get(f"/patients/{due.public_id}/book/?from={slot().date()}")
    html = r.content.decode()
    assert r.status_code == 200
    assert slot().isoformat() in html
    assert "Glabella" in html


def test_changing_the_clinician_or_date_swaps_the_slots_with_their_earlier_later_links(
        as_front_desk, due, hours, clinician, clinic_a, django_user_model):
    from tests.conftest import _user

    nurse = _user(django_user_model, "nina", clinic_a, "clinician")
    monday = slot().date()
    r = as_front_desk.get(f"/patients/{due.public_id}/book/?clinician={nurse.pk}&from={monday}",
                          HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html
    # The links come with the slots, so they page through the clinician and week just chosen.
    later = monday + dt.timedelta(days=7)
    assert f"?clinician={nurse.pk}&amp;from={later}" in html and "Later" in html
    assert f"clinician={clinician.pk}&amp;" not in html


def test_front_desk_books_and_gets_the_appointment_page(as_front_desk, due, hours, clinician):
    r = as_front_desk.post(f"/patients/{due.public_id}/book/",
                           {"clinician": clinician.pk, "starts_at": slot(10).isoformat(), "areas": ["glabella"]})
    assert r.status_code == 302
    appt = Appointment.objects.get()
    assert r["Location"] == f"/appointments/{appt.public_id}/"
    assert appt.starts_at == slot(10) and AreaForecast.objects.get().appointment == appt
    page = as_front_desk.get(r["Location"])
    assert page.status_code == 200 and "Dana Example" in page.content.decode()
    day = slot(10)
    assert f"Booked {day:%a} {day.day} {day:%b} 10:00." in page.content.decode()  # "5 Jan", as the pages write it
    # Booked patients leave the worklist.
    assert "Dana Example" not in as_front_desk.get("/worklist/").content.decode()


def test_double_booking_is_409_and_writes_nothing(as_front_desk, due, hours, clinician, clinic_a, front_desk):
    from touchup.clinic.services.patients import patient_create

    other = patient_create(actor=front_desk, clinic=clinic_a, given_name="Eve", family_name="Other",
                           birth_date=dt.date(1990, 1, 1), sex="female")
    as_front_desk.post(f"/patients/{due.public_id}/book/", {"clinician": clinician.pk, "starts_at": slot(9).isoformat()})
    events = AuditEvent.objects.count()
    r = as_front_desk.post(f"/patients/{other.public_id}/book/",
                           {"clinician": clinician.pk, "starts_at": slot(9).isoformat()})
    assert r.status_code == 409 and "already booked" in r.content.decode()
    assert Appointment.objects.count() == 1
    assert AuditEvent.objects.filter(action="appointment.book").count() == 1
    assert AuditEvent.objects.count() == events + 1  # only the page's read of the patient


@pytest.mark.parametrize(("data", "field", "label"), [
    ({"starts_at": ""}, "starts_at", "Time"),
    ({"starts_at": "tomorrow"}, "starts_at", "Time"),
    ({"starts_at": "2020-01-06T09:00"}, "starts_at", "Time"),
    ({"clinician": "99999"}, "clinician", "Clinician"),
    ({"areas": ["elbow"]}, "areas[0]", "Areas"),
    ({"from": "someday"}, "from", "From"),
])
def test_bad_booking_input_is_400_naming_the_field(as_front_desk, due, hours, clinician, data, field, label):
    body = {"clinician": clinician.pk, "starts_at": slot(9).isoformat(), **data}
    r = as_front_desk.post(f"/patients/{due.public_id}/book/", body)
    assert r.status_code == 400
    html = r.content.decode()
    # The person reads the field's label; the field's own name stays on the box for scripts.
    assert f'data-error-field="{field}"' in html and f"<strong>{label}</strong>" in html
    assert f"<strong>{field}</strong>" not in html
    assert not Appointment.objects.exists()


def test_move_and_cancel_from_the_appointment_page(as_front_desk, due, hours, clinician):
    as_front_desk.post(f"/patients/{due.public_id}/book/", {"clinician": clinician.pk, "starts_at": slot(9).isoformat()})
    appt = Appointment.objects.get()
    r = as_front_desk.post(f"/appointments/{appt.public_id}/move/", {"starts_at": slot(11).isoformat()})
    assert r.status_code == 302
    appt.refresh_from_db()
    assert appt.starts_at == slot(11) and appt.sequence == 1
    # The confirmation says where it went, as "Booked …" does (the clinic's zone is UTC here).
    day = slot(11)
    page = as_front_desk.get(f"/appointments/{appt.public_id}/").content.decode()
    assert f"Moved to {day:%a} {day.day} {day:%b} 11:00." in page
    r = as_front_desk.post(f"/appointments/{appt.public_id}/move/", {"starts_at": "soon"})
    assert r.status_code == 400 and "<strong>Time</strong>" in r.content.decode()
    r = as_front_desk.post(f"/appointments/{appt.public_id}/cancel/")
    assert r.status_code == 302
    appt.refresh_from_db()
    assert appt.status == "cancelled"
    assert as_front_desk.post(f"/appointments/{appt.public_id}/cancel/").status_code == 409
    assert "Dana Example" in as_front_desk.get("/worklist/").content.decode()


def test_the_move_list_shows_the_appointments_own_slot_as_current_not_as_a_target(as_front_desk, due, hours,
                                                                                  clinician):
    as_front_desk.post(f"/patients/{due.public_id}/book/", {"clinician": clinician.pk, "starts_at": slot(9).isoformat()})
    appt = Appointment.objects.get()
    html = as_front_desk.get(f"/appointments/{appt.public_id}/?from={slot().date()}").content.decode()
    radios = re.findall(r'name="starts_at" value="([^"]+)"', html)
    assert slot(9).isoformat() not in radios and slot(9, 30).isoformat() in radios
    assert re.search(r'<span class="slot slot-current" aria-current="true">09:00 <span class="small">current</span>', html)
    # Posting the current time anyway (an old page, a script) is refused and changes nothing.
    moves = AuditEvent.objects.filter(action="appointment.move").count()
    r = as_front_desk.post(f"/appointments/{appt.public_id}/move/", {"starts_at": slot(9).isoformat()})
    assert r.status_code == 400 and "current time" in r.content.decode()
    appt.refresh_from_db()
    assert appt.starts_at == slot(9) and appt.sequence == 0
    assert AuditEvent.objects.filter(action="appointment.move").count() == moves
    # Only the appointment's own slot is held back: 09:00 on the next day is still offered.
    tuesday = slot(9) + dt.timedelta(days=1)
    assert tuesday.isoformat() in re.findall(r'name="starts_at" value="([^"]+)"', html)


def test_another_clinic_gets_404_for_appointments_and_booking(as_other_clinician, due, hours, clinician, front_desk,
                                                             django_capture_on_commit_callbacks):
    from touchup.maintenance.services.booking import book

    appt = book(actor=front_desk, patient=due, clinician=clinician, starts_at=slot(9))
    with django_capture_on_commit_callbacks(execute=True):
        for url, method in ((f"/appointments/{appt.public_id}/", "get"),
                            (f"/appointments/{appt.public_id}/calendar.ics", "get"),
                            (f"/appointments/{appt.public_id}/cancel/", "post"),
                            (f"/patients/{due.public_id}/book/", "get")):
            assert getattr(as_other_clinician, method)(url).status_code == 404, url
    appt.refresh_from_db()
    assert appt.is_booked
    assert AuditEvent.objects.filter(action="appointment.not_found", outcome="denied").count() == 3


def test_the_ics_file_parses_back_and_says_nothing_clinical(as_front_desk, due, hours, clinician):
    as_front_desk.post(f"/patients/{due.public_id}/book/", {"clinician": clinician.pk, "starts_at": slot(9).isoformat()})
    appt = Appointment.objects.get()
    r = as_front_desk.get(f"/appointments/{appt.public_id}/calendar.ics")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/calendar")
    [event] = ical.parse(r.content)
    assert event["uid"] == f"{appt.public_id}@touchup"
    assert event["starts_at"] == slot(9) and event["ends_at"] == slot(9, 30)
    assert event["summary"] == "Touchup visit: D.E." and event["status"] == "CONFIRMED"
    text = r.content.decode()
    for word in ("Dana", "Example", "glabella", "onabotulinum"):
        assert word not in text


def test_clinician_feed_by_token_for_calendar_programs(client, as_clinician, due, hours, clinician, front_desk):
    from touchup.maintenance.services.booking import book, cancel

    appt = book(actor=front_desk, patient=due, clinician=clinician, starts_at=slot(9))
    r = as_clinician.post("/schedule/feed/", {"clinician": clinician.pk, "action": "create"})
    assert r.status_code == 302  # a reload of the page that follows does not post again
    page = as_clinician.get(r["Location"]).content.decode()
    url = re.search(r'value="(http[^"]+/calendar/[^"]+\.ics)"', page).group(1)
    # Shown once: the address is not kept, so a second view no longer shows it.
    assert "/calendar/" not in as_clinician.get(r["Location"]).content.decode().split("<main", 1)[1]
    path = url.split("testserver", 1)[1]
    as_clinician.logout()
    feed = client.get(path)  # no session: calendar programs cannot sign in
    assert feed.status_code == 200 and feed["Content-Type"].startswith("text/calendar")
    events = ical.parse(feed.content)
    assert [e["uid"] for e in events] == [f"{appt.public_id}@touchup"]
    cancel(actor=front_desk, appointment=appt)
    [gone] = ical.parse(client.get(path).content)
    assert gone["status"] == "CANCELLED" and gone["sequence"] == 1
    assert AuditEvent.objects.filter(action="calendar.feed_read").count() == 2
    assert client.get(path.replace(".ics", "x.ics")).status_code == 404
    # Revoking kills the address.
    from touchup.maintenance.services.feeds import feed_revoke
    feed_revoke(actor=clinician, clinic=clinician.memberships.get().clinic, clinician=clinician)
    assert client.get(path).status_code == 404


def test_working_hours_form(as_clinician, clinician):
    data = {"clinician": clinician.pk, "start_0": "09:00", "end_0": "13:00", "slot_0": "20"}
    assert as_clinician.post("/schedule/hours/", data).status_code == 302
    [h] = WorkingHours.objects.all()
    assert (h.weekday, h.start, h.end, h.slot_minutes) == (0, dt.time(9), dt.time(13), 20)
    r = as_clinician.post("/schedule/hours/", {**data, "end_0": "08:00"})
    html = r.content.decode()
    assert r.status_code == 400 and 'data-error-field="end_0"' in html
    assert "<strong>Monday, to</strong>: must be after the start" in html
    assert WorkingHours.objects.get().end == dt.time(13)
    assert as_clinician.get("/schedule/").status_code == 200


def test_front_desk_cannot_set_a_clinicians_hours(as_front_desk, clinician):
    r = as_front_desk.post("/schedule/hours/", {"clinician": clinician.pk, "start_0": "09:00", "end_0": "13:00"})
    assert r.status_code == 403
    assert not WorkingHours.objects.exists()


def test_front_desk_reads_the_hours_as_text_not_greyed_out_inputs(as_front_desk, hours, clinician):
    html = as_front_desk.get(f"/schedule/?clinician={clinician.pk}").content.decode()
    assert 'type="time"' not in html and "disabled" not in html and "Save hours" not in html
    assert "<td>09:00</td><td>12:00</td><td>30</td>" in html  # Monday to Friday
    assert "Not working" in html  # the weekend
    assert "Only a manager, or" in html


def test_slots_are_the_clinics_wall_clock_times(as_front_desk, due, clinic_a, clinician):
    from touchup.maintenance.services.booking import set_working_hours

    clinic_a.time_zone = "Europe/Berlin"
    clinic_a.save()
    set_working_hours(actor=clinician, clinic=clinic_a, clinician=clinician,
                      blocks=[{"weekday": 0, "start": "09:00", "end": "09:30", "slot_minutes": 30}])
    monday = next_weekday(timezone.localdate(), 0)
    html = as_front_desk.get(f"/patients/{due.public_id}/book/?from={monday}").content.decode()
    berlin = dt.datetime.combine(monday, dt.time(9), tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    assert f'value="{berlin.isoformat()}"' in html and "> 09:00" in html
    r = as_front_desk.post(f"/patients/{due.public_id}/book/", {"clinician": clinician.pk, "starts_at": berlin.isoformat()})
    assert r.status_code == 302
    page = as_front_desk.get(r["Location"]).content.decode()
    assert "09:00–09:30" in page


def test_calendar_links_follow_the_configured_public_url(monkeypatch, as_front_desk, as_clinician, due, hours,
                                                         clinician):
    """Behind a TLS proxy the request arrives at 127.0.0.1; a calendar entry opened later on
    a phone must point at the clinic's public address instead (it once read a setting that
    does not exist and always used the request's host)."""
    monkeypatch.setenv("TOUCHUP_PUBLIC_URL", "https://touchup.example.org/")
    as_front_desk.post(f"/patients/{due.public_id}/book/", {"clinician": clinician.pk, "starts_at": slot(9).isoformat()})
    appt = Appointment.objects.get()
    [event] = ical.parse(as_front_desk.get(f"/appointments/{appt.public_id}/calendar.ics").content)
    assert event["url"] == f"https://touchup.example.org/appointments/{appt.public_id}/"
    r = as_clinician.post("/schedule/feed/", {"clinician": clinician.pk, "action": "create"})
    page = as_clinician.get(r["Location"]).content.decode()
    assert re.search(r'value="https://touchup\.example\.org/calendar/[^"]+\.ics"', page)


def test_no_earlier_link_into_the_past_and_the_empty_week_names_its_last_day(as_front_desk, due, clinician):
    """From today, "← Earlier" led to a week of past days ("No free slot"); an empty week
    named the day after it as its last ("Thu 19 Nov – Thu 26 Nov" for seven days from the
    19th, while the 26th had free slots)."""
    today = timezone.localdate()
    html = as_front_desk.get(f"/patients/{due.public_id}/book/?from={today}").content.decode()
    assert "Later →" in html and "← Earlier" not in html
    # No working hours: nothing free, and the message spans the seven days shown.
    last = today + dt.timedelta(days=6)
    assert f"No free slot {today:%a} {today.day} {today:%b} – {last:%a} {last.day} {last:%b}" in html

    # Ten days ahead, Earlier goes back a week but not before today.
    ahead = today + dt.timedelta(days=10)
    html = as_front_desk.get(f"/patients/{due.public_id}/book/?from={ahead}").content.decode()
    assert f"from={today + dt.timedelta(days=3)}\">← Earlier" in html
    ahead = today + dt.timedelta(days=3)
    html = as_front_desk.get(f"/patients/{due.public_id}/book/?from={ahead}").content.decode()
    assert f"from={today}\">← Earlier" in html
