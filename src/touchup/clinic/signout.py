"""Signing out clears what the browser kept of the site (docs/security.md, "Headers").

Every page a signed-in person sees is already sent with `Cache-Control: no-store`; the
answer to a sign-out also carries `Clear-Site-Data: "cache", "storage"`, so that pages
or data kept anyway (the back/forward cache, a service worker, local or session storage)
are gone for whoever uses the browser next. Any sign-out counts, the staff's and the
portal's (both are allauth's account_logout) and any other code that calls Django's
logout(): they all send user_logged_out.

Not "cookies": it clears the cookies of every site under the same registrable domain
(signing someone out of the clinic's other sites too), and Django's logout already ends
the session on the server. (Signing in again would still work with it: the sign-in page
sets a new CSRF cookie; tried in tests/e2e/test_security_headers.py's browser.)
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_out

CLEAR_SITE_DATA = '"cache", "storage"'


def _signed_out(sender, request, user, **kwargs) -> None:
    if request is not None and user is not None:
        request.touchup_signed_out = True


class ClearSiteDataOnSignOutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        user_logged_out.connect(_signed_out, dispatch_uid="touchup.clinic.signout")

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "touchup_signed_out", False):
            response["Clear-Site-Data"] = CLEAR_SITE_DATA
        return response
