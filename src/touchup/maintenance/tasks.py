"""Background tasks of the maintenance loop (django-tasks; the database backend by
default, so `touchup worker` runs them)."""

from __future__ import annotations

import logging

from django_tasks import task

log = logging.getLogger(__name__)


@task()
def recompute_forecasts(patient_id: int, only_if_requested: bool = False) -> list[str]:
    """Recompute one patient's forecasts; returns the areas forecast. A patient deleted
    since the task was queued is nothing to do.

    Then drops the patient's RecomputeRequest if no change came in since the task began
    reading; otherwise it stays and is queued again. `only_if_requested` (what
    request_recompute and the sweep queue): nothing is pending any more, so another run
    has done it; the duplicate costs one query."""
    from touchup.clinic.models import Patient

    from .services.forecasts import ForecastUnavailable, pending_request, recompute, request_done

    token = pending_request(patient_id)  # before the chart is read (see request_done)
    if token is None and only_if_requested:
        return []
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return []  # its request went with it (on delete cascade)
    try:
        areas = [r.area for r in recompute(patient)]
    except ForecastUnavailable as exc:
        # The chart holds something the model cannot read: keep the old rows, say where
        # (the message names a field, never a value that identifies the patient). The
        # request is dropped all the same: the same chart would fail the same way on every
        # retry, and the change that corrects it asks for a recompute of its own.
        log.warning("forecast for patient row %s not recomputed: %s", patient_id, exc)
        areas = []
    # Any other error leaves the request: the sweep queues it again later (with back-off).
    request_done(patient_id, token)
    return areas


@task()
def propose_calibration(clinic_id: int, actor_id: int | None = None, only_if_requested: bool = False) -> dict:
    """Fit the clinic's medians to its charts (services.calibration.run_requested_fit): the
    page shows the proposal when it is ready. `actor_id` is only read by tasks queued before
    the fit request kept who asked."""
    from django.contrib.auth import get_user_model

    from .services import calibration

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return calibration.run_requested_fit(clinic_id, actor=actor, only_if_requested=only_if_requested)


@task()
def score_track_record(clinic_id: int, only_if_requested: bool = False) -> dict:
    """Score the clinic's forecast track record and keep it
    (services.track_record.run_requested): the page shows it when it is ready."""
    from .services import track_record

    return track_record.run_requested(clinic_id, only_if_requested=only_if_requested)


@task()
def recompute_clinic(clinic_id: int, only_if_requested: bool = False) -> dict:
    """Recompute every forecast of a clinic (after its medians change); the clinic's
    ClinicRecomputeRequest is dropped after, unless asked for again meanwhile."""
    from .services.forecasts import CLINIC, pending_request, recompute_clinic_forecasts

    if only_if_requested and pending_request(clinic_id, CLINIC) is None:
        return {}  # another run has done it (see recompute_forecasts)
    return recompute_clinic_forecasts(clinic_id)
