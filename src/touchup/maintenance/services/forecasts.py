"""Keep each patient's AreaForecast rows in step with their chart.

    history_for(patient, as_of)        -> touchup.core.history.History (signed treatments
                                          and observations, as `touchup forecast` reads them)
    recompute(patient, actor=None)     -> the patient's new AreaForecast rows (one transaction,
                                          audited; reminders before/at the window follow)
    recompute_many(patients)           -> the same for many (a backfill), the model batched;
                                          drops the pending requests it has done
    request_recompute(patient)         -> note the request in the caller's transaction and
                                          enqueue the background task once it commits (call
                                          it from any service that signs a treatment or
                                          records an observation; the task also schedules
                                          the after-sign reminders)
    request_clinic_recompute(clinic_id) -> the same for every forecast of a clinic (its
                                          medians changed), one row for the clinic
    recompute_clinic_forecasts(clinic_id) -> what that task does (recompute_many)
    requeue_due()                      -> the worker's sweep: queue again every request not
                                          finished in time (lost enqueue, killed worker);
                                          also the owed calibration fits and track-record
                                          scorings (FIT, TRACK)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from touchup.clinic import audit
from touchup.clinic.models import InjectionPoint, Observation, Patient, Treatment, TreatmentStatus
from touchup.core.early_report import early_report
from touchup.core.history import History, HistoryError, parse_history

from ..models import (
    MAX_WINDOW_DAYS,
    AreaForecast,
    CalibrationFitRequest,
    ClinicRecomputeRequest,
    OwedRecompute,
    RecomputeRequest,
    TrackRecordRequest,
)

log = logging.getLogger(__name__)


class ForecastUnavailable(Exception):
    """The chart cannot be read as a history (the message names the field); nothing changed."""


def history_data(patient: Patient, as_of: dt.date) -> dict[str, Any] | None:
    """The patient's chart in the History JSON shape (DESIGN.md), or None without a signed
    treatment. Returned as plain data so it goes through the same checks as a file."""
    return histories_data([patient], as_of)[patient.pk]


def histories_data(patients: Iterable[Patient], as_of: dt.date) -> dict[int, dict[str, Any] | None]:
    """history_data() for many patients (by row id) in three queries, not three each: a
    calibration or a backfill reads every chart of the clinic."""
    by_id = {p.pk: p for p in patients}
    treatments: dict[int, list] = defaultdict(list)
    for pid, *row in (
        Treatment.objects.filter(patient_id__in=list(by_id), status=TreatmentStatus.SIGNED, treated_on__lte=as_of)
        .order_by("patient_id", "treated_on", "pk")
        .values_list("patient_id", "pk", "treated_on", "product", "indication")
    ):
        treatments[pid].append(row)
    units: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for tid, area, u in InjectionPoint.objects.filter(
        treatment__patient_id__in=list(treatments), treatment__status=TreatmentStatus.SIGNED,
        treatment__treated_on__lte=as_of,
    ).values_list("treatment_id", "area", "units"):
        if u is not None:
            units[tid][area] += float(u)
    observations: dict[int, list] = defaultdict(list)
    for pid, *row in (
        Observation.objects.filter(patient_id__in=list(treatments), observed_on__lte=as_of)
        .order_by("patient_id", "observed_on", "pk")
        .values_list("patient_id", "observed_on", "area", "kind", "value")
    ):
        observations[pid].append(row)
    return {
        pid: _assemble(patient, treatments.get(pid, []), units, observations.get(pid, []), as_of)
        for pid, patient in by_id.items()
    }


def _assemble(patient: Patient, treatments: list, units: dict, observations: list,
              as_of: dt.date) -> dict[str, Any] | None:
    """One patient's history from their signed treatments (pk, day, product, indication; in
    date order), the units per treatment and area, and their observations (date order)."""
    if not treatments:
        return None
    first = treatments[0][1]
    readings = [
        {
            "date": d.isoformat(), "area": area, "kind": kind,
            "value": bool(value) if kind == "wearing_off_reported" else value,
        }
        for d, area, kind, value in observations
        if d >= first  # readings before the first treatment are not part of the history
    ]
    # Two signed charts of the same area on one day (a chart split in two) are one session.
    merged: dict[tuple[dt.date, str], dict] = {}
    rows = []
    for tid, day, product, indication in treatments:
        doses = units.get(tid)
        if not doses:
            continue  # a signed chart always has units; keep the history valid regardless
        key = (day, product)
        row = merged.get(key)
        if row is None or row["indication"] != indication:
            row = {"date": day.isoformat(), "product": product, "indication": indication, "areas": [],
                   "_ids": []}
            merged[key] = row
            rows.append(row)
        row["_ids"].append(tid)
        for area, u in doses.items():
            existing = next((a for a in row["areas"] if a["area"] == area), None)
            if existing:
                existing["units"] += u
            else:
                row["areas"].append({"area": area, "units": u})
    if not rows:
        return None
    return {
        "as_of": as_of.isoformat(),
        "patient": {"sex": patient.sex, "birth_date": patient.birth_date.isoformat()},
        "treatments": rows,
        "observations": readings,
    }


def history_for(patient: Patient, as_of: dt.date | None = None) -> History | None:
    data = history_data(patient, as_of or timezone.localdate())
    return parse_chart(data) if data is not None else None


def _treatment_for(data: dict, area: str, treated_on: dt.date) -> int:
    """The treatment (row id) behind a forecast entry: the latest signed chart of that day
    with the area."""
    day = treated_on.isoformat()
    for row in reversed(data["treatments"]):
        if row["date"] == day and any(a["area"] == area for a in row["areas"]):
            return row["_ids"][-1]
    raise LookupError(area)


def parse_chart(data: dict) -> History:
    """A history_data() dict as a History (ForecastUnavailable naming the field if it is not one)."""
    clean = {**data, "treatments": [{k: v for k, v in r.items() if k != "_ids"} for r in data["treatments"]]}
    try:
        return parse_history(clean, source="chart")
    except HistoryError as exc:
        raise ForecastUnavailable(str(exc)) from None


def lock_forecasts(patient_id: int) -> Patient | None:
    """Lock the patient's row, under which their forecast rows are written: a recompute
    replaces them, and booking, cancelling, noting a contact and sending the maintenance
    reminder change them. Each takes this first, before any forecast row, so none works from
    rows another is replacing (a booking, a cancellation or a contact status lost to a
    recompute that read the rows before it) and two recomputes of one patient queue.

    FOR NO KEY UPDATE, not FOR UPDATE: a reading or a signature committing meanwhile checks its
    foreign key to the patient at commit (FOR KEY SHARE) while it holds the audit chain's
    head, which these transactions ask for last; under FOR UPDATE the two waited for each
    other and PostgreSQL aborted one (a 500 for the clinician). In the caller's transaction;
    SQLite ignores it (one writer at a time).

    Returns the row as locked (None if it is gone): work from it, not from a copy read before
    the wait, which may predate a change committed meanwhile (the reminder channel)."""
    return Patient.objects.select_for_update(no_key=True).filter(pk=patient_id).first()


@transaction.atomic
def recompute(patient: Patient, *, actor: Any = None, as_of: dt.date | None = None) -> list[AreaForecast]:
    """Replace the patient's forecast rows with a fresh forecast of their chart.

    Booking and contact state carry over for an area whose treatment has not changed (a
    new treatment starts a new cycle); the note of a call about an early report, while the
    report is the same (early_report_on unchanged). Raises ForecastUnavailable, writing nothing, when
    the chart cannot be read as a history.
    """
    from touchup.core.forecast import forecast

    from .calibration import note_calibrated, priors_for

    as_of = as_of or timezone.localdate()
    # Before reading the rows it carries booking and contact from; and the patient as locked:
    # a copy read before waiting for the lock scheduled reminders on a channel the patient had
    # just changed (even after "no reminders").
    patient = lock_forecasts(patient.pk) or patient
    data = history_data(patient, as_of)
    areas = ()
    if data is not None:
        priors = priors_for(patient.clinic_id)
        areas = note_calibrated(forecast(parse_chart(data), priors=priors).areas, priors)
    return _store(patient, data, areas, actor=actor, as_of=as_of)


def recompute_many(patients: Iterable[Patient], *, as_of: dt.date | None = None, chunk: int = 2000) -> dict[str, int]:
    """recompute() for many patients (a backfill, the demo, a clinic's new medians): the
    model runs on a whole chunk at once (core.forecast.forecast_many), each patient is
    written in a transaction of its own. A chart the model cannot read is counted and left
    as it was.

    A patient's pending RecomputeRequest is done by this (as of today) exactly as its own
    task would do it, so it is dropped, by the same compare-and-delete on its token
    (request_done): written (or replaced) after the chart was read, it survives. A patient
    without a signed treatment keeps it: the task also clears their old rows."""
    from touchup.core.forecast import forecast_many

    from .calibration import note_calibrated, priors_for

    today = timezone.localdate()
    as_of = as_of or today
    counts = {"forecast": 0, "no_treatment": 0, "unavailable": 0}
    batch: list[Patient] = []

    def flush() -> None:
        ready = []
        # The pending requests' tokens, read before the charts (see request_done); a
        # recompute as of another day is not what a request asks for.
        tokens = dict(
            RecomputeRequest.objects.filter(pk__in=[p.pk for p in batch]).values_list("pk", "token")
        ) if as_of == today else {}
        charts = histories_data(batch, as_of)
        for patient in batch:
            data = charts[patient.pk]
            if data is None:
                counts["no_treatment"] += 1
                continue
            try:
                ready.append((patient, data, parse_chart(data)))
            except ForecastUnavailable as exc:
                counts["unavailable"] += 1
                log.warning("forecast for patient row %s not computed: %s", patient.pk, exc)
                # As the task does: the same chart would fail the same way every time.
                request_done(patient.pk, tokens.get(patient.pk))
        # The model runs per clinic: each forecasts with its own calibrated medians.
        results = []
        for clinic_id in sorted({p.clinic_id for p, _, _ in ready}):
            group = [(p, d, h) for p, d, h in ready if p.clinic_id == clinic_id]
            priors = priors_for(clinic_id)
            results.extend((g, note_calibrated(f.areas, priors))
                           for g, f in zip(group, forecast_many([h for _, _, h in group], priors=priors)))
        for (patient, data, _), areas in results:
            with transaction.atomic():
                locked = lock_forecasts(patient.pk) or patient  # see recompute
                _store(locked, data, areas, actor=None, as_of=as_of)
                # With the rows it satisfied: no second recompute by the patient's own task.
                request_done(patient.pk, tokens.get(patient.pk))
            counts["forecast"] += 1
        batch.clear()

    for patient in patients:
        batch.append(patient)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return counts


def _checkins(data: dict | None) -> dict[str, list[tuple[dt.date, bool]]]:
    """The chart's check-in answers per area, in recording order (history_data's order)."""
    found: dict[str, list[tuple[dt.date, bool]]] = defaultdict(list)
    for o in (data or {}).get("observations", ()):
        if o["kind"] == "wearing_off_reported":
            found[o["area"]].append((dt.date.fromisoformat(o["date"]), bool(o["value"])))
    return found


def _store(patient: Patient, data: dict | None, areas: Iterable[Any], *, actor: Any, as_of: dt.date) -> list[AreaForecast]:
    """Write a forecast's areas as the patient's rows, with reminders and the audit event
    (in the caller's transaction)."""
    from .reminders import schedule_after_sign, sync_forecast_reminders

    old = {f.area: f for f in AreaForecast.objects.filter(patient=patient)}
    now = timezone.now()
    clinician_of = dict(
        Treatment.objects.filter(patient=patient, status=TreatmentStatus.SIGNED).values_list("pk", "clinician_id")
    )
    checkins = _checkins(data)
    rows = []
    for f in areas:
        tid = _treatment_for(data, f.area, f.treatment_date)
        early = early_report(f.area, f.treatment_date, f.wear_off_interval, f.earliest_allowed,
                             checkins.get(f.area, ()))
        previous = old.get(f.area)
        same_cycle = previous is not None and previous.treatment_id == tid
        reported_on = early.reported_on if early is not None else None
        # The call's note belongs to the report it was about: the same first "yes". A "no"
        # clears the report, and a "yes" after it is a new one for the desk to call about.
        same_report = same_cycle and reported_on is not None and previous.early_report_on == reported_on
        rows.append(AreaForecast(
            patient=patient, clinic_id=patient.clinic_id, clinician_id=clinician_of.get(tid), treatment_id=tid,
            area=f.area, product=f.product, treated_on=f.treatment_date, wear_off_date=f.wear_off_date,
            wear_off_low=f.wear_off_interval[0], wear_off_high=f.wear_off_interval[1],
            book_from=f.book_from, book_by=min(f.book_by, f.book_from + dt.timedelta(days=MAX_WINDOW_DAYS)),
            earliest_allowed=f.earliest_allowed,
            basis=f.basis[:300], computed_at=now,
            appointment_id=previous.appointment_id if same_cycle else None,
            contact_status=previous.contact_status if same_cycle else "",
            contact_at=previous.contact_at if same_cycle else None,
            early_report_on=reported_on,
            early_report_handled_at=previous.early_report_handled_at if same_report else None,
            early_report_outcome=previous.early_report_outcome if same_report else "",
            early_report_handled_by_id=previous.early_report_handled_by_id if same_report else None,
        ))
    AreaForecast.objects.filter(patient=patient).delete()
    AreaForecast.objects.bulk_create(rows)
    # The after-sign reminders too, so request_recompute is the one call a signing needs
    # (both are idempotent: a step's reminder is created once, then only moved).
    for treatment in Treatment.objects.filter(pk__in={r.treatment_id for r in rows}).select_related("patient__clinic"):
        schedule_after_sign(treatment, now=now)
    sync_forecast_reminders(patient, rows, now=now)
    audit.record(
        "forecast.recompute", actor=actor, patient=patient,
        detail={"areas": [r.area for r in rows], "as_of": as_of.isoformat()},
    )
    return rows


# A request still here this long after it was (re)queued is queued again by the sweep: its
# task was never handed over, was lost, or died with its worker. Well above a recompute's
# time (a fraction of a second) plus an ordinary queue's wait, so the sweep rarely
# duplicates a task that is merely waiting; a duplicate costs one query (see the task).
RETRY_AFTER = dt.timedelta(minutes=5)
# Each time the sweep queues a request again it waits twice as long, up to this: a chart
# whose recompute fails every time (a bug) is retried hourly, not every five minutes,
# and a long backlog is not doubled by the sweep over and over.
RETRY_AFTER_MAX = dt.timedelta(hours=1)
# A whole clinic's recompute takes minutes (100,000 patients: forecast_many about 8 s,
# then a transaction per patient), so its request waits longer before it is queued again.
CLINIC_RETRY_AFTER = dt.timedelta(hours=1)
CLINIC_RETRY_AFTER_MAX = dt.timedelta(hours=8)
# A fit of the clinic's medians reads every chart once (about 4 s per 5,000 patients):
# queued again after half an hour, and no more often than every 8 hours.
FIT_RETRY_AFTER = dt.timedelta(minutes=30)


@dataclasses.dataclass(frozen=True)
class _Outbox:
    """One kind of owed recompute: its table (keyed by the patient or clinic row id), the
    task that does it, and how long the sweep waits before queueing it again."""

    model: type[OwedRecompute]
    task: str  # in touchup.maintenance.tasks; takes (row id, only_if_requested=...)
    retry_after: dt.timedelta
    retry_after_max: dt.timedelta


PATIENT = _Outbox(RecomputeRequest, "recompute_forecasts", RETRY_AFTER, RETRY_AFTER_MAX)
CLINIC = _Outbox(ClinicRecomputeRequest, "recompute_clinic", CLINIC_RETRY_AFTER, CLINIC_RETRY_AFTER_MAX)
# Not a recompute, but owed the same way: services.calibration.request_fit.
FIT = _Outbox(CalibrationFitRequest, "propose_calibration", FIT_RETRY_AFTER, CLINIC_RETRY_AFTER_MAX)
# The same again: services.track_record.request_scoring. A scoring reads every chart as a
# fit does, then forecasts every past cycle (about 1.4 s more per 3,000 patients).
TRACK = _Outbox(TrackRecordRequest, "score_track_record", FIT_RETRY_AFTER, CLINIC_RETRY_AFTER_MAX)


def request_recompute(patient: Patient) -> None:
    """Recompute `patient`'s forecasts in the background once the current transaction
    commits (immediately when there is none). Safe to call more than once per request.

    The request is a RecomputeRequest row written in the caller's transaction (it commits or
    rolls back with the chart change); the task is queued once that commits, and again by
    the worker's sweep (requeue_due) for as long as the row is there."""
    _request(PATIENT, patient.pk)


def request_clinic_recompute(clinic_id: int, *, queue: bool = True) -> None:
    """Recompute every forecast of the clinic in the background (its medians changed), the
    same way: a ClinicRecomputeRequest row now, the task once the transaction commits.
    queue=False: the caller runs recompute_clinic_forecasts itself (the CLI), and the row is
    only there in case it does not finish."""
    _request(CLINIC, clinic_id, queue=queue)


def recompute_clinic_forecasts(clinic_id: int) -> dict[str, int]:
    """recompute_many over every patient of the clinic, then its pending request done (the
    clinic's task, and `touchup calibrate --apply`)."""
    token = pending_request(clinic_id, CLINIC)  # before the medians and the charts are read
    counts = recompute_many(Patient.objects.filter(clinic_id=clinic_id).order_by("pk"))
    request_done(clinic_id, token, CLINIC)
    return counts


def _request(outbox: _Outbox, key: int, *, queue: bool = True, **fields: Any) -> None:
    """Upsert the outbox row for `key` (with any extra `fields` of its model) and queue its
    task once the caller's transaction commits."""
    now = timezone.now()
    # One statement whether or not a request is pending (INSERT ... ON CONFLICT DO UPDATE):
    # a new token, so a recompute already running for an older request leaves this one,
    # and the sweep's back-off starts over.
    outbox.model.objects.bulk_create(
        [outbox.model(pk=key, token=uuid.uuid4(), requested_at=now, retry_at=now + outbox.retry_after, **fields)],
        update_conflicts=True, unique_fields=[outbox.model._meta.pk.name],
        update_fields=["token", "requested_at", "retry_at", "attempts", *fields],
    )
    if queue:
        transaction.on_commit(lambda: _enqueue(outbox, key))


def _enqueue(outbox: _Outbox, key: int) -> bool:
    """Hand the task to the queue; False (logged) when the queue cannot take it. Not
    raised: the change has committed, and the request row stays for the sweep."""
    from .. import tasks

    try:
        getattr(tasks, outbox.task).enqueue(key, only_if_requested=True)
    except Exception as exc:  # noqa: BLE001 - any backend's failure (Redis down, say)
        log.warning("%s for row %s not queued (the sweep will retry): %s", outbox.task, key, type(exc).__name__)
        return False
    return True


def pending_request(key: int, outbox: _Outbox = PATIENT) -> uuid.UUID | None:
    """The token of the patient's (or clinic's) pending request, None if there is none: read
    it before the data, and pass it to request_done after writing the forecasts."""
    return outbox.model.objects.filter(pk=key).values_list("token", flat=True).first()


def request_done(key: int, token: uuid.UUID | None, outbox: _Outbox = PATIENT) -> None:
    """The forecasts now reflect the data as it was when `token` was read: drop the request,
    unless a newer change replaced the token meanwhile (then its recompute is still owed)."""
    if token is not None:
        outbox.model.objects.filter(pk=key, token=token).delete()


def requeue_due(*, now: dt.datetime | None = None, batch: int = 500) -> int:
    """Queue the task again for every request whose retry_at has passed; how many were
    queued. Several workers may sweep at once: each request is taken by one of them, with a
    compare-and-set that moves its retry_at (as reminders are claimed). Reads the
    retry_at indexes only for what is due, so it costs one small query per outbox when all is well.
    Run it outside a transaction: each claim commits before its task is handed over."""
    now = now or timezone.now()
    queued = 0
    for outbox in (CLINIC, FIT, TRACK, PATIENT):
        rows = outbox.model.objects
        while True:
            due = list(rows.filter(retry_at__lte=now).order_by("retry_at").values_list("pk", "attempts")[:batch])
            for key, attempts in due:
                wait = min(outbox.retry_after * 2 ** min(attempts, 16), outbox.retry_after_max)
                if rows.filter(pk=key, retry_at__lte=now).update(retry_at=now + wait, attempts=F("attempts") + 1):
                    if not _enqueue(outbox, key):
                        return queued  # the queue is down: the rest wait for the next sweep
                    queued += 1
            # Every row read is now due later (taken here or by another worker), so the
            # next batch holds only rows not seen yet.
            if len(due) < batch:
                break
    return queued
