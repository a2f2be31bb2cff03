"""The manager's staff pages (linked from the Clinic page): add a person, change their
role and doctor flag, deactivate and reactivate them, give a new set-password link; and
the page where a new person opens that link and sets their first password.

Changes that hand out or take away power over patient data (a new manager, any role or
doctor-flag change, deactivating, reactivating, a new link for a manager) ask the manager
to confirm it is them first (ASVS 7.5.1): allauth's reauthentication asks for the password
again unless they confirmed within the last 5 minutes, then replays the form they sent.
"""

from __future__ import annotations

from allauth.account.internal.flows.reauthentication import raise_if_reauthentication_required
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from touchup.clinic import access
from touchup.clinic.errors import Conflict, InvalidInput
from touchup.clinic.links import request_base_url
from touchup.clinic.models import Membership, Role
from touchup.clinic.services import staff as staff_service

from ..forms import SetPasswordForm, StaffAddForm, StaffChangeForm
from .common import show_invalid


def confirm_it_is_you(request: HttpRequest) -> None:
    """Send the manager to confirm their password (or two-step code) unless they did in
    the last few minutes; allauth's middleware keeps this POST and runs it again after."""
    raise_if_reauthentication_required(request, app="")


def _link_page(request: HttpRequest, member: Membership, link: staff_service.NewLink, *, added: bool) -> HttpResponse:
    return render(request, "web/clinic/staff_link.html", {
        "nav": "clinic", "member": member, "link": link, "added": added,
        "valid_hours": int(staff_service.VALID_FOR.total_seconds() // 3600),
    })


@require_http_methods(["GET", "POST"])
def staff_add(request: HttpRequest) -> HttpResponse:
    membership = access.require(request.user, "clinic.manage")
    form = StaffAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["role"] == Role.MANAGER:
            confirm_it_is_you(request)
        try:
            made = staff_service.staff_add(actor=request.user, clinic=membership.clinic, base_url=request_base_url(request),
                                           **form.cleaned_data)
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            return _link_page(request, made.membership, made.link, added=True)
    return render(request, "web/clinic/staff_new.html", {"nav": "clinic", "form": form},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def staff_member(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = access.member_for(request.user, membership_id)
    form = StaffChangeForm(request.POST if request.method == "POST" else None,
                           initial={"role": member.role, "is_doctor": member.is_doctor})
    if request.method == "POST" and form.is_valid():
        confirm_it_is_you(request)
        try:
            staff_service.staff_change(actor=request.user, member=member, **form.cleaned_data)
        except Conflict as exc:
            form.add_error("role", str(exc))
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            messages.success(request, f"Saved: {member.user.get_username()} is now "
                                      f"{Role(form.cleaned_data['role']).label.lower()}"
                                      f"{' and a doctor' if form.cleaned_data['is_doctor'] else ''}.")
            return redirect("clinic_settings")
    pending = member.user_id in staff_service.pending_user_ids([member.user_id])
    return render(request, "web/clinic/staff_member.html", {
        "nav": "clinic", "member": member, "form": form, "pending": pending, "is_self": member.user_id == request.user.pk,
    }, status=400 if form.errors else 200)


def _set_active(request: HttpRequest, membership_id: int, active: bool) -> HttpResponse:
    member = access.member_for(request.user, membership_id)
    confirm_it_is_you(request)
    try:
        staff_service.staff_set_active(actor=request.user, member=member, active=active)
    except Conflict as exc:
        messages.error(request, str(exc))
        return redirect("clinic_staff_member", membership_id=member.pk)
    name = member.user.get_username()
    if active:
        messages.success(request, f"{name} is active again and can sign in.")
    elif member.user_id == request.user.pk:
        # Their sessions have just ended, this one's row too: start a fresh, empty one.
        logout(request)
        return redirect("account_login")
    else:
        messages.success(request, f"{name} is deactivated: they are signed out everywhere and cannot sign in. "
                                  "Everything they recorded stays.")
    return redirect("clinic_settings")


@require_POST
def staff_deactivate(request: HttpRequest, membership_id: int) -> HttpResponse:
    return _set_active(request, membership_id, False)


@require_POST
def staff_reactivate(request: HttpRequest, membership_id: int) -> HttpResponse:
    return _set_active(request, membership_id, True)


@require_POST
def staff_new_link(request: HttpRequest, membership_id: int) -> HttpResponse:
    member = access.member_for(request.user, membership_id)
    if member.role == Role.MANAGER:
        confirm_it_is_you(request)
    try:
        link = staff_service.password_link_new(actor=request.user, member=member, base_url=request_base_url(request))
    except Conflict as exc:
        messages.error(request, str(exc))
        return redirect("clinic_staff_member", membership_id=member.pk)
    return _link_page(request, member, link, added=False)


# --- the link, for the new staff member (no session yet) ---------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def welcome(request: HttpRequest, token: str) -> HttpResponse:
    """Set a first password from a manager's link, then sign in. The token is in the path:
    the page is never cached and sends no Referer (SECURE_REFERRER_POLICY is same-origin)."""
    try:
        row = staff_service.password_link_for_token(token)
    except staff_service.LinkInvalid as exc:
        return _invalid(request, exc)
    form = SetPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = staff_service.password_set_from_link(token=token, **form.cleaned_data)
        except staff_service.LinkInvalid as exc:
            return _invalid(request, exc)
        except InvalidInput as exc:
            show_invalid(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Your password is set. Sign in with your username and this password from now on.")
            return redirect("home")
    response = render(request, "web/account/welcome.html", {"form": form, "person": row.user, "clinic": row.clinic},
                      status=400 if form.errors else 200)
    response["Cache-Control"] = "no-store"
    return response


def _invalid(request: HttpRequest, exc: staff_service.LinkInvalid) -> HttpResponse:
    response = render(request, "web/account/welcome_invalid.html", {"message": str(exc), "reason": exc.reason},
                      status=404 if exc.reason == "unknown" else 410)
    response["Cache-Control"] = "no-store"
    return response
