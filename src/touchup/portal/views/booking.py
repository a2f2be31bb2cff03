"""Booking the maintenance visit: free slots in the window, or a request to be called;
the calendar file; moving and cancelling within the clinic's rules."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import dateformat, timezone
from django.views.decorators.http import require_http_methods, require_POST

from touchup.clinic.errors import Conflict, InvalidInput
from touchup.core.catalogue import load_catalogue
from touchup.core.contact import call_the_clinic

from .. import access
from ..models import BookingRequest
from ..services import booking
from ..services.booking_requests import booking_request_create
from touchup.clinic.links import request_base_url as base_url

from .common import portal_view


def _start(request: HttpRequest, name: str) -> dt.date | None:
    """The first day of a page (`from`, `later_from`): only ever from our own links, so an
    unreadable one is the first page rather than an error."""
    try:
        return dt.date.fromisoformat(request.GET.get(name) or "")
    except ValueError:
        return None


def _slot_pages(request: HttpRequest, patient, window, *, ignore=None) -> dict:
    """The free times a page at a time (a phone shows a few days; "Earlier days" and "Later
    days" are links, no script needed), and the same for the later-than-recommended section
    when asked for (?later=1) or when the window has no free time left. Each section pages on
    its own (`from`, `later_from`), and each link keeps the other section where it was."""
    page = booking.slot_page(patient, window, start=_start(request, "from"), ignore=ignore)
    show_later = bool(window.offers_later and (request.GET.get("later") == "1" or not page.days))
    later = booking.slot_page(patient, window, start=_start(request, "later_from"), ignore=ignore, later=True) \
        if show_later else booking.SlotPage([])
    # A section's day is in its links only when it is not that section's first page.
    state = {"from": page.first_day if page.earlier else None, "later": "1" if show_later else None,
             "later_from": later.first_day if later.earlier else None}

    def url(anchor: str, **changes) -> str:
        query = urlencode({k: (v.isoformat() if isinstance(v, dt.date) else v)
                           for k, v in {**state, **changes}.items() if v})
        return f"?{query}#{anchor}"

    return {
        # The move page's time buttons are a GET form: it carries the pages shown, so a time
        # refused (taken meanwhile) comes back on the same days, not on the first page.
        "page_state": [(k, v.isoformat() if isinstance(v, dt.date) else v) for k, v in state.items() if v],
        "days": page.days, "show_later": show_later, "later_days": later.days,
        "earlier_url": url("window-h", **{"from": page.earlier}) if page.earlier else "",
        "later_url": url("window-h", **{"from": page.later}) if page.later else "",
        "show_later_url": url("later-h", later="1"),
        "later_earlier_url": url("later-h", later_from=later.earlier) if later.earlier else "",
        "later_later_url": url("later-h", later_from=later.later) if later.later else "",
    }


def _area_names(areas):
    cat = load_catalogue()
    return [cat.areas[a].name if a in cat.areas else a for a in areas]


@portal_view
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    if not booking.available():
        return render(request, "portal/book.html", {"nav": "book", "unavailable": True})
    error = ""
    if request.method == "POST":
        try:
            appointment = booking.book_visit(actor=request.user, patient=patient, choice=request.POST.get("slot", ""))
        except (InvalidInput, Conflict) as exc:
            error = _slot_error(exc)
        else:
            sent = booking.email_calendar(appointment, base_url=base_url(request), what="booked")
            messages.success(request, "Your visit is booked." + (" We emailed you the calendar invite." if sent else ""))
            return redirect("portal:visit", public_id=appointment.public_id)
    access.read(request.user, patient, "booking")
    window = booking.window_for(patient)
    pages = _slot_pages(request, patient, window) if window else {}
    visits = booking.mark_stale([a for a in booking.appointments_of(patient) if a.is_booked])
    pending = BookingRequest.objects.filter(patient=patient, handled_at__isnull=True).first()
    return render(request, "portal/book.html", {
        "nav": "book", "window": window, "visits": visits, "error": error, **pages,
        "areas": _area_names(window.areas) if window else [], "pending": pending,
    }, status=400 if error else 200)


@portal_view
@require_POST
def request_call(request: HttpRequest) -> HttpResponse:
    patient = access.patient_of(request.user)
    window = booking.window_for(patient) if booking.available() else None
    try:
        booking_request_create(actor=request.user, patient=patient, areas=list(window.areas) if window else [],
                               preferred=request.POST.get("preferred", ""))
    except InvalidInput as exc:
        messages.error(request, f"When suits you: {exc.message}. Nothing was sent.")
    except Conflict as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, "Thank you: the clinic will call you to book.")
    return redirect("portal:book")


@portal_view
def visit(request: HttpRequest, public_id) -> HttpResponse:
    appointment = access.own_appointment(request.user, public_id)
    return render(request, "portal/visit.html", {
        "nav": "book", "a": booking.mark_stale([appointment])[0], "may_change": booking.may_change(appointment),
        "areas": _area_names(appointment.areas or []),
    })


@portal_view
def visit_ics(request: HttpRequest, public_id) -> HttpResponse:
    appointment = access.own_appointment(request.user, public_id)
    response = HttpResponse(booking.calendar_file(appointment, base_url=base_url(request)),
                            content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="visit.ics"'
    return response


@portal_view
@require_POST
def visit_cancel(request: HttpRequest, public_id) -> HttpResponse:
    appointment = access.own_appointment(request.user, public_id)
    try:
        appointment = booking.cancel_visit(actor=request.user, appointment=appointment)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        booking.email_calendar(appointment, base_url=base_url(request), what="cancelled")
        messages.success(request, "Your visit is cancelled. You can book a new time below.")
        return redirect("portal:book")
    return redirect("portal:visit", public_id=appointment.public_id)


def _slot_error(exc: InvalidInput | Conflict) -> str:
    """A refused time in a sentence: the service says "is taken" of the field `slot`."""
    if isinstance(exc, Conflict):
        return str(exc)
    if exc.field == "slot" and exc.message.startswith("is "):
        return f"That time {exc.message}."
    return exc.message


@portal_view
@require_http_methods(["GET", "POST"])
def visit_move(request: HttpRequest, public_id) -> HttpResponse:
    """Three steps, none needing JavaScript: the free times (GET), "Move from … to …?" for the
    tapped time (GET ?slot=, changes nothing: one tap on a phone must not move a visit), and
    the move itself (POST from the confirm page)."""
    appointment = access.own_appointment(request.user, public_id)
    if not booking.may_change(appointment):
        messages.error(request, "This visit can no longer be changed online: please "
                                f"{call_the_clinic(appointment.clinic.phone)}.")
        return redirect("portal:visit", public_id=appointment.public_id)
    error = ""
    if request.method == "POST":
        try:
            appointment = booking.move_visit(actor=request.user, appointment=appointment,
                                             choice=request.POST.get("slot", ""))
        except (InvalidInput, Conflict) as exc:
            error = _slot_error(exc)
        else:
            sent = booking.email_calendar(appointment, base_url=base_url(request), what="moved")
            # The new time in words, and what happened to the calendar: the patient's own
            # calendar changes only when they open the emailed invite (or add the file again).
            when = dateformat.format(timezone.localtime(appointment.starts_at), "l j F, H:i")
            messages.success(request, f"Your visit is moved to {when}." + (
                " We emailed you the updated calendar invite." if sent
                else " If it is in your calendar, add it again with Add to my calendar."))
            return redirect("portal:visit", public_id=appointment.public_id)
    elif request.GET.get("slot"):
        try:
            choice = booking.move_choice(appointment, request.GET["slot"])
        except (InvalidInput, Conflict) as exc:
            error = _slot_error(exc)
        else:
            return render(request, "portal/visit_move_confirm.html", {
                "nav": "book", "a": appointment, "choice": choice,
                "same_clinician": choice.clinician_id == appointment.clinician_id,
            })
    window = booking.move_window(appointment)
    return render(request, "portal/visit_move.html", {
        "nav": "book", "a": appointment, "window": window, "error": error,
        **_slot_pages(request, appointment.patient, window, ignore=appointment),
    }, status=400 if error else 200)
