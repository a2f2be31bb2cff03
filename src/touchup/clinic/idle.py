"""Sessions end after a while without activity, and 12 hours after signing in (SE-1).

Idle: settings.TOUCHUP_IDLE_MINUTES for staff (15), TOUCHUP_PORTAL_IDLE_MINUTES for
patients (30). Activity is any request the person makes. Background polling is not:
htmx elements that poll (`hx-trigger="every ..."`) send `X-Touchup-Background`, so a page
left open ends its session like any other. A client sending that header only shortens
its own session. The last activity is written to the session at most every 30 s, so a
session may end up to 30 s before the limit, never after it.

Absolute: settings.SESSION_COOKIE_AGE, counted from signing in. Django alone counts it
from the session's last save, which activity now moves.

The first request past either limit signs the person out (audited once, as
`signout.idle` or `signout.expired`), with a message on the sign-in page, and:
- a page goes to the right sign-in page (staff or portal), with `next` back to it;
- an htmx request answers `HX-Redirect` to that page, so the browser goes there instead
  of swapping a sign-in form into a fragment;
- a view open without a login (the sign-in pages, the API, which then answers 401)
  goes on for the now anonymous visitor.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from . import user_sessions

SIGNED_IN_AT = "touchup_signed_in_at"
LAST_ACTIVITY = "touchup_last_activity"
PATIENT = "touchup_patient"  # a patient's session: the portal's limit and sign-in page
BACKGROUND_HEADER = "X-Touchup-Background"
WRITE_EVERY = 30  # seconds between writes of the last activity
PORTAL_LOGIN = "/portal/login/"


def idle_minutes(patient: bool) -> int:
    return settings.TOUCHUP_PORTAL_IDLE_MINUTES if patient else settings.TOUCHUP_IDLE_MINUTES


def login_url(patient: bool) -> str:
    return PORTAL_LOGIN if patient else resolve_url(settings.LOGIN_URL)


def _is_patient(user: Any) -> bool:
    from .access import membership_of

    return membership_of(user) is None and getattr(user, "patient", None) is not None


def _stamp(request: HttpRequest, user: Any) -> None:
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_ACTIVITY] = now
    request.session[PATIENT] = _is_patient(user)


def _signed_in(sender, request, user, **kwargs) -> None:
    if getattr(request, "session", None) is not None:
        _stamp(request, user)


def connect() -> None:
    user_logged_in.connect(_signed_in, dispatch_uid="touchup.idle")


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _where_they_were(request: HttpRequest) -> str:
    """The page to come back to: this one for a page, the page on screen for htmx or a
    form post (a fragment or a POST target is no page to land on)."""
    if request.method == "GET" and not _is_htmx(request):
        return request.get_full_path()
    shown = request.headers.get("HX-Current-URL") or request.headers.get("Referer") or ""
    if shown and url_has_allowed_host_and_scheme(shown, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        parts = urlsplit(shown)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def _to_login(request: HttpRequest, url: str) -> HttpResponse:
    target = f"{url}?{urlencode({'next': _where_they_were(request)})}"
    return HttpResponseClientRedirect(target) if _is_htmx(request) else HttpResponseRedirect(target)


class IdleTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Whose session this request is: a password changed from it keeps it (user_sessions.py).
        token = user_sessions.current_session.set(getattr(request, "session", None))
        try:
            response = self.get_response(request)
        finally:
            user_sessions.current_session.reset(token)
        # A session that is already gone (signed out in another tab, the browser's cookie
        # expired): LoginRequiredMiddleware redirects, and htmx would follow the redirect
        # and swap the sign-in page into a fragment. Send the browser there instead.
        if _is_htmx(request) and response.status_code == 302:
            path = urlsplit(response.get("Location", "")).path
            if path in (PORTAL_LOGIN, resolve_url(settings.LOGIN_URL)):
                return _to_login(request, path)
        return response

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        session = request.session
        now = time.time()
        if PATIENT not in session:  # signed in before this middleware was installed
            _stamp(request, user)
            return None
        patient = bool(session[PATIENT])
        minutes = idle_minutes(patient)
        if now - session.get(SIGNED_IN_AT, now) >= settings.SESSION_COOKIE_AGE:
            hours = round(settings.SESSION_COOKIE_AGE / 3600)
            return self._end(request, view_func, patient, "signout.expired",
                             f"You were signed out because {hours} hours have passed since you signed in.")
        if now - session.get(LAST_ACTIVITY, now) >= minutes * 60:
            return self._end(request, view_func, patient, "signout.idle",
                             f"You were signed out after {minutes} minutes without activity.")
        if BACKGROUND_HEADER not in request.headers and now - session.get(LAST_ACTIVITY, 0) >= WRITE_EVERY:
            session[LAST_ACTIVITY] = int(now)
        return None

    def _end(self, request: HttpRequest, view_func, patient: bool, action: str, message: str):
        request._touchup_signout = action  # the sign-out's audit event says why (signin_audit.py)
        logout(request)
        messages.info(request, message)
        if not getattr(view_func, "login_required", True):
            return None
        return _to_login(request, login_url(patient))
