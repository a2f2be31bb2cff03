"""The wear-off watch: from the before-window check-in on, "is it wearing off yet?" once a
week, until the patient says yes, books, the maintenance reminder goes or the 80% interval
has passed. Real database (SQLite here; PostgreSQL with DATABASE_URL, as make
test-postgres runs it), the worker's own dispatch, and the real forecast."""

import datetime as dt
import zoneinfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from touchup.clinic.models import Observation, Treatment
from touchup.maintenance.models import AreaForecast, Reminder
from touchup.maintenance.services import booking, forecasts, reminders
from touchup.portal.services.diaries import record_checkin

from .conftest import area_forecast, next_weekday, signed_treatment

UTC = zoneinfo.ZoneInfo("UTC")
DAY = dt.timedelta(days=1)


@pytest.fixture
def reachable(patient):
    patient.email = "dana@example.invalid"
    patient.save()
    return patient


def _watch(treatment, **filters):
    """The treatment's watch rounds: {round: due date} (pending, sent or claimed)."""
    rows = Reminder.objects.filter(treatment=treatment, step="checkin_watch", **filters).order_by("round")
    return {r.round: r.due_at.date() for r in rows}


def _pending_watch(treatment):
    return _watch(treatment, cancelled_at__isnull=True, sent_at__isnull=True)


def _sync(patient, now=None):
    reminders.sync_forecast_reminders(patient, AreaForecast.objects.filter(patient=patient),
                                      now=now or timezone.now())


def _at(day, hour=10, minute=1):
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=UTC)


def _due_today():
    """A moment by which whatever is due today has come due: after 10:00, and after now (a
    reminder scheduled later in the day than 10:00 is due at once)."""
    return max(_at(timezone.localdate()), timezone.now() + dt.timedelta(minutes=1))


def test_the_watch_asks_weekly_from_the_before_window_check_in_until_the_window_opens(reachable, clinician):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=80), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today + dt.timedelta(days=30), days=20)
    _sync(reachable)
    before = Reminder.objects.get(treatment=t, step="checkin_before_window")
    assert before.due_at.date() == today + dt.timedelta(days=16)
    # One round a week after it; the next would fall on the window's first day, when the
    # maintenance reminder goes instead.
    assert _pending_watch(t) == {1: today + dt.timedelta(days=23)}
    assert Reminder.objects.get(treatment=t, step="checkin_watch").kind == "checkin"
    # Nothing sent yet: the whole watch moves with the window.
    AreaForecast.objects.filter(treatment=t).update(book_from=today + dt.timedelta(days=45))
    _sync(reachable)
    assert _pending_watch(t) == {1: today + dt.timedelta(days=38)}
    # The 80% interval ends before the round: it is dropped ...
    AreaForecast.objects.filter(treatment=t).update(wear_off_high=today + dt.timedelta(days=35))
    _sync(reachable)
    assert _pending_watch(t) == {}
    assert Reminder.objects.get(treatment=t, step="checkin_watch").last_error == "window moved"
    # ... and comes back when the interval widens again, as the same row.
    AreaForecast.objects.filter(treatment=t).update(wear_off_high=today + dt.timedelta(days=90))
    _sync(reachable)
    assert _pending_watch(t) == {1: today + dt.timedelta(days=38)}
    assert Reminder.objects.filter(treatment=t, step="checkin_watch").count() == 1


def test_the_watch_ends_at_the_80_percent_interval_and_after_at_most_ten_rounds(reachable, clinician):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=80), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today + dt.timedelta(days=14), days=20)
    _sync(reachable)
    # The before-window check-in went out today (the patient kept answering "no" since).
    Reminder.objects.filter(treatment=t, step="checkin_before_window").update(
        claimed_at=timezone.now(), send_started_at=timezone.now(), sent_at=timezone.now())
    # A window far out, an interval ending 20 days from now: two rounds.
    AreaForecast.objects.filter(treatment=t).update(book_from=today + dt.timedelta(days=200),
                                                    book_by=today + dt.timedelta(days=214),
                                                    wear_off_high=today + dt.timedelta(days=20))
    _sync(reachable)
    assert _pending_watch(t) == {1: today + dt.timedelta(days=7), 2: today + dt.timedelta(days=14)}
    # An interval far out too: the rounds stop at WATCH_MAX_ROUNDS.
    AreaForecast.objects.filter(treatment=t).update(wear_off_high=today + dt.timedelta(days=300))
    _sync(reachable)
    assert _pending_watch(t) == {k: today + dt.timedelta(days=7 * k)
                                 for k in range(1, reminders.WATCH_MAX_ROUNDS + 1)}


def test_the_rounds_keep_their_weekday_once_the_before_window_check_in_went_out(reachable, clinician, mailoutbox):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=100), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today + dt.timedelta(days=14), days=20)
    _sync(reachable, now=_at(today, 9, 0))
    assert reminders.dispatch_due("w1", now=_at(today))["sent"] == 1
    assert "/portal/photos/?view=frown" in mailoutbox[0].body  # a glabella: the frown photo
    # The window moves by 5 days (a "no"): the rounds stay weekly from the day the
    # check-in went out, not from the new window.
    AreaForecast.objects.filter(treatment=t).update(book_from=today + dt.timedelta(days=19))
    _sync(reachable)
    assert _pending_watch(t) == {1: today + dt.timedelta(days=7), 2: today + dt.timedelta(days=14)}


def test_a_yes_ends_the_watch_even_before_the_forecast_is_recomputed(reachable, clinician, mailoutbox):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=100), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today + dt.timedelta(days=10), days=20)
    _sync(reachable)
    assert _pending_watch(t) == {1: today + dt.timedelta(days=3)}
    Reminder.objects.filter(treatment=t, step="checkin_watch").update(due_at=timezone.now() - dt.timedelta(minutes=1))
    # The answer is in; its recompute is still queued. A "yes" for another area, or one
    # dated before this treatment, does not count.
    Observation.objects.create(patient=reachable, area="forehead", observed_on=today, kind="wearing_off_reported",
                               value=1.0, source="patient")
    Observation.objects.create(patient=reachable, area="glabella", observed_on=t.treated_on,
                               kind="wearing_off_reported", value=1.0, source="patient")
    Observation.objects.create(patient=reachable, area="glabella", observed_on=today, kind="wearing_off_reported",
                               value=0.0, source="patient")
    before_yes = Reminder.objects.get(treatment=t, step="checkin_watch")
    assert reminders._watch_over(reachable.pk, t.pk, "glabella", t.treated_on) is None
    Observation.objects.create(patient=reachable, area="glabella", observed_on=today, kind="wearing_off_reported",
                               value=1.0, source="patient")
    assert reminders.dispatch_due("w1") == {"sent": 0, "skipped": 1, "failed": 0, "lost": 0}
    assert mailoutbox == []
    before_yes.refresh_from_db()
    assert before_yes.sent_at is None and before_yes.last_error == "wearing off reported"
    # And the next sync schedules no more rounds.
    AreaForecast.objects.filter(treatment=t).update(book_from=today + dt.timedelta(days=40),
                                                    book_by=today + dt.timedelta(days=54))
    _sync(reachable)
    assert _pending_watch(t) == {}


def test_the_watch_ends_when_the_maintenance_reminder_has_gone(reachable, clinician, mailoutbox):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today - dt.timedelta(days=1))
    _sync(reachable, now=timezone.now() - dt.timedelta(hours=1))
    assert reminders.dispatch_due("w1")["sent"] == 1  # the maintenance reminder
    assert "/portal/book/" in mailoutbox[0].body
    # A later "no" moves the window out again: no watch after the maintenance reminder.
    AreaForecast.objects.filter(treatment=t).update(book_from=today + dt.timedelta(days=20),
                                                    book_by=today + dt.timedelta(days=34))
    _sync(reachable)
    assert _pending_watch(t) == {}
    # A round left over from before it went is skipped at send time.
    Reminder.objects.create(patient=reachable, clinic_id=reachable.clinic_id, treatment=t, area="glabella",
                            kind="checkin", step="checkin_watch", round=3, channel="email",
                            due_at=timezone.now() - dt.timedelta(minutes=1))
    assert reminders.dispatch_due("w1")["skipped"] == 1
    assert len(mailoutbox) == 1


def test_booking_cancels_the_watch(reachable, clinician, front_desk, weekday_hours, mailoutbox):
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=120), {"glabella": 20})
    area_forecast(reachable, t, "glabella", today - dt.timedelta(days=1), days=30,
                  earliest_allowed=today - dt.timedelta(days=30))
    # A window that opened yesterday has no watch left; move it so it has rounds ahead.
    AreaForecast.objects.filter(treatment=t).update(book_from=today + dt.timedelta(days=10))
    _sync(reachable)
    assert _pending_watch(t) == {1: today + dt.timedelta(days=3)}
    AreaForecast.objects.filter(treatment=t).update(book_from=today - dt.timedelta(days=1))
    monday = next_weekday(today, 0)
    booking.book(actor=front_desk, patient=reachable, clinician=clinician,
                 starts_at=dt.datetime.combine(monday, dt.time(9), tzinfo=UTC))
    assert _pending_watch(t) == {}
    assert Reminder.objects.get(treatment=t, step="checkin_watch").last_error == "booked or stale"


def _a_week_passes(patient, treatment):
    """Move the patient's chart and reminders a week into the past: what a week of waiting
    would leave in the database (the tests cannot move the clock the forecast reads)."""
    from django.db.models import F

    week = dt.timedelta(days=7)
    Treatment.objects.filter(pk=treatment.pk).update(treated_on=F("treated_on") - week)
    Observation.objects.filter(patient=patient).update(observed_on=F("observed_on") - week)
    rows = Reminder.objects.filter(patient=patient)
    rows.update(due_at=F("due_at") - week)
    for field in ("claimed_at", "send_started_at", "sent_at"):
        rows.filter(**{f"{field}__isnull": False}).update(**{field: F(field) - week})
    treatment.refresh_from_db()


def test_the_watch_with_the_real_forecast_a_no_moves_it_on_a_yes_brings_the_maintenance_reminder(
        reachable, clinician, mailoutbox):
    """Signed chart, recompute, the worker's dispatch, the patient's answers through the
    portal's service: what a patient actually receives."""
    today = timezone.localdate()
    t = signed_treatment(reachable, clinician, today - dt.timedelta(days=90), {"glabella": 20})
    [row] = forecasts.recompute(reachable)
    # Put the treatment where its before-window check-in falls today.
    offset = (row.book_from - row.treated_on).days - reminders.CHECKIN_BEFORE_WINDOW_DAYS
    Treatment.objects.filter(pk=t.pk).update(treated_on=today - dt.timedelta(days=offset))
    t.refresh_from_db()
    [row] = forecasts.recompute(reachable)
    assert row.book_from == today + dt.timedelta(days=14)
    assert _pending_watch(t) == {1: today + dt.timedelta(days=7)}

    sent = reminders.dispatch_due("w1", now=_due_today())
    assert sent["sent"] == 1 and "starting to wear off" in mailoutbox[-1].body
    assert Reminder.objects.get(treatment=t, step="checkin_before_window").sent_at is not None

    # "Not yet": the window moves later and the watch follows it, weekly from today.
    record_checkin(actor=None, patient=reachable, area="glabella", wearing_off=False, observed_on=today)
    [row] = forecasts.recompute(reachable)
    assert row.book_from > today + dt.timedelta(days=14)
    expected = {k: today + dt.timedelta(days=7 * k) for k in range(1, 11)
                if today + dt.timedelta(days=7 * k) < row.book_from}
    assert len(expected) >= 2
    assert _pending_watch(t) == expected
    assert Reminder.objects.get(treatment=t, step="maintenance").due_at.date() == row.book_from

    # A week later the first round goes out, with the same question and link.
    _a_week_passes(reachable, t)
    [row] = forecasts.recompute(reachable)
    assert _pending_watch(t)[1] == today
    sent = reminders.dispatch_due("w1", now=_due_today())
    assert sent["sent"] == 1 and len(mailoutbox) == 2
    assert mailoutbox[-1].body == mailoutbox[0].body and "/portal/photos/?view=frown" in mailoutbox[-1].body

    # "Yes, it is wearing off": the window comes to today, the maintenance reminder goes
    # at once and the rest of the watch is dropped.
    record_checkin(actor=None, patient=reachable, area="glabella", wearing_off=True, observed_on=today)
    [row] = forecasts.recompute(reachable)
    assert row.book_from <= today
    assert _pending_watch(t) == {}
    assert set(Reminder.objects.filter(treatment=t, step="checkin_watch", sent_at__isnull=True)
               .values_list("last_error", flat=True)) == {"wearing off reported"}
    sent = reminders.dispatch_due("w1", now=timezone.now() + dt.timedelta(seconds=1))
    assert sent["sent"] == 1 and "/portal/book/" in mailoutbox[-1].body
    assert len(mailoutbox) == 3
    assert AreaForecast.objects.get(patient=reachable).contact_status == "reminded"


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_reminders_as_round_0(patient, clinician):
    """0008 on a database with reminders in it: each keeps its row as round 0, and the
    one-per-step rule still holds for every step but the watch's rounds."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    t = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    before = [("maintenance", "0007_worker_heartbeat")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("maintenance", "Reminder")
        for step in ("aftercare", "checkin_peak", "maintenance"):
            old.objects.create(patient_id=patient.pk, clinic_id=patient.clinic_id, treatment_id=t.pk,
                               area="glabella", kind="checkin", step=step, channel="email", due_at=timezone.now())
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    rows = Reminder.objects.filter(treatment=t)
    assert sorted(rows.values_list("step", "round")) == [("aftercare", 0), ("checkin_peak", 0), ("maintenance", 0)]
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(patient=patient, clinic_id=patient.clinic_id, treatment=t, area="glabella",
                                kind="maintenance", step="maintenance", channel="email", due_at=timezone.now())
    for k in (1, 2):
        Reminder.objects.create(patient=patient, clinic_id=patient.clinic_id, treatment=t, area="glabella",
                                kind="checkin", step="checkin_watch", round=k, channel="email", due_at=timezone.now())
    assert rows.count() == 5


def test_the_simulator_asks_on_the_products_schedule():
    """benchmarks/forecast_sim.py's "watch" variant mirrors these rules (it cannot import
    them: they need Django) on the same patients as "base": only the check-ins differ."""
    from benchmarks import forecast_sim as sim

    assert (sim.CHECKIN_BEFORE_WINDOW_DAYS, sim.WATCH_EVERY_DAYS, sim.WATCH_MAX_ROUNDS) == (
        reminders.CHECKIN_BEFORE_WINDOW_DAYS, reminders.WATCH_EVERY_DAYS, reminders.WATCH_MAX_ROUNDS)
    base = sim.simulate(300, 5, sim.VARIANTS["base"])
    watch = sim.simulate(300, 5, sim.VARIANTS["watch"])

    def readings(s):
        return [o for o in s.history["observations"] if o["kind"] != "wearing_off_reported"]

    asked = 0
    for b, w in zip(base, watch):
        assert b.history["treatments"] == w.history["treatments"] and readings(b) == readings(w)
        starts = [dt.date.fromisoformat(t["date"]) for t in w.history["treatments"]]
        areas = [a["area"] for a in w.history["treatments"][0]["areas"]]
        peak = min(round(sim.PRIORS.areas[a].peak_days) for a in areas)
        by_cycle = {}
        for o in w.history["observations"]:
            if o["kind"] == "wearing_off_reported":
                day = dt.date.fromisoformat(o["date"])
                start = max(s for s in starts if s < day)
                by_cycle.setdefault(start, {}).setdefault(day, {})[o["area"]] = o["value"]
        for start, days in by_cycle.items():
            assert all(set(got) == set(areas) for got in days.values())  # every area answered
            watch_days = sorted(d for d in days if d != start + dt.timedelta(days=peak))
            asked += len(watch_days)
            assert len(watch_days) <= 1 + sim.WATCH_MAX_ROUNDS
            assert all((b - a).days % 7 == 0 for a, b in zip(watch_days, watch_days[1:]))  # weekly
            if len(areas) == 1:  # nothing asked after a "yes"
                yes = [d for d, got in days.items() if got[areas[0]]]
                assert not yes or max(days) == min(yes)
    assert asked > 100


def test_the_simulators_photo_watch_adds_photos_of_cosmetic_areas_on_answered_watch_days():
    """"watch_photo" is "watch" with a photo of the leading cosmetic area on a share of the
    answered watch rounds: the same patients and readings as "base", the therapeutic
    patients' answers exactly as "watch" asked them, and every extra reading a wrinkle
    index of a cosmetic area, dated on a day the patient answered the watch."""
    from collections import Counter

    from benchmarks import forecast_sim as sim

    base = sim.simulate(300, 5, sim.VARIANTS["base"])
    watch = sim.simulate(300, 5, sim.VARIANTS["watch"])
    photo = sim.simulate(300, 5, sim.VARIANTS["watch_photo"])

    def key(o):
        return o["date"], o["area"], o["kind"], o["value"]

    extra = answered_watch_days = 0
    for b, w, p in zip(base, watch, photo):
        assert b.history["treatments"] == p.history["treatments"]
        areas = [a["area"] for a in p.history["treatments"][0]["areas"]]
        if not set(areas) & sim.COSMETIC:  # migraine, dystonia: the watch is unchanged
            assert p.history == w.history and p.watch_photos == 0
            continue
        readings = Counter(key(o) for o in p.history["observations"] if o["kind"] != "wearing_off_reported")
        added = readings - Counter(key(o) for o in b.history["observations"])
        assert sum(added.values()) == p.watch_photos
        starts = [t["date"] for t in p.history["treatments"]]
        answered = {o["date"] for o in p.history["observations"] if o["kind"] == "wearing_off_reported"}
        peaks = {(dt.date.fromisoformat(s) + dt.timedelta(days=round(min(sim.PRIORS.areas[a].peak_days
                                                                          for a in areas)))).isoformat()
                 for s in starts}
        answered_watch_days += len(answered - peaks)
        for (day, area, kind, value), n in added.items():
            assert kind == "wrinkle_index" and area in areas and n == 1 and value >= 0
            assert day in answered and day not in peaks and day not in starts
        extra += sum(added.values())
    # 25% of messages bring a photo, 40% are answered: 62.5% of answered watch rounds.
    assert answered_watch_days > 100
    assert 0.45 < extra / answered_watch_days < 0.8


def test_the_simulators_watch_photo_all_photographs_every_cosmetic_area_on_the_same_messages():
    """"watch_photo_all" is "watch_photo" with the product's request since the watch asks
    for every treated area's view: a treatment of one area is simulated exactly as in
    "watch_photo", and on every day the watch brought a photo, each cosmetic area of the
    treatment has one."""
    from collections import defaultdict

    from benchmarks import forecast_sim as sim

    photo = sim.simulate(300, 5, sim.VARIANTS["watch_photo"])
    every = sim.simulate(300, 5, sim.VARIANTS["watch_photo_all"])
    base = sim.simulate(300, 5, sim.VARIANTS["base"])
    several = 0
    for b, p, e in zip(base, photo, every):
        areas = {a["area"] for t in e.history["treatments"] for a in t["areas"]}
        cosmetic = areas & sim.COSMETIC
        if len(cosmetic) <= 1:
            assert e.history == p.history and e.watch_photos == p.watch_photos
            continue
        before = {(o["date"], o["area"], o["value"]) for o in b.history["observations"]}
        by_day = defaultdict(set)
        for o in e.history["observations"]:
            if o["kind"] == "wrinkle_index" and (o["date"], o["area"], o["value"]) not in before:
                by_day[o["date"]].add(o["area"])
        assert sum(len(a) for a in by_day.values()) == e.watch_photos
        for day, got in by_day.items():
            treated = {a["area"] for t in e.history["treatments"] if t["date"] <= day for a in t["areas"]}
            latest = max((t for t in e.history["treatments"] if t["date"] <= day), key=lambda t: t["date"])
            assert got == {a["area"] for a in latest["areas"]} & sim.COSMETIC, (day, got, treated)
        several += len(by_day) > 0
    assert several > 10
