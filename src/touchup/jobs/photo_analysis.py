"""Analyse a kept photo in the background: align it to the patient's baseline photo of
the same view, measure each region, and store the result (which turns the measured
areas into wrinkle_index observations, so the forecast updates).

Enqueued by touchup.clinic.services.photos.photo_upload; run by the django-tasks worker.
"""

from __future__ import annotations

import logging

from django_tasks import task

logger = logging.getLogger(__name__)


@task()
def analyze_photo(photo_id: int, only_if_pending: bool = False) -> str:
    """Analyse one photo against its view's baseline as it is when the job runs. A photo
    removed or without clinical consent by then is not analysed; a result measured against
    a baseline replaced meanwhile is not stored (the change queued a newer job).

    Safe to run twice (docs/photos.md "An analysis is never lost"): the photo row says
    whether an analysis is owed, and the run first counts itself on the row (committed, so
    a worker killed mid-run leaves the count for the sweep). `only_if_pending` (what the
    upload, the re-analyses and the sweep queue): nothing is owed any more, so another run
    has stored it; the duplicate costs one query. Tasks queued without it just analyse."""
    from touchup.clinic.models import Photo
    from touchup.clinic.services.photos import (
        analyse,
        analysis_not_owed,
        analysis_started,
        baseline_of,
        photo_bytes,
        photo_record_analysis,
    )

    if not analysis_started(photo_id) and only_if_pending:
        return "not pending"
    photo = Photo.objects.select_related("patient").filter(pk=photo_id).first()
    if photo is None:
        return "gone"
    if photo.removed_at is not None:
        analysis_not_owed(photo_id)
        return "removed"
    if not photo.consent_clinical:
        analysis_not_owed(photo_id)
        return "no clinical consent"
    baseline = None
    try:
        baseline = None if photo.is_baseline else baseline_of(photo.patient, photo.view, excluding=photo)
        # The view is passed so a wrong expression is recorded as a quality problem (and,
        # like any problem, keeps the photo's regions out of the series).
        result = analyse(photo_bytes(photo), baseline, photo.view)
        if baseline is not None:
            result["baseline"] = str(baseline.public_id)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the photo, then re-raised
        # Ids only in the log: no patient data.
        logger.exception("photo analysis failed for photo id %s", photo_id)
        photo_record_analysis(photo_id=photo_id, result=None, error=f"{type(exc).__name__}: the analysis could not run.",
                              baseline_id=baseline.pk if baseline is not None else None)
        raise
    photo_record_analysis(photo_id=photo_id, result=result, baseline_id=baseline.pk if baseline is not None else None)
    return "done"
