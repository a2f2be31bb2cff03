"""Background tasks of the maintenance loop (django-tasks; the database backend by
default, so `touchup worker` runs them)."""

from __future__ import annotations

import logging

from django_tasks import task

log = logging.getLogger(__name__)


@task()
def recompute_forecasts(patient_id: int) -> list[str]:
    """Recompute one patient's forecasts; returns the areas forecast. A patient deleted
    since the task was queued is nothing to do."""
    from touchup.clinic.models import Patient

    from .services.forecasts import ForecastUnavailable, recompute

    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return []
    try:
        rows = recompute(patient)
    except ForecastUnavailable as exc:
        # The chart holds something the model cannot read: keep the old rows, say where
        # (the message names a field, never a value that identifies the patient).
        log.warning("forecast for patient row %s not recomputed: %s", patient_id, exc)
        return []
    return [r.area for r in rows]


@task()
def propose_calibration(clinic_id: int, actor_id: int | None = None) -> dict:
    """Fit the clinic's medians to its charts (services.calibration.propose): the page
    shows the proposal when it is ready."""
    from django.contrib.auth import get_user_model

    from touchup.clinic.models import Clinic

    from .services import calibration

    clinic = Clinic.objects.get(pk=clinic_id)
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        row = calibration.propose(clinic, actor=actor)
    except calibration.NothingToCalibrate:
        return {"patients": 0}
    return {"calibration": row.pk, "patients": row.patients}


@task()
def recompute_clinic(clinic_id: int) -> dict:
    """Recompute every forecast of a clinic (after its medians change)."""
    from touchup.clinic.models import Patient

    from .services.forecasts import recompute_many

    return recompute_many(Patient.objects.filter(clinic_id=clinic_id).order_by("pk"))
