"""The wear-off watch asks for a photo: its message for an area a photo measures links to
the photo diary with that area's view chosen, the page asks "is it wearing off?" too, and
a photo kept there is analysed in the background, becomes the area's wrinkle index and
recomputes the forecast. Real database, real files, the real vision package, the worker's
own task runner and reminder dispatch, the real forecast."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.photos import images
from tests.photos.conftest import media  # noqa: F401 - fixture
from touchup.clinic.models import Observation, Photo, Treatment
from touchup.clinic.services import photos as photo_services
from touchup.maintenance.models import AreaForecast, Reminder
from touchup.maintenance.services import forecasts, reminders
from touchup.maintenance.services.messages import watch_page
from touchup.core.photo_rules import AREA_VIEW, VIEW_AREAS

from .conftest import signed_treatment

UTC = zoneinfo.ZoneInfo("UTC")


def _due_today():
    """After 10:00 today and after now: whatever is due today has come due."""
    at_ten = dt.datetime.combine(timezone.localdate(), dt.time(10, 1), tzinfo=UTC)
    return max(at_ten, timezone.now() + dt.timedelta(minutes=1))


def _run_worker_tasks():
    """One pass of `touchup worker`'s task runner (the database backend's worker)."""
    from touchup.commands.worker import _run_tasks

    _run_tasks("test-worker")


def _link(body):
    return re.search(r"http://\S+", body).group(0)


def test_each_photo_view_the_watch_links_to_measures_its_area():
    # The link's view must be the one whose analysis writes the area's wrinkle index, or
    # the photo would feed no forecast (both read touchup.core.photo_rules).
    for area, view in AREA_VIEW.items():
        assert area in VIEW_AREAS[view]
        assert watch_page(area) == f"photos/?view={view}"
    assert watch_page("migraine") == watch_page("cervical_dystonia") == "diary/"


@pytest.mark.django_db
@pytest.mark.parametrize("area,indication,page,ask", [
    ("glabella", "glabellar_lines", "/portal/photos/?view=frown", "Take today's photo and let us know"),
    ("platysma", "platysma_bands", "/portal/photos/?view=neck_tensed", "Take today's photo and let us know"),
    ("migraine", "chronic_migraine", "/portal/diary/", "Let us know"),
])
def test_the_watch_message_links_to_the_photo_of_the_area_and_says_nothing_clinical(
        dana, clinician, mailoutbox, area, indication, page, ask):
    t = signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=80), {area: 20},
                         indication=indication)
    for step, watch_round in (("checkin_before_window", 0), ("checkin_watch", 1)):
        Reminder.objects.create(patient=dana, clinic_id=dana.clinic_id, treatment=t, area=area, kind="checkin",
                                step=step, round=watch_round, channel="email",
                                due_at=timezone.now() - dt.timedelta(minutes=1))
    assert reminders.dispatch_due("w1")["sent"] == 2
    watch = [m for m in mailoutbox if m.subject.endswith("a quick check-in")]  # (not the invitation)
    assert len(watch) == 2
    for message in watch:
        link = _link(message.body)
        assert link.endswith(page) and "is the effect of your last treatment starting to wear off?" in message.body
        assert f"{ask}: {link}" in message.body
        # The view is in the link only; the words name no product, area, view or dose.
        words = (message.subject + message.body.replace(link, "")).lower()
        for word in ("onabotulinum", "botox", "glabella", "frown", "platysma", "neck", "migraine", "units", "20"):
            assert word not in words
        if area == "migraine":
            assert "photo" not in words  # no photo measures a migraine


@pytest.mark.django_db
def test_the_link_survives_the_sign_in_and_opens_the_view_with_its_check_in(client, dana, clinician):
    signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=80), {"glabella": 20})
    r = client.get("/portal/photos/?view=frown")
    assert r.status_code == 302 and r["Location"].startswith("/portal/login/")
    r = client.post(r["Location"], {"login": "dana", "password": PASSWORD}, follow=True)
    assert r.redirect_chain[-1][0] == "/portal/photos/?view=frown"
    body = r.content.decode()
    assert re.search(r'<input type="radio" name="view" id="view-frown" value="frown"\s+checked>', body)
    assert 'id="checkin-glabella"' in body and 'name="back" value="photos"' in body
    # An unknown or untreated view falls back to the first one offered, with no check-in.
    body = client.get("/portal/photos/?view=neck_tensed").content.decode()
    assert re.search(r'value="at_rest"\s+checked', body) and 'id="checkin-' not in body


@pytest.mark.django_db
def test_the_check_in_on_the_photo_page_stays_on_it(as_dana, dana, treated):
    post = {"area": "glabella", "c-glabella-area": "glabella", "c-glabella-wearing_off": "no", "back": "photos"}
    r = as_dana.post("/portal/diary/checkin/", post)
    assert r.status_code == 302 and r["Location"] == "/portal/photos/?view=frown"
    assert Observation.objects.get(patient=dana).kind == "wearing_off_reported"
    # HTMX: the form comes back still pointing at the photo page, and there is no "recent
    # entries" card to update there.
    r = as_dana.post("/portal/diary/checkin/", {**post, "c-glabella-wearing_off": "yes"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "your check-in for Glabella (frown lines) is saved" in body
    assert 'name="back" value="photos"' in body and 'id="recent"' not in body
    # Anything else in `back` is the diary as before: no redirect anywhere else.
    r = as_dana.post("/portal/diary/checkin/", {**post, "back": "https://elsewhere.example/"})
    assert r["Location"] == "/portal/diary/"
    assert Observation.objects.filter(patient=dana).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_photo_from_the_watchs_link_becomes_a_reading_and_moves_the_forecast(
        client, dana, clinician, media, mailoutbox):
    """Signed chart, its frown photo on the treatment day, the worker's tasks and dispatch,
    the patient following the message's link and sending today's photo through the portal,
    the background analysis, the recompute."""
    today = timezone.localdate()
    t = signed_treatment(dana, clinician, today - dt.timedelta(days=90), {"glabella": 20})
    [row] = forecasts.recompute(dana)
    # Put the treatment where its before-window check-in falls today.
    offset = (row.book_from - row.treated_on).days - reminders.CHECKIN_BEFORE_WINDOW_DAYS
    Treatment.objects.filter(pk=t.pk).update(treated_on=today - dt.timedelta(days=offset))
    t.refresh_from_db()
    # The reference: the frown photo the clinic took before injecting.
    photo_services.photo_upload(actor=clinician, patient=dana, view="frown", taken_on=t.treated_on,
                                upload=images.jpeg(images.neutral_face()), consent_clinical=True)
    _run_worker_tasks()
    [row] = AreaForecast.objects.filter(patient=dana)
    reference = Observation.objects.get(patient=dana, kind="wrinkle_index")
    assert reference.observed_on == t.treated_on
    assert row.book_from == today + dt.timedelta(days=14)  # a reference alone says nothing yet
    before = (row.book_from, row.wear_off_date, row.basis)

    assert reminders.dispatch_due("w1", now=_due_today())["sent"] == 1
    link = _link(mailoutbox[-1].body)
    assert link.endswith("/portal/photos/?view=frown")

    assert client.login(username="dana", password=PASSWORD)
    page = client.get(link[link.index("/portal/"):])  # (TOUCHUP_PUBLIC_URL's host is not the test client's)
    assert re.search(r'value="frown"\s+checked', page.content.decode())
    upload = SimpleUploadedFile("today.jpg", images.jpeg(images.neutral_face(dx=6)), content_type="image/jpeg")
    r = client.post("/portal/photos/", {"view": "frown", "consent": "yes", "photo": upload})
    assert r.status_code == 302 and r["Location"] == "/portal/photos/?view=frown", r.content.decode()[:2000]
    photo = Photo.objects.get(patient=dana, taken_on=today)
    assert not Observation.objects.filter(photo=photo).exists()  # measured in the background

    _run_worker_tasks()  # the analysis, then the recompute it asks for
    photo.refresh_from_db()
    assert photo.analysis_status == "done", photo.analysis
    reading = Observation.objects.get(photo=photo)
    assert (reading.area, reading.kind, reading.source, reading.observed_on) == (
        "glabella", "wrinkle_index", "photo", today)
    [row] = AreaForecast.objects.filter(patient=dana)
    assert "1 photo this cycle" in row.basis and "photo" not in before[2], (row.basis, before[2])
    # Back where it was before the treatment (the same face, a few pixels over): the model
    # reads the effect as gone, and the window opens now rather than in two weeks.
    assert (row.book_from, row.wear_off_date) != before[:2]
    assert row.book_from <= today
    assert Reminder.objects.get(treatment=t, step="maintenance").due_at <= _due_today()
    sent = reminders.dispatch_due("w1", now=_due_today())
    assert sent["sent"] == 1 and "/portal/book/" in mailoutbox[-1].body


@pytest.mark.django_db
def test_a_treatment_of_several_areas_gets_one_message_asking_for_every_areas_photo(dana, clinician, mailoutbox):
    # Glabella, forehead and crow's feet: three views, one message a round (no message per
    # area), its link asking for all three, the watch's own area (forehead here) first.
    t = signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=80),
                         {"glabella": 20, "forehead": 10, "crows_feet": 24})
    for step, watch_round in (("checkin_before_window", 0), ("checkin_watch", 1)):
        Reminder.objects.create(patient=dana, clinic_id=dana.clinic_id, treatment=t, area="forehead", kind="checkin",
                                step=step, round=watch_round, channel="email",
                                due_at=timezone.now() - dt.timedelta(minutes=1))
    assert reminders.dispatch_due("w1")["sent"] == 2
    assert reminders.dispatch_due("w2") == {"sent": 0, "skipped": 0, "failed": 0, "lost": 0}  # claimed once
    watch = [m for m in mailoutbox if m.subject.endswith("a quick check-in")]
    assert len(watch) == 2
    for message in watch:
        link = _link(message.body)
        assert link.endswith("/portal/photos/?ask=brows_raised,frown,smile_squint")
        assert f"Take today's 3 photos and let us know: {link}" in message.body
        words = (message.subject + message.body.replace(link, "")).lower()
        for word in ("frown", "brow", "smile", "forehead", "glabella", "crow", "botox", "units"):
            assert word not in words


def test_the_watchs_link_leaves_out_the_areas_no_photo_measures():
    assert watch_page("migraine", ["migraine", "glabella"]) == "photos/?view=frown"
    assert watch_page("platysma", ["cervical_dystonia", "platysma"]) == "photos/?view=neck_tensed"
    assert watch_page("migraine", ["migraine"]) == "diary/"


@pytest.mark.django_db
def test_the_photo_page_takes_the_views_asked_for_in_turn(client, dana, clinician, media):
    signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=80),
                     {"glabella": 20, "forehead": 10, "crows_feet": 24})
    assert client.login(username="dana", password=PASSWORD)
    page = "/portal/photos/?ask=brows_raised,frown,smile_squint"
    body = client.get(page).content.decode()
    # The page names the views (behind the sign-in), a link to each, the first chosen, and
    # the check-in of every area they measure.
    assert "asks for 3 photos today: eyebrows raised, a frown and a big smile." in body
    assert re.search(r'value="brows_raised"\s+checked', body)
    assert '<strong aria-current="step">Eyebrows raised</strong>' in body
    assert 'href="/portal/photos/?view=frown&amp;ask=brows_raised,frown,smile_squint"' in body
    assert 'href="/portal/photos/?view=smile_squint&amp;ask=brows_raised,frown,smile_squint"' in body
    assert all(f'id="checkin-{a}"' in body for a in ("glabella", "forehead", "crows_feet"))
    assert body.count('name="ask" value="brows_raised,frown,smile_squint"') == 4  # the photo form, 3 check-ins

    # A photo kept: on to the next view not sent today.
    upload = SimpleUploadedFile("b.jpg", images.jpeg(images.neutral_face()), content_type="image/jpeg")
    r = client.post("/portal/photos/", {"view": "brows_raised", "ask": "brows_raised,frown,smile_squint",
                                        "consent": "yes", "photo": upload})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert r["Location"] == "/portal/photos/?view=frown&ask=brows_raised,frown,smile_squint"
    body = client.get(r["Location"]).content.decode()
    assert "your photo (eyebrows raised) is saved. Next: frown." in body
    assert re.search(r'value="frown"\s+checked', body)
    assert re.search(r'Eyebrows raised</a> <span class="small" data-sent>sent today', body)
    # The message's link again (a second tap on it) opens the first view still owed.
    assert re.search(r'value="frown"\s+checked', client.get(page).content.decode())
    # A check-in answered there comes back to the same request.
    post = {"area": "glabella", "c-glabella-area": "glabella", "c-glabella-wearing_off": "no", "back": "photos",
            "ask": "brows_raised,frown,smile_squint,https://elsewhere.example/"}
    r = client.post("/portal/diary/checkin/", post)
    assert r["Location"] == "/portal/photos/?view=frown&ask=brows_raised,frown,smile_squint"
    # A view asked for that is not treated (an old link) drops out of the list.
    body = client.get("/portal/photos/?ask=neck_tensed,frown").content.decode()
    assert "data-asked" not in body and re.search(r'value="frown"\s+checked', body)
