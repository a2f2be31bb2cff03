"""Readings and forecasts over the API."""

import datetime as dt

import pytest
from django.utils import timezone

from touchup.clinic.models import AuditEvent, Observation
from tests.maintenance.conftest import signed_treatment

from .helpers import fields_named


def test_a_clinician_records_a_grade(api_clinician, patient):
    r = api_clinician.post(f"/patients/{patient.public_id}/observations",
                           {"area": "glabella", "kind": "fws_grade", "value": 2})
    assert r.status_code == 201, r.json()
    assert r.json()["source"] == "clinician"
    assert Observation.objects.get(patient=patient).value == 2.0


@pytest.mark.parametrize(("body", "field"), [
    ({"area": "glabella", "kind": "fws_grade", "value": 7}, "value"),
    ({"area": "glabella", "kind": "wrinkle_index", "value": 0.3}, "kind"),
    ({"area": "knee", "kind": "fws_grade", "value": 1}, "area"),
    ({"area": "migraine", "kind": "fws_grade", "value": 1}, "kind"),  # a kind the area does not take
    ({"area": "glabella", "kind": "fws_grade", "value": 1, "observed_on": "2999-01-01"}, "observed_on"),
])
def test_bad_readings_name_the_field_and_write_nothing(api_clinician, patient, body, field):
    r = api_clinician.post(f"/patients/{patient.public_id}/observations", body)
    assert r.status_code == 422 and field in fields_named(r), r.json()
    assert not Observation.objects.exists()


def test_the_forecast_is_read_per_area_and_audited(api_clinician, patient, clinician):
    from touchup.maintenance.services.forecasts import recompute

    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    recompute(patient)
    r = api_clinician.get(f"/patients/{patient.public_id}/forecasts")
    assert r.status_code == 200
    [row] = r.json()
    assert row["area"] == "glabella"
    low, high = row["wear_off_interval"]
    assert low <= row["wear_off_date"] <= high and row["earliest_allowed"] >= row["treatment_date"]
    assert AuditEvent.objects.filter(action="forecast.view", patient_id_ref=patient.pk).exists()


def test_front_desk_cannot_read_forecasts_or_record(api_front_desk, patient):
    assert api_front_desk.get(f"/patients/{patient.public_id}/forecasts").status_code == 403
    r = api_front_desk.post(f"/patients/{patient.public_id}/observations",
                            {"area": "glabella", "kind": "fws_grade", "value": 1})
    assert r.status_code == 403


def test_another_clinics_patient_is_404_and_audited(api_other, patient, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        responses = (api_other.get(f"/patients/{patient.public_id}/forecasts"),
                     api_other.post(f"/patients/{patient.public_id}/observations",
                                    {"area": "glabella", "kind": "fws_grade", "value": 1}))
    assert [r.status_code for r in responses] == [404, 404]
    assert AuditEvent.objects.filter(outcome="denied").count() >= 2
    assert not Observation.objects.exists()
