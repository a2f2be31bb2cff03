"""The clinic's settings, for its manager: how patients reach the clinic (phone, email),
the two-step sign-in policy and the staff list with each person's two-step status (and
the reset for a lost phone)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from touchup.clinic import access
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.services.contact import clinic_contact_set
from touchup.clinic.services.two_step import two_step_policy_set, two_step_reset

from .. import selectors
from ..forms import ClinicContactForm
from .common import show_invalid


def clinic_settings(request: HttpRequest, contact_form: ClinicContactForm | None = None,
                    status: int = 200) -> HttpResponse:
    membership = access.require(request.user, "clinic.manage")
    clinic = membership.clinic
    return render(request, "web/clinic/settings.html", {
        "nav": "clinic", "clinic": clinic, "staff": selectors.clinic_staff(request.user),
        "my_two_step": access.has_two_step(request.user),
        "contact_form": contact_form or ClinicContactForm(initial={"phone": clinic.phone, "email": clinic.email}),
    }, status=status)


@require_POST
def clinic_contact(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "clinic.manage")
    form = ClinicContactForm(request.POST)
    if form.is_valid():
        try:
            changed = clinic_contact_set(actor=request.user, clinic=membership.clinic, **form.cleaned_data)
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            messages.success(request, "Contact details saved: patients see them wherever they are told to "
                                      "call the clinic." if changed else "Nothing changed.")
            return redirect("clinic_settings")
    return clinic_settings(request, contact_form=form, status=400)


@require_POST
def clinic_two_step(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "clinic.manage")
    required = request.POST.get("require_two_step") == "on"
    try:
        clinic = two_step_policy_set(actor=request.user, clinic=membership.clinic, required=required)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Two-step sign-in is now required for all staff." if clinic.require_two_step
                         else "Two-step sign-in is no longer required (staff who set it up keep it).")
    return redirect("clinic_settings")


@require_POST
def clinic_two_step_reset(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = access.member_for(request.user, membership_id)
    if member.user_id == request.user.pk:
        messages.error(request, "Reset your own two-step sign-in from Your account instead.")
    elif two_step_reset(actor=request.user, member=member):
        messages.success(request, f"Two-step sign-in reset for {member.user.get_username()}: they sign in with "
                                  "their password and set up their new phone.")
    else:
        messages.success(request, f"{member.user.get_username()} had no two-step sign-in to reset.")
    return redirect("clinic_settings")
