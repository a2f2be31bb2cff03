"""Signing a chart is what starts the maintenance loop: the forecast and the reminders
follow from the signature, through the background task."""

import pytest
from django.db import transaction

from touchup.clinic.services.screenings import screening_record
from touchup.clinic.services.treatments import treatment_sign, treatment_start
from touchup.maintenance.models import AreaForecast, Reminder
from tests.web.conftest import clean_answers


@pytest.mark.django_db(transaction=True)
def test_signing_queues_the_recompute_and_the_worker_makes_the_forecast(patient, clinician, vial):
    from django_tasks_db.models import DBTaskResult

    from touchup.commands.worker import _run_tasks

    patient.email = "dana@example.test"  # reminders need a way to reach her
    patient.save(update_fields=["email"])
    screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())
    draft = treatment_start(actor=clinician, patient=patient, indication="glabellar_lines",
                            product="onabotulinumtoxinA", protocol="glabellar_ona_20", vial=vial)
    with transaction.atomic():
        treatment_sign(actor=clinician, treatment=draft)
        assert not DBTaskResult.objects.exists()  # queued only once the signature commits
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    _run_tasks("test-worker")
    row = AreaForecast.objects.get(patient=patient, area="glabella")
    assert row.treatment_id == draft.pk and row.book_from > draft.treated_on
    assert Reminder.objects.filter(patient=patient, treatment=draft).exists()
