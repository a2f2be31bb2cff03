"""The front desk's day view: every clinician's appointments on one clinic date, grouped
by clinician, with links, previous/next day, the clinic's own today, and an audited read."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.utils import timezone

from tests.conftest import _user
from touchup.clinic.models import AuditEvent, Membership
from touchup.maintenance.models import Appointment, AppointmentStatus, WorkingHours
from touchup.maintenance.services import day as day_svc
from touchup.maintenance.templatetags.maintenance import area_name

NY = zoneinfo.ZoneInfo("America/New_York")


def visit(patient, clinician, starts_at, *, minutes=30, areas=("glabella",), status=AppointmentStatus.BOOKED):
    """A stored appointment at a clinic-local time (the booking rules have their own tests)."""
    now = timezone.now()
    return Appointment.objects.create(
        clinic=patient.clinic, patient=patient, clinician=clinician, starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(minutes=minutes), areas=list(areas), status=status,
        booked_by=clinician, booked_at=now, updated_at=now,
    )


@pytest.fixture
def clinic_ny(clinic_a):
    clinic_a.time_zone = "America/New_York"
    clinic_a.save()
    return clinic_a


@pytest.fixture
def nina(django_user_model, clinic_ny):
    user = _user(django_user_model, "nina", clinic_ny, "clinician")
    user.first_name, user.last_name = "Nina", "Ng"
    user.save()
    return user


@pytest.fixture
def erin(clinic_ny, front_desk):
    from touchup.clinic.services.patients import patient_create

    return patient_create(actor=front_desk, clinic=clinic_ny, given_name="Erin", family_name="Other",
                          birth_date=dt.date(1979, 5, 6), sex="female")


@pytest.fixture
def day():
    """A fixed Wednesday (no DST change near it), for pages asked for by ?date=."""
    return dt.date(2026, 6, 10)


def local(d, hh, mm=0):
    return dt.datetime.combine(d, dt.time(hh, mm), tzinfo=NY)


def columns(html):
    """{clinician heading: the column's text} in page order."""
    found = re.findall(r'<section class="card day-clinician"[^>]*>\s*<h2 id="[^"]+">([^<]+)</h2>(.*?)</section>',
                       html, re.S)
    return {name: body for name, body in found}


def test_every_clinicians_day_side_by_side_with_links(as_front_desk, clinic_ny, clinician, nina, patient, erin, day,
                                                      clinic_b, other_clinician):
    from touchup.clinic.services.patients import patient_create

    a1 = visit(patient, clinician, local(day, 9), areas=("glabella", "forehead"))
    a2 = visit(erin, nina, local(day, 10, 30))
    late = visit(erin, clinician, local(day, 23, 30))  # 03:30 UTC the next day: still this clinic day
    visit(patient, nina, local(day, 11), status=AppointmentStatus.CANCELLED)
    visit(patient, clinician, local(day + dt.timedelta(days=1), 0, 30))  # just after midnight: tomorrow
    elsewhere = patient_create(actor=other_clinician, clinic=clinic_b, given_name="Zed", family_name="Beta",
                               birth_date=dt.date(1990, 1, 1), sex="male")
    visit(elsewhere, other_clinician, local(day, 9))

    r = as_front_desk.get(f"/day/?date={day}")
    html = r.content.decode()
    assert r.status_code == 200
    assert "Wednesday 10 June 2026" in html and "3 in all" in html
    cols = columns(html)
    assert list(cols) == ["alice", "Nina Ng"]  # by name, as everywhere clinicians are listed
    alice, nina_col = cols["alice"], cols["Nina Ng"]
    # Each visit: the time (to the appointment, which leads back to this day), the patient (to the record), the areas.
    assert f'href="/appointments/{a1.public_id}/?day={day}">09:00–09:30</a>' in alice
    assert f'href="/patients/{patient.public_id}/">Dana Example</a>' in alice
    assert f"{area_name('glabella')}, {area_name('forehead')}" in alice
    assert f'href="/appointments/{late.public_id}/?day={day}">23:30–00:00</a>' in alice
    assert alice.index("09:00") < alice.index("23:30")
    assert f'href="/appointments/{a2.public_id}/?day={day}">10:30–11:00</a>' in nina_col and "Erin Other" in nina_col
    assert "11:00–11:30" not in nina_col  # cancelled
    assert "00:30" not in alice  # the next clinic day
    assert "Zed" not in html  # another clinic's
    # Reachable from the main navigation, marked as the current page.
    assert '<a href="/day/" aria-current="page">Day</a>' in html


def test_previous_and_next_day_and_the_clinics_today(as_front_desk, clinic_ny, clinician, patient, day):
    visit(patient, clinician, local(day + dt.timedelta(days=1), 14))
    html = as_front_desk.get(f"/day/?date={day}").content.decode()
    assert 'href="?date=2026-06-09" rel="prev"' in html and 'href="?date=2026-06-11" rel="next"' in html
    assert 'href="/day/">Today</a>' in html  # a day that is not today offers the way back
    nxt = as_front_desk.get("/day/?date=2026-06-11").content.decode()
    assert "14:00–14:30" in nxt and "Thursday 11 June 2026" in nxt
    empty = as_front_desk.get("/day/?date=2026-06-12").content.decode()
    assert "booked appointments: none this day." in empty and "0 in all" not in empty

    # No date: today where the clinic is, which is not always the server's date.
    today = day_svc.clinic_today(clinic_ny)
    assert today == timezone.localtime(timezone.now(), NY).date()
    visit(patient, clinician, local(today, 23, 45))
    page = as_front_desk.get("/day/").content.decode()
    assert f"{today:%A} {today.day} {today:%B %Y} (today)" in page and "23:45" in page
    assert 'href="/day/">Today</a>' not in page


def test_the_clinics_today_follows_its_time_zone_not_the_servers(clinic_a):
    clinic_a.time_zone = "Pacific/Kiritimati"  # UTC+14
    at = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert day_svc.clinic_today(clinic_a, at) == dt.date(2026, 3, 2)
    clinic_a.time_zone = "Pacific/Pago_Pago"  # UTC-11
    assert day_svc.clinic_today(clinic_a, dt.datetime(2026, 3, 1, 5, 0, tzinfo=dt.UTC)) == dt.date(2026, 2, 28)


def test_empty_days_say_why_and_a_clinician_who_left_still_shows_their_visits(as_front_desk, clinic_ny, clinician,
                                                                              nina, patient, day, django_user_model):
    WorkingHours.objects.create(clinic=clinic_ny, clinician=nina, weekday=day.weekday(), start=dt.time(9),
                                end=dt.time(12), slot_minutes=30)
    gone = _user(django_user_model, "olga", clinic_ny, "clinician")
    a = visit(patient, gone, local(day, 15))
    Membership.objects.filter(user=gone).update(active=False)
    cols = columns(as_front_desk.get(f"/day/?date={day}").content.decode())
    assert "Not working this day" in cols["alice"]
    assert "No appointments booked" in cols["Nina Ng"]
    assert f'/appointments/{a.public_id}/' in cols["olga"] and "No longer a clinician here" in cols["olga"]


def test_the_read_is_audited_once_with_the_date_and_count(as_front_desk, clinic_ny, clinician, patient, day,
                                                          front_desk):
    visit(patient, clinician, local(day, 9))
    before = AuditEvent.objects.filter(action="appointment.day_view").count()
    as_front_desk.get(f"/day/?date={day}")
    events = AuditEvent.objects.filter(action="appointment.day_view").order_by("-pk")
    assert events.count() == before + 1
    e = events.first()
    assert e.actor_id == front_desk.pk and e.clinic_id_ref == clinic_ny.pk
    assert e.detail == {"date": "2026-06-10", "appointments": 1}


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01", "1999-01-01", "2999-01-01"])
def test_a_bad_date_is_400_naming_the_field_and_reads_nothing(as_front_desk, clinic_ny, value):
    r = as_front_desk.get("/day/", {"date": value})
    html = r.content.decode()
    assert r.status_code == 400
    assert 'data-error-field="date"' in html and "<strong>Date</strong>" in html
    assert not AuditEvent.objects.filter(action="appointment.day_view").exists()


@pytest.mark.parametrize("persona", ["front_desk", "clinician", "manager"])
def test_every_staff_role_that_sees_patients_opens_it(client, request, persona, clinic_ny, patient, clinician, day):
    from tests.web.conftest import signed_in

    visit(patient, clinician, local(day, 9))
    c = signed_in(client, request.getfixturevalue(persona))
    r = c.get(f"/day/?date={day}")
    assert r.status_code == 200 and "Dana Example" in r.content.decode()
    assert 'href="/day/"' in c.get("/worklist/").content.decode()


def test_another_clinic_and_patients_see_none_of_it(client, as_other_clinician, clinic_ny, patient, clinician, day):
    visit(patient, clinician, local(day, 9))
    html = as_other_clinician.get(f"/day/?date={day}").content.decode()
    assert "Dana Example" not in html and "alice" not in html


def test_a_patient_account_is_refused(clinic_ny, patient, front_desk, clinician, day):
    from django.test import Client

    from tests.conftest import PASSWORD
    from tests.portal.conftest import join
    from touchup.clinic.services.patients import patient_update

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    join(patient, front_desk, "dana")
    c = Client()
    assert c.login(username="dana", password=PASSWORD)
    assert c.get(f"/day/?date={day}").status_code == 403


def query_plan(sql):
    """The plan the test database gives `sql`, as one string (PostgreSQL with sequential
    scans off: on a few rows a scan is cheapest, and the test is about which index serves)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
        return " ".join(str(cell) for row in cursor.fetchall() for cell in row)


def test_the_days_query_reads_the_clinic_and_start_time_index(clinic_ny, front_desk, clinician, patient, day):
    """Without the (clinic, starts_at) index the day view scans every appointment the
    clinic ever had. The query the view really runs is explained on this database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    visit(patient, clinician, local(day, 9))
    with CaptureQueriesContext(connection) as ran:
        day_svc.day_appointments(front_desk, day)
    sql = next(q["sql"] for q in ran.captured_queries
               if 'FROM "maintenance_appointment"' in q["sql"] and '"starts_at" >=' in q["sql"])
    plan = query_plan(sql)
    assert "appointment_clinic_starts" in plan, plan


def test_lookups_by_clinic_alone_read_the_clinic_and_start_time_index(clinic_ny, clinician, patient, day):
    """The clinic foreign key has no index of its own (migration maintenance 0010): the
    composite index leads with clinic_id and serves what that index did, such as the query
    Django runs before deleting a clinic (PROTECT). A single-column index on clinic_id
    would be redundant; without the composite one these lookups would scan the table."""
    from django.db import connection
    from django.db.models import ProtectedError
    from django.test.utils import CaptureQueriesContext

    visit(patient, clinician, local(day, 9))
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, Appointment._meta.db_table)
    on_clinic_alone = [n for n, c in indexes.items() if c["index"] and c["columns"] == ["clinic_id"]]
    assert on_clinic_alone == []
    with CaptureQueriesContext(connection) as ran, pytest.raises(ProtectedError):
        clinic_ny.delete()
    sql = next(q["sql"] for q in ran.captured_queries
               if 'FROM "maintenance_appointment"' in q["sql"] and '"clinic_id" IN' in q["sql"])
    plan = query_plan(sql)
    assert "appointment_clinic_starts" in plan, plan


@pytest.mark.parametrize("column", ["patient_id", "clinician_id"])
def test_lookups_by_patient_or_clinician_alone_read_their_start_time_index(clinic_ny, clinician, patient, day,
                                                                           column):
    """As for the clinic (migration maintenance 0014): (patient, starts_at) and (clinician,
    starts_at) lead with the foreign key and serve the PROTECT check when the patient or
    the clinician's account is deleted; a single-column index would only slow writes."""
    from django.db import connection
    from django.db.models import ProtectedError
    from django.test.utils import CaptureQueriesContext

    visit(patient, clinician, local(day, 9))
    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, Appointment._meta.db_table)
    assert [n for n, c in indexes.items() if c["index"] and c["columns"] == [column]] == []
    leading = {n for n, c in indexes.items() if c["index"] and c["columns"][:1] == [column] and len(c["columns"]) > 1}
    assert leading
    with CaptureQueriesContext(connection) as ran, pytest.raises(ProtectedError):
        (patient if column == "patient_id" else clinician).delete()
    sql = next(q["sql"] for q in ran.captured_queries
               if 'FROM "maintenance_appointment"' in q["sql"] and f'"{column}" IN' in q["sql"])
    plan = query_plan(sql)
    assert any(name in plan for name in leading), plan


# --- An appointment opened from the day ------------------------------------------------


def crumbs(html):
    return re.search(r'<nav class="crumbs" aria-label="Breadcrumb">(.*?)</nav>', html, re.S).group(1)


def test_an_appointment_opened_from_the_day_leads_back_to_that_day(as_front_desk, clinic_ny, clinician, patient, day):
    a = visit(patient, clinician, local(day, 9))
    html = as_front_desk.get(f"/day/?date={day}").content.decode()
    link = re.search(rf'href="(/appointments/{a.public_id}/[^"]*)">09:00', html).group(1)
    page = as_front_desk.get(link).content.decode()
    assert crumbs(page).startswith('<a href="/day/?date=2026-06-10">Day: Wed 10 Jun</a> › ')
    assert "Due for maintenance" not in crumbs(page)
    assert '<a href="/day/" aria-current="page">Day</a>' in page
    # Opened from anywhere else (the patient's record, the worklist): the worklist, as before.
    plain = as_front_desk.get(f"/appointments/{a.public_id}/").content.decode()
    assert crumbs(plain).startswith('<a href="/worklist/">Due for maintenance</a> › ')


@pytest.mark.parametrize("value", ["https://evil.example/", "//evil.example", "2026-13-01", "9999-01-01",
                                   "javascript:alert(1)", "2026-06-10\"><script>"])
def test_anything_but_a_date_in_the_days_range_is_ignored(as_front_desk, clinic_ny, clinician, patient, day, value):
    """Only a date is read: the link back is built from it, never taken from the request."""
    a = visit(patient, clinician, local(day, 9))
    r = as_front_desk.get(f"/appointments/{a.public_id}/", {"day": value})
    html = r.content.decode()
    assert r.status_code == 200
    assert crumbs(html).startswith('<a href="/worklist/">Due for maintenance</a> › ')
    assert "evil.example" not in html and "javascript:" not in html and "<script>" not in html


def test_paging_and_cancelling_keep_the_way_back_to_the_day(as_front_desk, clinic_ny, clinician, patient):
    soon = day_svc.clinic_today(clinic_ny) + dt.timedelta(days=7)
    a = visit(patient, clinician, local(soon, 9))
    page = as_front_desk.get(f"/appointments/{a.public_id}/", {"day": soon.isoformat()}).content.decode()
    assert f"&amp;day={soon.isoformat()}\">Later →</a>" in page
    assert f'<input type="hidden" name="day" value="{soon.isoformat()}">' in page
    r = as_front_desk.post(f"/appointments/{a.public_id}/cancel/", {"day": soon.isoformat()})
    assert r.status_code == 302 and r["Location"] == f"/appointments/{a.public_id}/?day={soon.isoformat()}"
    b = visit(patient, clinician, local(soon, 10))
    r = as_front_desk.post(f"/appointments/{b.public_id}/cancel/", {"day": "https://evil.example/"})
    assert r.status_code == 302 and r["Location"] == f"/appointments/{b.public_id}/"
