"""Booking from the portal through touchup.maintenance: slots in the window, the
calendar invite, move and cancel with the 24-hour rule, and a request to be called."""

import datetime as dt
import html
import re

import pytest
from django.core import mail
from django.utils import timezone

from tests.maintenance.conftest import weekday_hours  # noqa: F401 - fixture
from tests.portal.conftest import area_forecast, next_weekday
from touchup.interop.ical import parse
from touchup.maintenance.models import Appointment
from touchup.portal.models import BookingRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def window(dana, clinician, weekday_hours):
    """Dana's glabella was treated 100 days ago; her window opens next Monday for 14 days."""
    from tests.portal.conftest import signed_treatment

    t = signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=100), {"glabella": 20})
    monday = next_weekday(timezone.localdate(), 0)
    return area_forecast(dana, t, "glabella", monday, days=14,
                         earliest_allowed=t.treated_on + dt.timedelta(days=90))


def slot_value(clinician, day, hhmm="09:30"):
    from touchup.maintenance.services.booking import clinic_zone

    zone = clinic_zone(clinician.memberships.first().clinic)
    h, m = map(int, hhmm.split(":"))
    return f"{clinician.pk}|{dt.datetime.combine(day, dt.time(h, m), tzinfo=zone).isoformat()}"


def test_book_a_free_slot_in_the_window_and_get_the_invite(as_dana, dana, window, clinician):
    page = as_dana.get("/portal/book/").content.decode()
    assert "Choose a time" in page and "09:00" in page
    mail.outbox.clear()
    r = as_dana.post("/portal/book/", {"slot": slot_value(clinician, window.book_from)})
    assert r.status_code == 302
    a = Appointment.objects.get(patient=dana)
    assert a.is_booked and a.areas == ["glabella"] and a.booked_by == dana.user
    assert r["Location"] == f"/portal/visits/{a.public_id}/"
    invite = mail.outbox[-1]
    assert invite.to == [dana.email] and invite.attachments[0][0] == "visit.ics"
    events = parse(invite.attachments[0][1].encode() if isinstance(invite.attachments[0][1], str)
                   else invite.attachments[0][1])
    assert events[0]["starts_at"] == a.starts_at and "Dana" not in events[0]["summary"]
    ics = as_dana.get(f"/portal/visits/{a.public_id}/calendar.ics")
    assert ics["Content-Type"].startswith("text/calendar") and parse(ics.content)[0]["uid"] == f"{a.public_id}@touchup"


def test_once_booked_the_pages_point_to_the_visit_not_to_booking(as_dana, dana, window, clinician):
    results = as_dana.get("/portal/results/").content.decode()
    assert "Book my next visit" in results
    as_dana.post("/portal/book/", {"slot": slot_value(clinician, window.book_from)})
    a = Appointment.objects.get(patient=dana)
    results = as_dana.get("/portal/results/").content.decode()
    assert "Book my next visit" not in results
    assert f'href="/portal/visits/{a.public_id}/"' in results and "Your next visit:" in results
    book = as_dana.get("/portal/book/").content.decode()
    assert "<h1>Your next visit</h1>" in book and f"/portal/visits/{a.public_id}/" in book
    assert "Ask the clinic to call me" not in book  # nothing left to book; the visit page moves or cancels


def test_past_the_clinics_limit_or_taken_slot_is_refused_with_nothing_booked(as_dana, dana, window, clinician,
                                                                                 erin):
    too_late = next_weekday(window.book_by + dt.timedelta(days=28), 0)
    r = as_dana.post("/portal/book/", {"slot": slot_value(clinician, too_late)})
    assert r.status_code == 400 and "the latest you can book online" in r.content.decode()
    assert not Appointment.objects.exists()

    from touchup.maintenance.services.booking import book

    taken = slot_value(clinician, window.book_from, "10:00").split("|")[1]
    book(actor=clinician, patient=erin, clinician=clinician, starts_at=taken, areas=[])
    r = as_dana.post("/portal/book/", {"slot": slot_value(clinician, window.book_from, "10:00")})
    assert r.status_code == 400 and "already booked" in r.content.decode()
    assert not Appointment.objects.filter(patient=dana).exists()
    r = as_dana.post("/portal/book/", {"slot": "garbage"})
    assert r.status_code == 400 and "Nothing was booked" in r.content.decode()


def test_move_and_cancel(as_dana, dana, window, clinician):
    as_dana.post("/portal/book/", {"slot": slot_value(clinician, window.book_from)})
    a = Appointment.objects.get(patient=dana)
    page = as_dana.get(f"/portal/visits/{a.public_id}/").content.decode()
    assert "Move" in page
    # Cancelling takes a second, deliberate step (a <details>), not one tap.
    assert '<summary>Cancel this visit…</summary>' in page and "Yes, cancel this visit" in page
    r = as_dana.post(f"/portal/visits/{a.public_id}/move/", {"slot": slot_value(clinician, window.book_from, "11:00")})
    assert r.status_code == 302
    a.refresh_from_db()
    assert a.starts_at.astimezone(timezone.get_current_timezone()).hour == 11 or a.sequence == 1
    assert a.sequence == 1
    r = as_dana.post(f"/portal/visits/{a.public_id}/cancel/")
    assert r.status_code == 302
    a.refresh_from_db()
    assert not a.is_booked


def test_moving_asks_to_confirm_before_anything_changes_and_works_without_javascript(as_dana, dana, window,
                                                                                     clinician, erin):
    from touchup.clinic.models import AuditEvent
    from touchup.maintenance.services.booking import book

    monday = window.book_from
    as_dana.post("/portal/book/", {"slot": slot_value(clinician, monday)})
    a = Appointment.objects.get(patient=dana)
    move_url = f"/portal/visits/{a.public_id}/move/"
    page = as_dana.get(move_url).content.decode()
    assert "{#" not in page and "slot_method" not in page  # the template's own notes stay out of the page
    # The times are a GET form: tapping one asks, it does not move; the current time is no button.
    times = page[page.index('<form method="get" class="slots">'):]
    times = times[:times.index("</form>")]
    assert "csrfmiddlewaretoken" not in times  # a GET form: the token would land in the address
    assert f'value="{slot_value(clinician, monday, "11:00")}"' in page
    assert f'value="{slot_value(clinician, monday, "09:30")}"' not in page
    assert 'aria-current="true">09:30' in page and "your current time" in page

    mail.outbox.clear()
    moves = AuditEvent.objects.filter(action="appointment.move").count()
    reads = AuditEvent.objects.filter(action="portal.view", detail__page="appointment").count()
    new = slot_value(clinician, monday, "11:00")
    r = as_dana.get(move_url, {"slot": new})
    confirm = r.content.decode()
    assert r.status_code == 200
    when = monday.strftime("%A %-d %B")
    assert f"Move your visit from {when}, 09:30 to {when}, 11:00?" in confirm
    assert f'<input type="hidden" name="slot" value="{new}">' in confirm and ">Confirm</button>" in confirm
    assert f'href="/portal/visits/{a.public_id}/">Keep the old time</a>' in confirm
    a.refresh_from_db()
    assert a.sequence == 0 and a.starts_at.astimezone(timezone.get_current_timezone()).hour == 9
    assert AuditEvent.objects.filter(action="appointment.move").count() == moves and not mail.outbox
    # The page read is audited as every visit page is.
    assert AuditEvent.objects.filter(action="portal.view", detail__page="appointment").count() == reads + 1

    # A time that cannot be had is said on the times page, not confirmed.
    r = as_dana.get(move_url, {"slot": slot_value(clinician, monday, "09:30")})
    assert r.status_code == 400 and "current time" in r.content.decode()
    book(actor=clinician, patient=erin, clinician=clinician, starts_at=new.split("|")[1], areas=[])
    r = as_dana.get(move_url, {"slot": new})
    assert r.status_code == 400 and "no longer free" in r.content.decode() and "was not moved" in r.content.decode()
    # Someone else's visit stays 404 on the confirm step too.
    as_dana.force_login(erin.user)
    assert as_dana.get(move_url, {"slot": slot_value(clinician, monday, "10:00")}).status_code == 404
    as_dana.force_login(dana.user)

    # The confirm page's POST moves it, with the audit event and the updated invite.
    later = slot_value(clinician, monday, "10:30")
    r = as_dana.post(move_url, {"slot": later})
    assert r.status_code == 302 and r["Location"] == f"/portal/visits/{a.public_id}/"
    a.refresh_from_db()
    assert a.sequence == 1 and a.starts_at.isoformat() == dt.datetime.fromisoformat(later.split("|")[1]).isoformat()
    assert AuditEvent.objects.filter(action="appointment.move").count() == moves + 1
    assert mail.outbox and "moved" in mail.outbox[-1].subject
    # The confirmation names the new time and where the calendar change went (the email).
    page = as_dana.get(r["Location"]).content.decode()
    assert f"Your visit is moved to {when}, 10:30. We emailed you the updated calendar invite." in page


def test_no_online_changes_within_24_hours(as_dana, dana, clinician):
    now = timezone.now()
    a = Appointment.objects.create(clinic=dana.clinic, patient=dana, clinician=clinician,
                                   starts_at=now + dt.timedelta(hours=5), ends_at=now + dt.timedelta(hours=5, minutes=30),
                                   booked_by=clinician, booked_at=now, updated_at=now)
    page = as_dana.get(f"/portal/visits/{a.public_id}/").content.decode()
    assert "please call the clinic" in page
    as_dana.post(f"/portal/visits/{a.public_id}/cancel/")
    a.refresh_from_db()
    assert a.is_booked
    # Not even the confirm step: the patient is sent back to the visit, which says to call.
    r = as_dana.get(f"/portal/visits/{a.public_id}/move/", {"slot": slot_value(clinician, timezone.localdate())})
    assert r.status_code == 302 and r["Location"] == f"/portal/visits/{a.public_id}/"


def test_ask_to_be_called(as_dana, dana, window, clinician):
    r = as_dana.post("/portal/book/request/", {"preferred": "weekday mornings"}, follow=True)
    assert "the clinic will call you" in r.content.decode()
    req = BookingRequest.objects.get(patient=dana)
    assert req.areas == ["glabella"] and req.preferred == "weekday mornings"
    r = as_dana.post("/portal/book/request/", {"preferred": "x"}, follow=True)
    assert BookingRequest.objects.count() == 1 and "already asked" in r.content.decode()
    as_dana.force_login(clinician)
    assert "weekday mornings" in as_dana.get("/from-patients/").content.decode()
    as_dana.post(f"/from-patients/booking-requests/{req.public_id}/done/")
    req.refresh_from_db()
    assert req.handled_by == clinician


def test_results_show_the_forecast_in_words_and_a_chart(as_dana, dana, window, clinician):
    from touchup.clinic.models import Observation

    t = window.treatment
    Observation.objects.create(patient=dana, area="glabella", observed_on=t.treated_on, kind="fws_grade", value=3,
                               source="clinician")
    Observation.objects.create(patient=dana, area="glabella", observed_on=t.treated_on + dt.timedelta(days=14),
                               kind="fws_grade", value=1, source="clinician")
    body = as_dana.get("/portal/results/").content.decode()
    assert "<svg" in body and 'role="img"' in body
    assert "noticeably worn off around" in body and "The best time for your next visit" in body
    assert "3 before the treatment, 1 on" in body and "67% lower" in body


def test_times_are_the_clinics_local_times(as_dana, dana, window, clinician):
    clinic = dana.clinic
    clinic.time_zone = "America/New_York"
    clinic.save()
    page = as_dana.get("/portal/book/").content.decode()
    assert ">09:00<" in page and ">14:00<" not in page
    as_dana.post("/portal/book/", {"slot": slot_value(clinician, window.book_from)})
    a = Appointment.objects.get(patient=dana)
    assert "09:30" in as_dana.get(f"/portal/visits/{a.public_id}/").content.decode()


# --- later than the recommended window (core.booking; practice.toml's
# --- portal_booking_after_window_days, 28) and never before earliest_allowed

def _raises_on_slot(fn, **kw):
    from touchup.clinic.errors import InvalidInput

    with pytest.raises(InvalidInput) as exc:
        fn(**kw)
    assert exc.value.field == "slot"
    return exc.value.message


def test_service_books_a_time_after_the_window_within_the_clinics_limit(dana, window, clinician):
    from touchup.portal.services import booking

    later_day = next_weekday(window.book_by, 1)  # the Tuesday after the window's last day
    a = booking.book_visit(actor=dana.user, patient=dana, choice=slot_value(clinician, later_day))
    assert a.is_booked and a.areas == ["glabella"]
    assert a.starts_at.astimezone(timezone.get_current_timezone()).date() == later_day
    assert booking.window_for(dana) is None  # booked: nothing left to book


def test_service_refuses_beyond_the_limit_naming_the_last_day(dana, window, clinician):
    from touchup.portal.services import booking

    last = window.book_by + dt.timedelta(days=28)
    message = _raises_on_slot(booking.book_visit, actor=dana.user, patient=dana,
                              choice=slot_value(clinician, next_weekday(last, 0)))
    assert message == (f"is after {last.day} {last:%B %Y}, the latest you can book online (28 days after your "
                       "recommended window): please call the clinic, or ask us to call you")
    assert not Appointment.objects.exists()


def test_service_refuses_before_earliest_allowed_even_for_a_time_it_never_offered(dana, clinician, weekday_hours):
    """The label's minimum interval is enforced by the portal's service itself, with its own
    reason, not only by leaving the time off the page; moving is held to it too."""
    from tests.portal.conftest import signed_treatment
    from touchup.portal.services import booking

    monday = next_weekday(timezone.localdate(), 0)
    t = signed_treatment(dana, clinician, monday - dt.timedelta(days=83), {"glabella": 20})
    allowed = monday + dt.timedelta(days=7)
    area_forecast(dana, t, "glabella", allowed, days=14, earliest_allowed=allowed)
    message = _raises_on_slot(booking.book_visit, actor=dana.user, patient=dana, choice=slot_value(clinician, monday))
    assert message.startswith(f"is before {allowed.day} {allowed:%B %Y}, the earliest your treatment may be repeated")
    assert not Appointment.objects.exists()

    a = booking.book_visit(actor=dana.user, patient=dana, choice=slot_value(clinician, allowed))
    for fn in (booking.move_choice, booking.move_visit):
        kw = {"appointment": a, "choice": slot_value(clinician, monday + dt.timedelta(days=1))}
        if fn is booking.move_visit:
            kw["actor"] = dana.user
        assert "the earliest your treatment may be repeated" in _raises_on_slot(fn, **kw)
    a.refresh_from_db()
    assert a.sequence == 0


def test_book_page_offers_later_times_marked_as_later_without_javascript(as_dana, dana, window, clinician):
    page = as_dana.get("/portal/book/").content.decode()
    last = window.book_by + dt.timedelta(days=28)
    assert "Show later times, up to" in page and 'href="?later=1#later-h"' in page
    assert "Later than recommended" not in page  # on asking: the recommended times come first
    later_day = next_weekday(window.book_by, 1)
    assert slot_value(clinician, later_day) not in page

    page = as_dana.get("/portal/book/?later=1").content.decode()
    section = page[page.index('<h2 id="later-h">Later than recommended</h2>'):]
    assert "your results may have worn off more by then" in section
    assert f'value="{slot_value(clinician, later_day)}"' in section
    assert '<span class="badge-later">later than recommended</span>' in section
    assert ", later than recommended</span>" in section  # read out with each time, not by colour
    assert slot_value(clinician, next_weekday(last, 0)) not in page  # nothing past the clinic's limit
    recommended = page[:page.index('<h2 id="later-h">')]
    assert slot_value(clinician, window.book_from) in recommended and "badge-later" not in recommended

    r = as_dana.post("/portal/book/?later=1", {"slot": slot_value(clinician, later_day)})
    assert r.status_code == 302
    assert Appointment.objects.get(patient=dana).starts_at.isoformat() == \
        slot_value(clinician, later_day).split("|")[1]


def test_moving_to_a_later_time_says_so_on_the_confirm_page(as_dana, dana, window, clinician):
    as_dana.post("/portal/book/", {"slot": slot_value(clinician, window.book_from)})
    a = Appointment.objects.get(patient=dana)
    move_url = f"/portal/visits/{a.public_id}/move/"
    later = slot_value(clinician, next_weekday(window.book_by, 1))
    assert later not in as_dana.get(move_url).content.decode()
    assert later in as_dana.get(move_url, {"later": "1"}).content.decode()
    confirm = as_dana.get(move_url, {"slot": later}).content.decode()
    assert "<strong>Later than recommended:</strong> your results may have worn off more by then." in confirm
    near = as_dana.get(move_url, {"slot": slot_value(clinician, window.book_from, "11:00")}).content.decode()
    assert "Later than recommended" not in near


# --- the free times a few days at a time ("Earlier days" / "Later days", links: no script)

def test_page_of_days_shows_every_day_on_some_page_and_links_both_ways():
    from touchup.portal.services.booking import page_of_days

    d0 = dt.date(2027, 3, 22)
    days = [(d0 + dt.timedelta(days=k), ["t"] * 20) for k in range(10)]  # 20 times a day
    first = page_of_days(days, None, size=4, cap=60)
    assert [d for d, _ in first.days] == [days[0][0], days[1][0], days[2][0]]  # 60 times: three days
    assert first.earlier is None and first.later == days[3][0]
    seen, page = [], first
    while True:
        seen += [d for d, _ in page.days]
        if page.later is None:
            break
        nxt = page_of_days(days, page.later, size=4, cap=60)
        assert nxt.earlier is not None and nxt.earlier < page.later  # back to where we came from
        page = nxt
    assert seen == [d for d, _ in days]  # each day once, in order, none skipped
    # A day between pages (no free times that day) starts at the next day that has some;
    # a day past the end is the last page; one day larger than the cap is still shown whole.
    assert page_of_days(days, d0 + dt.timedelta(days=30)).days[-1] == days[-1]
    assert page_of_days([(d0, ["t"] * 80)], None, cap=60).days == [(d0, ["t"] * 80)]
    assert page_of_days([], d0).days == [] and page_of_days([], d0).later is None


@pytest.fixture
def busy_window(dana, clinician, clinic_a):
    """Every day 09:00-17:00 in 30-minute slots, a 20-day window: 320 free times, the old
    list stopped after 60 of them (four days)."""
    from tests.portal.conftest import signed_treatment
    from touchup.maintenance.services.booking import set_working_hours

    set_working_hours(actor=clinician, clinic=clinic_a, clinician=clinician,
                      blocks=[{"weekday": d, "start": "09:00", "end": "17:00", "slot_minutes": 30} for d in range(7)])
    t = signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=100), {"glabella": 20})
    return area_forecast(dana, t, "glabella", timezone.localdate() + dt.timedelta(days=2), days=20,
                         earliest_allowed=timezone.localdate())


def _link(page, name):
    found = re.search(rf'<a class="btn" href="([^"]+)" rel="\w+">{name}</a>', page)
    return html.unescape(found.group(1)) if found else None


def test_later_days_reach_the_last_day_of_the_window_and_earlier_days_come_back(as_dana, dana, busy_window,
                                                                               clinician):
    url, pages, seen = "/portal/book/", [], []
    while url:
        page = as_dana.get(url if url.startswith("/") else "/portal/book/" + url.split("#")[0]).content.decode()
        pages.append(page)
        seen += [d for d in (busy_window.book_from + dt.timedelta(days=k) for k in range(30))
                 if f'value="{slot_value(clinician, d, "16:30")}"' in page]
        assert page.count("<fieldset") <= 4  # a phone's worth at a time
        url = _link(page, "Later days →")
        assert len(pages) < 20
    assert seen[0] == busy_window.book_from and seen[-1] == busy_window.book_by
    assert seen == sorted(set(seen)) and len(seen) == (busy_window.book_by - busy_window.book_from).days + 1
    assert _link(pages[0], "← Earlier days") is None
    back = _link(pages[-1], "← Earlier days")
    assert back and "#window-h" in back
    earlier = as_dana.get("/portal/book/" + back.split("#")[0]).content.decode()
    assert _link(earlier, "Later days →").startswith(f"?from=")
    # What a page showed decides nothing: the service books the last day whatever page is open.
    r = as_dana.post("/portal/book/", {"slot": slot_value(clinician, busy_window.book_by, "16:30")})
    assert r.status_code == 302
    assert Appointment.objects.get(patient=dana).starts_at.date() == busy_window.book_by


def test_the_later_section_pages_on_its_own_and_keeps_the_windows_page(as_dana, dana, busy_window, clinician):
    first = as_dana.get("/portal/book/").content.decode()
    next_days = _link(first, "Later days →")
    second = as_dana.get("/portal/book/" + next_days.split("#")[0]).content.decode()
    show_later = re.search(r'<a href="([^"]+)">Show later times', second).group(1)
    assert show_later.startswith("?from=") and "later=1" in html.unescape(show_later)  # stays on the same days
    page = as_dana.get("/portal/book/" + html.unescape(show_later).split("#")[0]).content.decode()
    later = page[page.index('<h2 id="later-h">'):]
    assert later.count("<fieldset") <= 4
    last_later_day = busy_window.book_by + dt.timedelta(days=28)
    more_later = _link(later, "Later days →")
    assert more_later and "later_from=" in more_later and more_later.endswith("#later-h")
    assert html.unescape(show_later).split("&")[0] in more_later  # the window's page kept
    while more_later:
        page = as_dana.get("/portal/book/" + more_later.split("#")[0]).content.decode()
        more_later = _link(page[page.index('<h2 id="later-h">'):], "Later days →")
    assert f'value="{slot_value(clinician, last_later_day, "16:30")}"' in page
    assert f'value="{slot_value(clinician, last_later_day + dt.timedelta(days=1), "16:30")}"' not in page


def test_moving_pages_through_the_window_too(as_dana, dana, busy_window, clinician):
    from touchup.maintenance.services.booking import book

    a = book(actor=clinician, patient=dana, clinician=clinician,
             starts_at=slot_value(clinician, busy_window.book_from, "09:00").split("|")[1])
    move_url = f"/portal/visits/{a.public_id}/move/"
    url, seen = move_url, False
    for _ in range(20):
        page = as_dana.get(url).content.decode()
        seen = seen or f'value="{slot_value(clinician, busy_window.book_by, "16:30")}"' in page
        nxt = _link(page, "Later days →")
        if not nxt:
            break
        url = move_url + nxt.split("#")[0]
    assert seen
    assert 'id="window-h"' in page


def test_an_unreadable_day_in_the_link_is_the_first_page(as_dana, dana, busy_window, clinician):
    r = as_dana.get("/portal/book/?from=not-a-day&later_from=2027-99-99")
    assert r.status_code == 200
    assert f'value="{slot_value(clinician, busy_window.book_from, "09:00")}"' in r.content.decode()


def test_a_move_to_a_time_taken_meanwhile_comes_back_on_the_same_days(as_dana, dana, busy_window, clinician,
                                                                    front_desk):
    from touchup.maintenance.services.booking import book

    a = book(actor=clinician, patient=dana, clinician=clinician,
             starts_at=slot_value(clinician, busy_window.book_from, "09:00").split("|")[1])
    move_url = f"/portal/visits/{a.public_id}/move/"
    second = _link(as_dana.get(move_url).content.decode(), "Later days →").split("#")[0]
    page = as_dana.get(move_url + second).content.decode()
    day = dt.date.fromisoformat(re.search(r"from=(\d{4}-\d\d-\d\d)", second).group(1))
    assert f'<input type="hidden" name="from" value="{day.isoformat()}">' in page
    # The clinician's 10:00 that day is taken (the front desk, say) before the patient's tap arrives.
    taken = slot_value(clinician, day, "10:00")
    Appointment.objects.create(clinic=dana.clinic, patient=dana, clinician=clinician,
                               starts_at=dt.datetime.fromisoformat(taken.split("|")[1]),
                               ends_at=dt.datetime.fromisoformat(taken.split("|")[1]) + dt.timedelta(minutes=30),
                               areas=["glabella"], booked_by=front_desk, booked_at=timezone.now(),
                               updated_at=timezone.now())
    r = as_dana.get(move_url, {"from": day.isoformat(), "slot": taken})
    assert r.status_code == 400 and "no longer free" in r.content.decode()
    assert f'value="{slot_value(clinician, day, "16:30")}"' in r.content.decode()  # the same days
    assert f'value="{slot_value(clinician, busy_window.book_from, "16:30")}"' not in r.content.decode()
