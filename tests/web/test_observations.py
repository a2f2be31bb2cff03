"""A clinician records a grade at a visit; bad readings are refused, nothing is written."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from touchup.clinic.models import AuditEvent, Observation
from tests.maintenance.conftest import signed_treatment


@pytest.fixture
def treated(patient, clinician):
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=14), {"glabella": 20})
    return patient


def post(client, patient, **data):
    body = {"area": "glabella", "kind": "fws_grade", "value": "1", "observed_on": timezone.localdate().isoformat()}
    return client.post(reverse("observation_new", args=[patient.public_id]), {**body, **data})


def test_the_patient_page_offers_the_treated_areas(as_clinician, treated):
    html = as_clinician.get(reverse("patient", args=[treated.public_id])).content.decode()
    assert "Record a reading" in html and 'value="glabella"' in html


def test_a_grade_is_recorded_audited_and_queues_the_forecast(as_clinician, treated, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        r = post(as_clinician, treated)
    assert r.status_code == 302
    obs = Observation.objects.get(patient=treated)
    assert (obs.kind, obs.area, obs.value, obs.source) == ("fws_grade", "glabella", 1.0, "clinician")
    assert AuditEvent.objects.filter(action="observation.record", patient_id_ref=treated.pk).exists()
    assert DBTaskResult.objects.exists()


@pytest.mark.parametrize(("data", "message"), [
    ({"value": "4"}, "must be from 0 to 3"),
    ({"value": "1.5"}, "must be a whole number"),
    ({"value": "abc"}, "Enter a number"),
    # In words, with what the area takes (it said "headache_days is not recorded for glabella").
    ({"kind": "headache_days", "value": "10"}, "headache days is not recorded for Glabella (frown lines): choose a wrinkle grade"),
    ({"area": "knee"}, "Select a valid choice"),
    ({"observed_on": "2999-01-01"}, "is in the future"),
])
def test_bad_readings_are_refused_naming_the_field(as_clinician, treated, data, message):
    r = post(as_clinician, treated, **data)
    assert r.status_code == 422 and message in r.content.decode()
    assert not Observation.objects.exists()


def test_front_desk_cannot_record_and_another_clinic_gets_404(client, treated, front_desk, other_clinician):
    from tests.conftest import PASSWORD

    client.login(username="bob", password=PASSWORD)
    assert post(client, treated).status_code == 403
    client.logout()
    client.login(username="charlie", password=PASSWORD)
    assert post(client, treated).status_code == 404
    assert not Observation.objects.exists()


def _reading_select(html):
    import re

    return re.search(r'<select name="kind".*?</select>', html, re.S).group(0)


def test_a_cosmetic_patient_is_offered_only_the_wrinkle_grade(as_clinician, treated):
    select = _reading_select(as_clinician.get(reverse("patient", args=[treated.public_id])).content.decode())
    assert 'value="fws_grade"' in select and 'data-areas="glabella"' in select
    assert "headache_days" not in select and "symptom_score" not in select
    assert "<optgroup" not in select


def test_readings_are_grouped_by_the_areas_they_fit(as_clinician, treated, clinician):
    import re

    signed_treatment(treated, clinician, timezone.localdate() - dt.timedelta(days=20), {"migraine": 155},
                     indication="chronic_migraine")
    html = as_clinician.get(reverse("patient", args=[treated.public_id])).content.decode()
    groups = re.findall(r'<optgroup label="([^"]*)">\s*<option value="(\w+)" data-areas="([^"]*)"', _reading_select(html))
    assert groups == [
        ("For Glabella (frown lines)", "fws_grade", "glabella"),
        ("For Head and neck (chronic migraine)", "headache_days", "migraine"),
    ]
    assert "symptom_score" not in _reading_select(html)
    # The mapping is the core's: every offered pair is one the service accepts.
    r = post(as_clinician, treated, area="migraine", kind="headache_days", value="8")
    assert r.status_code == 302
    assert Observation.objects.get(area="migraine").kind == "headache_days"


def test_a_reading_posted_for_the_wrong_area_is_still_refused_in_words(as_clinician, treated, clinician):
    signed_treatment(treated, clinician, timezone.localdate() - dt.timedelta(days=20), {"migraine": 155},
                     indication="chronic_migraine")
    r = post(as_clinician, treated, area="migraine", kind="fws_grade", value="1")
    assert r.status_code == 422
    assert "a wrinkle grade is not recorded for Head and neck (chronic migraine): choose headache days" in r.content.decode()
    assert not Observation.objects.exists()
