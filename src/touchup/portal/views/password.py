"""A patient's forgotten password, in the portal's layout.

allauth's own reset flow (same forms, tokens, rate limits, audit through signin_audit),
mounted at /portal/password/… with the portal's templates: reached from the portal's
sign-in, its pages, redirects and the emailed link stay in the portal (the staff pages
under /accounts/ wear the staff layout and lead back to the staff sign-in). The emailed
link for a patient account points here whichever page asked for it
(ClosedSignupAdapter.get_reset_password_from_key_url).
"""

from __future__ import annotations

from allauth.account.views import (
    PasswordResetDoneView,
    PasswordResetFromKeyDoneView,
    PasswordResetFromKeyView,
    PasswordResetView,
)
from django.contrib.auth.decorators import login_not_required
from django.urls import reverse, reverse_lazy


class PortalPasswordResetView(PasswordResetView):
    template_name = "portal/password_reset.html"
    success_url = reverse_lazy("portal:password_reset_done")


class PortalPasswordResetFromKeyView(PasswordResetFromKeyView):
    template_name = "portal/password_reset_from_key.html"
    success_url = reverse_lazy("portal:password_reset_from_key_done")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # allauth's form posts to its own /accounts/ address; keep the patient here.
        ctx["action_url"] = reverse("portal:password_reset_from_key",
                                    kwargs={"uidb36": self.kwargs["uidb36"], "key": self.kwargs["key"]})
        return ctx


password_reset = login_not_required(PortalPasswordResetView.as_view())
password_reset_done = login_not_required(
    PasswordResetDoneView.as_view(template_name="portal/password_reset_done.html"))
password_reset_from_key = login_not_required(PortalPasswordResetFromKeyView.as_view())
password_reset_from_key_done = login_not_required(
    PasswordResetFromKeyDoneView.as_view(template_name="portal/password_reset_from_key_done.html"))
