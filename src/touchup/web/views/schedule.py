"""A clinician's schedule: working hours, the week's appointments, and the calendar
feed that calendar programs subscribe to."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from touchup.clinic import access
from touchup.clinic.errors import InvalidInput
from touchup.interop import ical
from touchup.maintenance.access import may_manage_hours, require_hours
from touchup.maintenance.services import booking as svc
from touchup.maintenance.services import feeds

from touchup.clinic.links import request_base_url as base_url

from .booking import render


def _clinician(request: HttpRequest, membership, value):
    """The clinician the page is about: the one asked for, else the user if a clinician,
    else the clinic's first."""
    if value:
        return svc.clinician_in(membership.clinic, value)
    clinicians = svc.clinicians_of(membership.clinic)
    own = next((c for c in clinicians if c.pk == request.user.pk), None)
    return own or (clinicians[0] if clinicians else None)


def _context(request, membership, clinician, **extra):
    zone = svc.clinic_zone(membership.clinic)
    hours = {}
    if clinician is not None:
        for h in svc.hours_of(membership.clinic, clinician):
            hours.setdefault(h.weekday, h)
    appointments = svc.upcoming(membership.clinic, clinician) if clinician is not None else []
    return {
        "nav": "schedule", "clinician": clinician, "clinicians": svc.clinicians_of(membership.clinic),
        "days": [(i, name, hours.get(i)) for i, name in enumerate(svc.WEEKDAYS)],
        "appointments": [(a, a.starts_at.astimezone(zone)) for a in appointments],
        "may_edit": clinician is not None and may_manage_hours(request.user, clinician),
        "feed": feeds.feed_active(membership.clinic, clinician) if clinician is not None else None,
        **extra,
    }


def schedule(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "patient.view")
    try:
        clinician = _clinician(request, membership, request.GET.get("clinician"))
    except InvalidInput as exc:
        return render(request, "web/schedule/week.html",
                      _context(request, membership, None, error=exc), status=400)
    # A feed address just created is shown on this one page view, then forgotten.
    feed_url = request.session.pop(_feed_url_key(clinician), None) if clinician is not None else None
    return render(request, "web/schedule/week.html", _context(request, membership, clinician, feed_url=feed_url))


@require_POST
def schedule_hours(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "patient.view")
    try:
        clinician = _clinician(request, membership, request.POST.get("clinician"))
    except InvalidInput as exc:
        return render(request, "web/schedule/week.html", _context(request, membership, None, error=exc), status=400)
    require_hours(request.user, clinician)
    blocks = []
    for i in range(7):
        start, end = request.POST.get(f"start_{i}", "").strip(), request.POST.get(f"end_{i}", "").strip()
        if start or end:
            blocks.append({"weekday": i, "start": start, "end": end,
                           "slot_minutes": request.POST.get(f"slot_{i}", "30").strip() or "30"})
    try:
        svc.set_working_hours(actor=request.user, clinic=membership.clinic, clinician=clinician, blocks=blocks)
    except InvalidInput as exc:
        # blocks[n] -> the weekday's own field name, so the message points at the row.
        if exc.field.startswith("blocks["):
            index = int(exc.field[7:exc.field.index("]")])
            day = blocks[index]["weekday"]
            part = exc.field.rsplit(".", 1)[-1]
            # The page labels the field with its weekday ("Monday, to"), so the message stays plain.
            exc = InvalidInput(f"{part.replace('slot_minutes', 'slot')}_{day}", exc.message)
        return render(request, "web/schedule/week.html",
                      _context(request, membership, clinician, error=exc, posted=request.POST), status=400)
    messages.success(request, "Working hours saved.")
    return redirect(f"{reverse('schedule')}?clinician={clinician.pk}")


@require_POST
def schedule_feed(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "patient.view")
    try:
        clinician = _clinician(request, membership, request.POST.get("clinician"))
    except InvalidInput as exc:
        return render(request, "web/schedule/week.html", _context(request, membership, None, error=exc), status=400)
    require_hours(request.user, clinician)
    if request.POST.get("action") == "revoke":
        feeds.feed_revoke(actor=request.user, clinic=membership.clinic, clinician=clinician)
        messages.success(request, "The calendar feed is switched off; its address no longer works.")
        return redirect(f"{reverse('schedule')}?clinician={clinician.pk}")
    token = feeds.feed_create(actor=request.user, clinic=membership.clinic, clinician=clinician)
    # Shown once (only the token's hash is kept), on the page the redirect leads to: a
    # reload of a page that answered the POST itself would post again and replace the
    # address the calendar program may already hold.
    request.session[_feed_url_key(clinician)] = base_url(request) + reverse("calendar_feed", args=[token])
    return redirect(f"{reverse('schedule')}?clinician={clinician.pk}")


def _feed_url_key(clinician) -> str:
    return f"schedule.feed_url.{clinician.pk}"


@login_not_required
@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The read-only feed for calendar programs; the token in the URL is the credential."""
    found = feeds.feed_appointments(token)
    if found is None:
        return HttpResponse("No such calendar feed.", status=404, content_type="text/plain")
    feed, appointments = found
    name = f"Touchup · {feed.clinician.get_full_name() or feed.clinician.get_username()}"
    body = ical.to_calendar([ical.event_for(a, base_url=base_url(request)) for a in appointments],
                            name=name, now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
