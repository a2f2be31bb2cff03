"""Forecast rows: built from the chart, replaced in one transaction, recomputed in the
background when the chart changes."""

import datetime as dt

import pytest
from django.utils import timezone

from touchup.clinic.models import AuditEvent, Observation
from touchup.core.forecast import forecast
from touchup.maintenance.models import AreaForecast, Reminder
from touchup.maintenance.services import forecasts
from touchup.maintenance.services.forecasts import ForecastUnavailable

from .conftest import signed_treatment


def observe(patient, day, area, kind, value, source="clinician"):
    return Observation.objects.create(patient=patient, area=area, observed_on=day, kind=kind, value=value,
                                      source=source)


def test_the_chart_becomes_the_history_the_model_reads(patient, clinician):
    today = timezone.localdate()
    first = signed_treatment(patient, clinician, today - dt.timedelta(days=300), {"glabella": 20})
    signed_treatment(patient, clinician, today - dt.timedelta(days=40), {"glabella": 20, "forehead": 10},
                     indication="upper_face_lines")
    observe(patient, first.treated_on - dt.timedelta(days=5), "glabella", "fws_grade", 3)  # before: not history
    observe(patient, today - dt.timedelta(days=40), "glabella", "fws_grade", 3)
    observe(patient, today - dt.timedelta(days=20), "glabella", "fws_grade", 1)
    observe(patient, today - dt.timedelta(days=2), "glabella", "wearing_off_reported", 0.0, source="patient")
    h = forecasts.history_for(patient, today)
    assert [t.date for t in h.treatments] == [today - dt.timedelta(days=300), today - dt.timedelta(days=40)]
    assert {a.area: a.units for a in h.treatments[1].areas} == {"glabella": 20.0, "forehead": 10.0}
    assert len(h.observations) == 3
    assert h.observations[-1].value is False
    assert h.patient.sex == "female"


def test_recompute_writes_one_row_per_area_matching_the_core_forecast(patient, clinician):
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=60), {"glabella": 20, "forehead": 10},
                         indication="upper_face_lines")
    rows = forecasts.recompute(patient)
    expected = {a.area: a for a in forecast(forecasts.history_for(patient, today)).areas}
    assert {r.area for r in rows} == set(expected) == {"glabella", "forehead"}
    for r in AreaForecast.objects.filter(patient=patient):
        e = expected[r.area]
        assert (r.wear_off_date, r.book_from, r.book_by, r.earliest_allowed) == (
            e.wear_off_date, e.book_from, e.book_by, e.earliest_allowed)
        assert (r.wear_off_low, r.wear_off_high) == e.wear_off_interval
        assert r.treatment == t and r.clinician == clinician and r.clinic_id == patient.clinic_id
        assert r.basis == "population prior only (no personal data yet)"
    assert AuditEvent.objects.filter(action="forecast.recompute", patient_id_ref=patient.pk).count() == 1


def test_recompute_replaces_rows_and_keeps_contact_state_within_a_cycle(patient, clinician):
    today = timezone.localdate()
    signed_treatment(patient, clinician, today - dt.timedelta(days=100), {"glabella": 20})
    forecasts.recompute(patient)
    AreaForecast.objects.update(contact_status="not_reachable", contact_at=timezone.now())
    observe(patient, today - dt.timedelta(days=1), "glabella", "wearing_off_reported", 1.0, source="patient")
    [row] = forecasts.recompute(patient)
    assert row.contact_status == "not_reachable"
    assert "1 check-in this cycle" in row.basis
    # A new treatment of the area starts a new cycle: a clean slate.
    new = signed_treatment(patient, clinician, today, {"glabella": 20})
    [row] = forecasts.recompute(patient)
    assert row.treatment == new and row.contact_status == ""
    assert AreaForecast.objects.filter(patient=patient).count() == 1


def test_an_unreadable_chart_changes_nothing_and_names_the_field(patient, clinician):
    today = timezone.localdate()
    signed_treatment(patient, clinician, today - dt.timedelta(days=100), {"glabella": 20})
    before = forecasts.recompute(patient)
    observe(patient, today - dt.timedelta(days=3), "glabella", "fws_grade", 7)  # not a 0-3 grade
    with pytest.raises(ForecastUnavailable, match=r"observations\[0\]\.value"):
        forecasts.recompute(patient)
    assert list(AreaForecast.objects.values_list("pk", flat=True)) == [r.pk for r in before]


def test_no_signed_treatment_no_forecast(patient):
    assert forecasts.recompute(patient) == []


def test_recompute_schedules_the_window_reminders(patient, clinician):
    patient.email = "dana@example.invalid"
    patient.save()
    today = timezone.localdate()
    t = signed_treatment(patient, clinician, today - dt.timedelta(days=30), {"glabella": 20})
    [row] = forecasts.recompute(patient)
    maintenance = Reminder.objects.get(treatment=t, step="maintenance")
    assert maintenance.due_at.date() == row.book_from
    assert Reminder.objects.get(treatment=t, step="checkin_before_window").due_at.date() == (
        row.book_from - dt.timedelta(days=14))


@pytest.mark.django_db(transaction=True)
def test_request_recompute_enqueues_after_commit_and_the_worker_runs_it(patient, clinician):
    """Real commits (the worker checks its connection like a request does)."""
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from touchup.commands.worker import _run_tasks

    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    with transaction.atomic():
        forecasts.request_recompute(patient)
        assert DBTaskResult.objects.count() == 0  # nothing before the commit
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    _run_tasks("test-worker")
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert AreaForecast.objects.filter(patient=patient, area="glabella").exists()


def test_recompute_after_signing_today_schedules_aftercare_and_the_peak_check_in(patient, clinician):
    patient.phone = "+447700900126"
    patient.save()
    t = signed_treatment(patient, clinician, timezone.localdate(), {"glabella": 20})
    forecasts.recompute(patient)
    forecasts.recompute(patient)  # twice: still one of each
    steps = sorted(Reminder.objects.filter(treatment=t).values_list("step", flat=True))
    assert steps == ["aftercare", "checkin_before_window", "checkin_peak", "checkin_watch", "maintenance"]


def test_recompute_many_writes_what_recompute_writes(patient, clinician, clinic_a):
    from touchup.clinic.services.patients import patient_create

    today = timezone.localdate()
    signed_treatment(patient, clinician, today - dt.timedelta(days=90), {"glabella": 20})
    observe(patient, today - dt.timedelta(days=3), "glabella", "wearing_off_reported", 1.0, source="patient")
    other = patient_create(actor=clinician, clinic=clinic_a, given_name="Eve", family_name="Other",
                           birth_date=dt.date(1970, 1, 1), sex="male")
    signed_treatment(other, clinician, today - dt.timedelta(days=20), {"cervical_dystonia": 200},
                     indication="cervical_dystonia")
    broken = patient_create(actor=clinician, clinic=clinic_a, given_name="Fay", family_name="Bad",
                            birth_date=dt.date(1970, 1, 1), sex="female")
    signed_treatment(broken, clinician, today - dt.timedelta(days=20), {"glabella": 20})
    observe(broken, today - dt.timedelta(days=2), "glabella", "fws_grade", 9)
    counts = forecasts.recompute_many([patient, other, broken], chunk=2)
    assert counts == {"forecast": 2, "no_treatment": 0, "unavailable": 1}
    batched = {(r.patient_id, r.area): (r.wear_off_date, r.book_from, r.book_by, r.basis)
               for r in AreaForecast.objects.all()}
    one_by_one = {(r.patient_id, r.area): (r.wear_off_date, r.book_from, r.book_by, r.basis)
                  for p in (patient, other) for r in forecasts.recompute(p)}
    assert batched == one_by_one and len(batched) == 2


def test_many_charts_are_read_in_three_queries_and_read_as_one_at_a_time(patient, clinician, clinic_a,
                                                                         django_assert_num_queries):
    from touchup.clinic.services.patients import patient_create

    today = timezone.localdate()
    other = patient_create(actor=clinician, clinic=clinic_a, given_name="Eli", family_name="Example",
                           birth_date=dt.date(1970, 5, 6), sex="male")
    untreated = patient_create(actor=clinician, clinic=clinic_a, given_name="Fay", family_name="Example",
                               birth_date=dt.date(1990, 1, 1), sex="female")
    signed_treatment(patient, clinician, today - dt.timedelta(days=200), {"glabella": 20})
    signed_treatment(patient, clinician, today - dt.timedelta(days=30), {"glabella": 20, "forehead": 10},
                     indication="upper_face_lines")
    signed_treatment(other, clinician, today - dt.timedelta(days=90), {"glabella": 25})
    observe(patient, today - dt.timedelta(days=250), "glabella", "fws_grade", 3)  # before: not history
    observe(patient, today - dt.timedelta(days=30), "glabella", "fws_grade", 2)
    observe(other, today - dt.timedelta(days=10), "glabella", "wearing_off_reported", 1.0, source="patient")
    observe(untreated, today - dt.timedelta(days=5), "glabella", "fws_grade", 2)
    one_at_a_time = {p.pk: forecasts.history_data(p, today) for p in (patient, other, untreated)}
    with django_assert_num_queries(3):
        together = forecasts.histories_data([patient, other, untreated], today)
    assert together == one_at_a_time
    assert together[untreated.pk] is None and len(together[patient.pk]["observations"]) == 1
    assert together[other.pk]["observations"][0]["value"] is True
