"""The manager's calibration page: the medians in use, a fit run by the worker, applying
it (and every forecast recomputed); nobody else gets in."""

import pytest
from django_tasks_db.models import DBTaskResult

from tests.maintenance.test_calibration import long_lasting_patients
from touchup.clinic.models import AuditEvent
from touchup.commands.worker import _run_tasks
from touchup.maintenance.models import AreaForecast, MedianCalibration
from touchup.maintenance.services import calibration


@pytest.mark.django_db(transaction=True)  # real commits: the worker checks its connection as a request does
def test_the_manager_fits_then_applies_and_the_forecasts_follow(as_manager, clinic_a, clinician):
    patients = long_lasting_patients(clinic_a, clinician, 24)
    page = as_manager.get("/forecast/calibration/")
    assert page.status_code == 200
    assert "The published medians" in page.content.decode() and "No fit waiting" in page.content.decode()

    r = as_manager.post("/forecast/calibration/fit/")
    assert r.status_code == 302
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    _run_tasks("test-worker")
    proposal = MedianCalibration.objects.get()
    page = as_manager.get("/forecast/calibration/").content.decode()
    assert "Fitted on" in page and "24 patient histories" in page and "Apply these medians" in page
    assert f"{proposal.result['glabella']['after']:.0f} days" in page

    r = as_manager.post(f"/forecast/calibration/{proposal.pk}/apply/")
    assert r.status_code == 302
    _run_tasks("test-worker")
    assert calibration.active(clinic_a.pk) == proposal
    assert AreaForecast.objects.filter(patient__in=patients).count() == 24
    page = as_manager.get("/forecast/calibration/").content.decode()
    assert "applied" in page and "No fit waiting" in page
    assert AuditEvent.objects.filter(action="forecast.calibration.apply").count() == 1


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
