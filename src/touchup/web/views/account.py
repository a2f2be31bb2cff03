"""Your account: who you are here and your two-step sign-in. Open while the clinic's
two-step policy is still owed (touchup.web.middleware): it shows no patient data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from touchup.clinic import access


def your_account(request: HttpRequest) -> HttpResponse:
    # Staff only: a patient's own settings are in the portal.
    membership = access.require_staff(request.user)
    return render(request, "web/account/you.html", {
        "nav": "account", "two_step": access.has_two_step(request.user),
        "required": membership.clinic.require_two_step,
    })
