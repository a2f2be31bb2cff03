"""Joining by invitation, the patients' own sign-in page, and a forgotten password.

A forgotten password is allauth's own reset flow (same forms, tokens, rate limits, audit
through signin_audit) mounted at /portal/password/… with the portal's templates: reached
from the portal's sign-in, its pages, redirects and the emailed link stay in the portal
(the staff pages under /accounts/ wear the staff layout and lead back to the staff
sign-in). A patient account's emailed link points here whichever page asked for it
(ClosedSignupAdapter.send_password_reset_mail).
"""

from __future__ import annotations

from allauth.account.views import (
    LoginView,
    PasswordResetDoneView,
    PasswordResetFromKeyDoneView,
    PasswordResetFromKeyView,
    PasswordResetView,
)
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_http_methods

from touchup.clinic.errors import InvalidInput

from ..forms import JoinForm, show_invalid
from ..services.invitations import InvitationInvalid, invitation_accept, invitation_for_token


class PortalLoginView(LoginView):
    template_name = "portal/login.html"

    def get_success_url(self):
        return super().get_success_url() or "/portal/"


portal_login = login_not_required(PortalLoginView.as_view())


@login_not_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """Set a password from an invitation link. The token is in the path, so the page is
    never cached and sends no Referer (SECURE_REFERRER_POLICY is same-origin)."""
    try:
        invitation = invitation_for_token(token)
    except InvitationInvalid as exc:
        return render(request, "portal/join_invalid.html", {"message": str(exc), "reason": exc.reason}, status=410
                      if exc.reason in ("expired", "used", "revoked") else 404)
    form = JoinForm(request.POST if request.method == "POST" else None, initial={"username": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(token=token, **form.cleaned_data)
        except InvitationInvalid as exc:
            return render(request, "portal/join_invalid.html", {"message": str(exc), "reason": exc.reason}, status=410)
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("portal:home")
    response = render(request, "portal/join.html", {"form": form, "clinic": invitation.patient.clinic,
                                                     "given_name": invitation.patient.given_name})
    response["Cache-Control"] = "no-store"
    return response


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
