"""Booking a patient into their maintenance window; the appointment page (move, cancel,
download as .ics)."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django import shortcuts
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from touchup.clinic import access
from touchup.clinic.links import request_base_url as base_url
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.core.dates import weekday_day_time_text
from touchup.interop import ical
from touchup.maintenance.access import appointment_for
from touchup.maintenance.models import AreaForecast, Appointment
from touchup.maintenance.services import booking as svc
from touchup.maintenance.services import day as day_svc
from touchup.maintenance.services import stale as stale_svc

SLOT_DAYS = 7


def render(request: HttpRequest, template: str, ctx: dict, status: int = 200) -> HttpResponse:
    """Render with times shown in the clinic's own time zone (slots and appointments are
    the clinic's wall-clock times, whatever the server's zone)."""
    membership = access.membership_of(request.user)
    with timezone.override(svc.clinic_zone(membership.clinic) if membership else None):
        return shortcuts.render(request, template, ctx, status=status)


def _day(value: str | None, field: str, default: dt.date) -> dt.date:
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, "must be a date (YYYY-MM-DD)") from None


def _slot_days(clinic, clinician, start: dt.date, ignore=None):
    slots = svc.free_slots(clinic, clinician, start, start + dt.timedelta(days=SLOT_DAYS - 1), ignore=ignore)
    zone = svc.clinic_zone(clinic)
    return [(day, list(group)) for day, group in groupby(slots, key=lambda s: s.starts_at.astimezone(zone).date())]


def _paging(start: dt.date) -> dict:
    """The week shown and the Earlier / Later links. No Earlier from a week that starts
    today or before: every slot there is past, and the link led to "No free slot"."""
    today = timezone.localdate()
    return {
        "start": start, "last_day": start + dt.timedelta(days=SLOT_DAYS - 1),
        "prev_start": max(today, start - dt.timedelta(days=SLOT_DAYS)) if start > today else None,
        "next_start": start + dt.timedelta(days=SLOT_DAYS),
    }


def _default_start(forecasts: list[AreaForecast]) -> dt.date:
    today = timezone.localdate()
    open_rows = [f for f in forecasts if f.appointment_id is None]
    if not open_rows:
        return today
    return max(today, min(f.book_from for f in open_rows), max(f.earliest_allowed for f in open_rows))


def _booking_context(request, patient, *, clinician_id, start):
    clinic = patient.clinic
    clinicians = svc.clinicians_of(clinic)
    forecasts = svc.forecasts_of(patient)
    clinician = None
    if clinician_id:
        clinician = svc.clinician_in(clinic, clinician_id)
    elif forecasts and forecasts[0].clinician_id in {c.pk for c in clinicians}:
        clinician = next(c for c in clinicians if c.pk == forecasts[0].clinician_id)
    elif clinicians:
        clinician = clinicians[0]
    start = start or _default_start(forecasts)
    return {
        "nav": "worklist", "patient": patient, "forecasts": forecasts, "clinicians": clinicians,
        "clinician": clinician, **_paging(start),
        "days": _slot_days(clinic, clinician, start) if clinician else [],
    }


@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, public_id) -> HttpResponse:
    patient = access.patient_for(request.user, public_id, need="patient.edit")
    source = request.POST if request.method == "POST" else request.GET
    try:
        start = _day(source.get("from"), "from", None) if source.get("from") else None
        ctx = _booking_context(request, patient, clinician_id=source.get("clinician"), start=start)
    except InvalidInput as exc:
        ctx = _booking_context(request, patient, clinician_id=None, start=None)
        ctx["error"] = exc
        return render(request, "web/booking/book.html", ctx, status=400)
    if request.method == "POST":
        areas = request.POST.getlist("areas")
        try:
            if not request.POST.get("starts_at"):
                raise InvalidInput("starts_at", "choose a time")
            appointment = svc.book(actor=request.user, patient=patient, clinician=ctx["clinician"],
                                   starts_at=request.POST["starts_at"], areas=areas or None)
        except InvalidInput as exc:
            ctx["error"] = exc
            return render(request, "web/booking/book.html", ctx, status=400)
        except Conflict as exc:
            ctx["error"] = InvalidInput("starts_at", str(exc))
            ctx["days"] = _slot_days(patient.clinic, ctx["clinician"], ctx["start"])
            return render(request, "web/booking/book.html", ctx, status=409)
        local = appointment.starts_at.astimezone(svc.clinic_zone(patient.clinic))
        messages.success(request, f"Booked {weekday_day_time_text(local)}.")
        return redirect("appointment", public_id=appointment.public_id)
    template = "web/booking/_slot_picker.html" if request.htmx else "web/booking/book.html"
    return render(request, template, ctx)


def _from_day(request: HttpRequest, appointment: Appointment) -> dt.date | None:
    """The Day view's date when the appointment was opened from it (`day=YYYY-MM-DD` in the
    query, or the form's hidden field after a move or cancel), for the breadcrumb back to
    that day. Only a date is read, and the link back is built from it: never a URL taken
    from the request (no open redirect, no Referer). Anything else is ignored and the
    breadcrumb is the worklist's, as for an appointment opened from anywhere else."""
    value = request.POST.get("day") if request.method == "POST" else request.GET.get("day")
    if not value:
        return None
    try:
        return day_svc.parse_day(value, day_svc.clinic_today(appointment.clinic))
    except InvalidInput:
        return None


def _to_appointment(public_id, from_day: dt.date | None) -> HttpResponse:
    url = reverse("appointment", kwargs={"public_id": public_id})
    return redirect(f"{url}?day={from_day.isoformat()}" if from_day else url)


def appointment_detail(request: HttpRequest, public_id) -> HttpResponse:
    appointment = appointment_for(request.user, public_id)
    try:
        start = _day(request.GET.get("from"), "from", None)
    except InvalidInput as exc:
        ctx = _appointment_context(request, appointment)
        ctx["error"] = exc
        return render(request, "web/booking/appointment.html", ctx, status=400)
    return render(request, "web/booking/appointment.html", _appointment_context(request, appointment, start))


def _appointment_context(request, appointment: Appointment, start: dt.date | None = None) -> dict:
    zone = svc.clinic_zone(appointment.clinic)
    from_day = _from_day(request, appointment)
    stale = stale_svc.stale_appointments([appointment], zone=zone).get(appointment.pk)
    # Made too early by a treatment since: Move opens on the first day it may be treated again.
    start = start or (stale.earliest_allowed if stale else
                      max(timezone.localdate(), appointment.starts_at.astimezone(zone).date() - dt.timedelta(days=3)))
    return {
        # Opened from the front desk's Day view: the breadcrumb (and the menu) lead back to that day.
        "nav": "day" if from_day else "worklist", "from_day": from_day, "appointment": appointment, "patient": appointment.patient,
        "local_start": appointment.starts_at.astimezone(zone), "local_end": appointment.ends_at.astimezone(zone),
        "may_edit": access.can(request.user, "patient.edit"), **_paging(start),
        "stale": stale,  # said above Move and Cancel
        # Its own slot is listed (ignore= frees it, so overlapping slots can be chosen) but
        # marked as where the appointment is now, not offered as a place to move to.
        "current_start": appointment.starts_at,
        "days": _slot_days(appointment.clinic, appointment.clinician, start, ignore=appointment)
        if appointment.is_booked else [],
    }


@require_POST
def appointment_move(request: HttpRequest, public_id) -> HttpResponse:
    appointment = appointment_for(request.user, public_id, need="patient.edit")
    try:
        if not request.POST.get("starts_at"):
            raise InvalidInput("starts_at", "choose a time")
        moved = svc.move(actor=request.user, appointment=appointment, starts_at=request.POST["starts_at"])
    except (InvalidInput, Conflict) as exc:
        ctx = _appointment_context(request, appointment)
        ctx["error"] = exc if isinstance(exc, InvalidInput) else InvalidInput("starts_at", str(exc))
        return render(request, "web/booking/appointment.html", ctx, status=400 if isinstance(exc, InvalidInput) else 409)
    # Say where it went, as "Booked …" does: the front desk reads it back to the patient.
    local = moved.starts_at.astimezone(svc.clinic_zone(moved.clinic))
    messages.success(request, f"Moved to {weekday_day_time_text(local)}. Calendars that subscribe to the "
                              "clinician's feed update on their next sync.")
    return _to_appointment(moved.public_id, _from_day(request, appointment))


@require_POST
def appointment_cancel(request: HttpRequest, public_id) -> HttpResponse:
    appointment = appointment_for(request.user, public_id, need="patient.edit")
    try:
        svc.cancel(actor=request.user, appointment=appointment)
    except Conflict as exc:
        ctx = _appointment_context(request, appointment)
        ctx["error"] = InvalidInput("status", str(exc))
        return render(request, "web/booking/appointment.html", ctx, status=409)
    messages.success(request, "Cancelled. The patient is back on the worklist.")
    return _to_appointment(appointment.public_id, _from_day(request, appointment))


def appointment_ics(request: HttpRequest, public_id) -> HttpResponse:
    appointment = appointment_for(request.user, public_id)
    body = ical.to_calendar([ical.event_for(appointment, base_url=base_url(request))],
                            name=f"{appointment.clinic.name}", now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="touchup-{appointment.public_id}.ics"'
    response["Cache-Control"] = "no-store"
    return response
