"""The manager's calibration page: the medians in use, a fit run by the worker, applying
it (and every forecast recomputed); nobody else gets in."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.maintenance.test_calibration import long_lasting_patients
from touchup.clinic.models import AuditEvent
from touchup.commands.worker import _run_tasks
from touchup.maintenance.models import AreaForecast, CalibrationFitRequest, MedianCalibration
from touchup.maintenance.services import calibration
from touchup.maintenance.services.forecasts import requeue_due


@pytest.mark.django_db(transaction=True)  # real commits: the worker checks its connection as a request does
def test_the_manager_fits_then_applies_and_the_forecasts_follow(as_manager, clinic_a, clinician):
    patients = long_lasting_patients(clinic_a, clinician, 24)
    page = as_manager.get("/forecast/calibration/")
    assert page.status_code == 200
    assert "The published medians" in page.content.decode() and "No fit waiting" in page.content.decode()
    # What the forecasts start from, with its sources, on the page itself.
    published = page.content.decode().split('id="fit-h"')[0]
    assert "Glabella (frown lines)" in published and "130 days" in published
    assert "Carruthers J et al." in published and 'href="https://pmc.ncbi.nlm.nih.gov/articles/PMC10374180"' in published

    r = as_manager.post("/forecast/calibration/fit/")
    assert r.status_code == 302
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    page = as_manager.get("/forecast/calibration/").content.decode()
    assert "Fitting to the clinic's patients" in page and "by mona" in page and "Fit now" not in page
    assert 'hx-trigger="every 5s"' in page  # the section refreshes itself until the fit is in
    _run_tasks("test-worker")
    assert not CalibrationFitRequest.objects.exists()
    proposal = MedianCalibration.objects.get()
    assert proposal.created_by.username == "mona"
    page = as_manager.get("/forecast/calibration/").content.decode()
    assert "Fitted on" in page and "24 patient histories" in page and "Apply these medians" in page
    assert "every 5s" not in page and "Fit now" in page
    assert f"{proposal.result['glabella']['after']:.0f} days" in page

    r = as_manager.post(f"/forecast/calibration/{proposal.pk}/apply/")
    assert r.status_code == 302
    _run_tasks("test-worker")
    assert calibration.active(clinic_a.pk) == proposal
    assert AreaForecast.objects.filter(patient__in=patients).count() == 24
    page = as_manager.get("/forecast/calibration/").content.decode()
    assert "applied" in page and "No fit waiting" in page
    assert AuditEvent.objects.filter(action="forecast.calibration.apply").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_fit_lost_with_its_worker_is_queued_again(as_manager, clinic_a, clinician):
    long_lasting_patients(clinic_a, clinician, 3)
    as_manager.post("/forecast/calibration/fit/")
    DBTaskResult.objects.all().delete()  # the worker died with the task in hand
    assert requeue_due() == 0  # not yet: a fit takes a while
    later = timezone.now() + dt.timedelta(minutes=31)
    assert requeue_due(now=later) == 1
    assert requeue_due(now=later) == 0  # taken once, even with two sweeping workers
    _run_tasks("test-worker")
    assert MedianCalibration.objects.get().created_by.username == "mona"
    assert not CalibrationFitRequest.objects.exists()
    assert AuditEvent.objects.filter(action="forecast.calibration.request").count() == 1


def test_asking_again_during_a_fit_asks_for_one_more(clinic_a, clinician, manager):
    long_lasting_patients(clinic_a, clinician, 2)
    calibration.request_fit(clinic_a.pk, manager)
    token = CalibrationFitRequest.objects.get().token
    calibration.request_fit(clinic_a.pk, manager)  # a chart was signed meanwhile, say
    assert CalibrationFitRequest.objects.get().token != token
    calibration.run_requested_fit(clinic_a.pk, only_if_requested=True)
    assert not CalibrationFitRequest.objects.exists() and MedianCalibration.objects.count() == 1
    assert calibration.run_requested_fit(clinic_a.pk, only_if_requested=True) == {}  # a duplicate task
    assert MedianCalibration.objects.count() == 1


def test_a_clinic_with_nothing_to_fit_says_so(as_manager, clinic_a, django_capture_on_commit_callbacks):
    page = as_manager.get("/forecast/calibration/").content.decode()
    assert "There is nothing to fit yet" in page and "Fit now" not in page
    with django_capture_on_commit_callbacks(execute=True):
        r = as_manager.post("/forecast/calibration/fit/", follow=True)
    assert "the clinic has no signed treatments" in r.content.decode()
    assert not CalibrationFitRequest.objects.exists() and not DBTaskResult.objects.exists()


def test_an_old_fit_is_not_applied(as_manager, clinic_a, clinician):
    long_lasting_patients(clinic_a, clinician, 2)
    old = calibration.propose(clinic_a)
    calibration.propose(clinic_a)
    r = as_manager.post(f"/forecast/calibration/{old.pk}/apply/", follow=True)
    assert "no longer the latest" in r.content.decode()
    assert calibration.active(clinic_a.pk) is None


def test_only_the_manager_gets_in(as_clinician, clinic_a, django_capture_on_commit_callbacks):
    for url, method in (("/forecast/calibration/", "get"), ("/forecast/calibration/fit/", "post"),
                        ("/forecast/calibration/1/apply/", "post")):
        with django_capture_on_commit_callbacks(execute=True):
            assert getattr(as_clinician, method)(url).status_code == 403
    assert AuditEvent.objects.filter(action="access.role", outcome="denied").count() == 3
    assert not DBTaskResult.objects.exists()
    assert as_clinician.get("/forecast/calibration/fit/").status_code in (403, 405)
