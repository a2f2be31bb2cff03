"""Check-ins and diaries become Observations (source "patient"), ask for a forecast
recompute, and refuse bad input naming the field with nothing half-saved."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.portal.conftest import signed_treatment
from touchup.clinic.errors import InvalidInput
from touchup.clinic.models import Observation
from touchup.portal.models import Hit6Score
from touchup.portal.services.diaries import record_headache_diary

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate().isoformat()


@pytest.fixture
def migraine(dana, clinician):
    return signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=40), {"migraine": 155},
                            indication="chronic_migraine")


@pytest.fixture
def dystonia(dana, clinician):
    return signed_treatment(dana, clinician, timezone.localdate() - dt.timedelta(days=20),
                            {"cervical_dystonia": 200}, indication="cervical_dystonia")


def test_checkin_per_treated_area(as_dana, dana, treated, django_capture_on_commit_callbacks):
    page = as_dana.get("/portal/diary/").content.decode()
    assert "Glabella (frown lines)" in page and "Headache diary" not in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = as_dana.post("/portal/diary/checkin/", {"area": "glabella", "c-glabella-area": "glabella",
                                                    "c-glabella-wearing_off": "yes", "c-glabella-observed_on": today()})
    assert r.status_code == 302
    obs = Observation.objects.get(patient=dana)
    assert (obs.kind, obs.area, obs.value, obs.source) == ("wearing_off_reported", "glabella", 1.0, "patient")
    assert callbacks, "the forecast recompute was not requested"


def test_checkin_for_an_untreated_area_is_refused(as_dana, treated):
    r = as_dana.post("/portal/diary/checkin/", {"area": "forehead", "c-forehead-area": "forehead",
                                                "c-forehead-wearing_off": "no"}, follow=True)
    assert r.status_code == 200 and "choose one of your treated areas" in r.content.decode()
    assert not Observation.objects.exists()


def test_checkin_htmx_returns_the_fragment(as_dana, treated):
    r = as_dana.post("/portal/diary/checkin/", {"area": "glabella", "c-glabella-area": "glabella",
                                                "c-glabella-wearing_off": "no"}, HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "<html" not in body and "your check-in for Glabella (frown lines) is saved" in body
    assert 'id="checkin-glabella-save"' in body  # the same id as before the swap: htmx refocuses it
    # The new entry shows in "Your recent entries" at once (an out-of-band swap), not after a reload.
    recent = body.split('id="recent"', 1)[1]
    assert 'hx-swap-oob="true"' in recent.split(">", 1)[0] and "Not wearing off yet" in recent


def test_an_invalid_htmx_entry_leaves_the_recent_entries_alone(as_dana, treated):
    r = as_dana.post("/portal/diary/checkin/", {"area": "glabella", "c-glabella-area": "glabella",
                                                "c-glabella-wearing_off": "maybe"}, HTTP_HX_REQUEST="true")
    assert 'id="recent"' not in r.content.decode() and not Observation.objects.exists()


def test_headache_diary_with_hit6(as_dana, dana, migraine):
    assert "Headache diary" in as_dana.get("/portal/diary/").content.decode()
    r = as_dana.post("/portal/diary/headache/", {"h-observed_on": today(), "h-headache_days": "9", "h-hit6": "60"})
    assert r.status_code == 302
    obs = Observation.objects.get(patient=dana)
    assert (obs.kind, obs.area, obs.value, obs.source) == ("headache_days", "migraine", 9.0, "patient")
    assert Hit6Score.objects.get(patient=dana).value == 60


@pytest.mark.parametrize("post,field_words", [
    ({"h-headache_days": "31"}, "must be a whole number from 0 to 30"),
    ({"h-headache_days": "-1"}, "must be a whole number from 0 to 30"),
    ({"h-headache_days": "2.5"}, "must be a whole number from 0 to 30"),
    ({"h-headache_days": "5", "h-hit6": "35"}, "must be a whole number from 36 to 78"),
    ({"h-headache_days": "5", "h-hit6": "79"}, "must be a whole number from 36 to 78"),
    ({"h-headache_days": "5", "h-observed_on": "2999-01-01"}, "cannot be in the future"),
    ({"h-headache_days": ""}, "Enter a number from 0 to 30."),
])
def test_headache_diary_bad_input(as_dana, migraine, post, field_words):
    r = as_dana.post("/portal/diary/headache/", post)
    assert r.status_code == 200 and field_words in r.content.decode()
    assert "Nothing was saved" in r.content.decode()
    assert not Observation.objects.exists() and not Hit6Score.objects.exists()


def test_a_bad_hit6_saves_no_headache_days_either(dana, migraine):
    with pytest.raises(InvalidInput) as exc:
        record_headache_diary(actor=dana.user, patient=dana, headache_days=5, hit6=90)
    assert exc.value.field == "hit6"
    assert not Observation.objects.exists()


def test_symptom_diary(as_dana, dana, dystonia):
    page = as_dana.get("/portal/diary/").content.decode()
    assert "Neck symptom diary" in page and "0 = none, 10 = the worst" in page
    r = as_dana.post("/portal/diary/symptoms/", {"s-score": "6"})
    assert r.status_code == 302
    obs = Observation.objects.get(patient=dana)
    assert (obs.kind, obs.area, obs.value, obs.source, obs.observed_on) == (
        "symptom_score", "cervical_dystonia", 6.0, "patient", timezone.localdate())
    r = as_dana.post("/portal/diary/symptoms/", {"s-score": "11"})
    assert "must be a whole number from 0 to 10" in r.content.decode()
    assert Observation.objects.count() == 1


def test_recompute_runs_and_the_forecast_reads_patient_entries(dana, treated, clinician):
    """The request_recompute hook's work, done inline: the observations the portal writes
    are readable by the forecast (an unreadable kind would break it)."""
    from touchup.maintenance.services.forecasts import recompute
    from touchup.portal.services.diaries import record_checkin

    record_checkin(actor=dana.user, patient=dana, area="glabella", wearing_off=False)
    rows = recompute(dana)
    assert [r.area for r in rows] == ["glabella"]


def test_results_show_headache_days_and_hit6(as_dana, dana, migraine):
    from touchup.clinic.models import Observation as Obs

    Obs.objects.create(patient=dana, area="migraine", observed_on=migraine.treated_on, kind="headache_days",
                       value=20, source="patient")
    as_dana.post("/portal/diary/headache/", {"h-headache_days": "10", "h-hit6": "58"})
    body = as_dana.get("/portal/results/").content.decode()
    assert "Headache days in the last 30 days: 20 before the treatment, 10 on" in body and "50% lower" in body
    assert "Your latest HIT-6 score: 58 of 78" in body
