"""The pages' side of two-step sign-in (touchup.clinic.access.two_step_owed): a staff
member whose clinic requires it and who has not set it up is sent to set it up, from
every page, before any view runs (and after the idle timeout has had its say). The API answers 403 itself (touchup.api.auth)."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect

from touchup.clinic.access import TWO_STEP_SETUP_URL, two_step_owed

# What needs no patient data and must stay open: allauth's own pages (sign-out, the
# password check before setting up, the setup itself, recovery codes), the staff member's
# own account page, the uptime checks, static files, and the API (which refuses itself,
# with a JSON answer, for a session or a token alike).
OPEN_PREFIXES = ("/accounts/", "/me/", "/health/", "/api/", "/" + settings.STATIC_URL.lstrip("/"))


class TwoStepGateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # In process_view, after the idle timeout's (listed before this in MIDDLEWARE): an
        # idle or expired session is signed out first, instead of shown the setup page.
        if not request.path.startswith(OPEN_PREFIXES) and two_step_owed(request.user):
            if getattr(request, "htmx", False):
                # A fragment swapped into the page would hide the redirect: htmx follows this.
                return HttpResponseClientRedirect(TWO_STEP_SETUP_URL)
            return redirect(TWO_STEP_SETUP_URL)
        return None
