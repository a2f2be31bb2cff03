"""Joining by invitation, and the patients' own sign-in page."""

from __future__ import annotations

from allauth.account.views import LoginView
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
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
