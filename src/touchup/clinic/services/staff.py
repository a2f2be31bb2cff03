"""A clinic's staff: the first run (`touchup clinic create`), the manager adding people,
changing roles, deactivating and reactivating them, and the link that lets a new person
set their first password.

No account is ever made with a password someone else chose or knows (ASVS 6.3.2, no
default accounts): a new account has an unusable password and a single-use link to set
one, valid for 72 hours. As for the portal's invitations, the link carries 256 bits from
the OS CSPRNG and only its SHA-256 is stored. Every write is one transaction with its audit
event; `detail` holds ids and codes, never names, usernames or emails.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import EmailValidator, validate_slug
from django.db import IntegrityError, transaction
from django.utils import timezone

from touchup.core.dates import long_day_time_text
from touchup.core.staffing import last_manager_refusal

from .. import audit, secret_tokens
from ..credentials import chosen_password, new_username, strong_enough, username_taken
from ..links import public_base_url
from ..errors import Conflict, InvalidInput
from ..models import Clinic, Membership, PasswordLink, Role
from ..zones import clinic_zone

log = logging.getLogger(__name__)

VALID_FOR = dt.timedelta(hours=72)
STAFF_ROLES = {Role.CLINICIAN.value, Role.FRONT_DESK.value, Role.MANAGER.value}
LINK_PATH = "/accounts/welcome/"


class LinkInvalid(Exception):
    """The set-password link cannot be used; `reason` is unknown | expired | used | revoked | inactive."""

    MESSAGES = {
        "unknown": "This link is not valid. Check that you opened the whole link, or ask your clinic's "
                   "manager for a new one.",
        "expired": "This link has expired (links last 72 hours). Ask your clinic's manager for a new one.",
        "used": "This link has already been used. Sign in with the username and password you chose; if you "
                "have forgotten the password, use \"Forgotten your password?\" or ask your manager.",
        "revoked": "This link was replaced by a newer one. Use the latest link your manager gave you.",
        "inactive": "Your account at this clinic is not active. Ask your clinic's manager.",
    }

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(self.MESSAGES[reason])


@dataclass(frozen=True)
class NewLink:
    link: str  # shown once (to the manager or the operator) and emailed; never stored
    expires_at: dt.datetime
    emailed: bool = False


@dataclass(frozen=True)
class NewClinic:
    clinic: Clinic
    membership: Membership
    link: NewLink | None  # None when the password came from --password-stdin


@dataclass(frozen=True)
class NewStaff:
    membership: Membership
    link: NewLink


# --- checking what people type ---------------------------------------------------------


def _email(value: str, field: str = "email") -> str:
    email = (value or "").strip()
    if email:
        try:
            EmailValidator()(email)
        except ValidationError:
            raise InvalidInput(field, "is not an email address") from None
    return email


def _name(value: str, field: str, *, required: bool) -> str:
    name = (value or "").strip()
    if required and not name:
        raise InvalidInput(field, "is required")
    if len(name) > 150:
        raise InvalidInput(field, "must be at most 150 characters")
    return name


def _role(value: str) -> str:
    if value not in STAFF_ROLES:
        raise InvalidInput("role", "choose clinician, front desk or clinic manager")
    return value


def _new_user(*, username: str, given_name: str, family_name: str, email: str, password: str | None) -> Any:
    user = get_user_model()(username=username, first_name=given_name, last_name=family_name, email=email)
    if password is None:
        user.set_unusable_password()
    else:
        strong_enough(password, user, field="password")
        user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same username typed twice at once
        raise username_taken(username) from None
    return user


def _link(*, user: Any, clinic_id: int, actor: Any, base_url: str, now: dt.datetime, via: str) -> NewLink:
    """A fresh link for `user` (their older open links retired), audited. In the caller's
    transaction."""
    PasswordLink.objects.filter(user=user, used_at__isnull=True, revoked_at__isnull=True).update(revoked_at=now)
    token, token_sha256 = secret_tokens.new_token()
    row = PasswordLink.objects.create(user=user, clinic_id=clinic_id, token_sha256=token_sha256,
                                      created_by=actor if getattr(actor, "is_authenticated", False) else None,
                                      created_at=now, expires_at=now + VALID_FOR)
    audit.record("staff.password_link", actor=actor, clinic=clinic_id, obj=row,
                 detail={"user": user.pk, "expires_at": row.expires_at.isoformat(), "via": via})
    return NewLink(f"{base_url.rstrip('/')}{LINK_PATH}{token}/", row.expires_at)


def _email_link(user: Any, clinic: Clinic, link: NewLink) -> bool:
    """Send the link to the person's own address, after the account is committed. A mail
    server that is down must not undo the account: the manager hands the link over."""
    if not user.email:
        return False
    # "3 December", as every page writes dates (not "03 December").
    expires = timezone.localtime(link.expires_at, clinic_zone(clinic))
    try:
        send_mail(
            subject=f"{clinic.name}: your Touchup account",
            message=(
                f"Hello {user.first_name or user.get_username()},\n\n{clinic.name} has made you a Touchup account. "
                f"Your username is {user.get_username()}.\n\nChoose your password here (the link works once and "
                f"expires on {long_day_time_text(expires)}):\n{link.link}\n\n"
                f"If you did not expect this email, ignore it and tell the clinic.\n— {clinic.name}"
            ),
            from_email=None, recipient_list=[user.email],
        )
    except (OSError, smtplib.SMTPException):
        log.warning("set-password email not sent (user %s)", user.pk, exc_info=True)
        return False
    return True


# --- the first run ---------------------------------------------------------------------


def clinic_create(*, name: str, slug: str, time_zone: str = "UTC", manager_username: str,
                  manager_given_name: str = "", manager_family_name: str = "", manager_email: str = "",
                  password: str | None = None, base_url: str = "", now: dt.datetime | None = None,
                  phone: str = "") -> NewClinic:
    """Create a clinic and its first manager (`touchup clinic create`). With `password`
    None the manager gets an unusable password and a set-password link. Everything or
    nothing: a refusal (InvalidInput naming the field) writes no row. No actor: the
    operator at the terminal. `phone`: the clinic's number for patients (optional; the
    manager can set it, and an email, on the Clinic page later)."""
    from .contact import clean_contact

    now = now or timezone.now()
    with transaction.atomic():
        name = (name or "").strip()
        if not name:
            raise InvalidInput("name", "is required")
        if len(name) > 200:
            raise InvalidInput("name", "must be at most 200 characters")
        slug = (slug or "").strip()
        try:
            validate_slug(slug)
        except ValidationError:
            raise InvalidInput("slug", "use only letters, digits, - and _ (for example alpha-aesthetics)") from None
        if len(slug) > 50:
            raise InvalidInput("slug", "must be at most 50 characters")
        if Clinic.objects.filter(slug__iexact=slug).exists():
            raise InvalidInput("slug", f"{slug!r} is taken by another clinic: choose another")
        time_zone = (time_zone or "").strip() or "UTC"
        if time_zone not in zoneinfo.available_timezones():
            raise InvalidInput("time_zone", f"{time_zone!r} is not a time zone name (for example Europe/London)")
        username = new_username(manager_username, field="manager")
        given = _name(manager_given_name, "manager_name", required=False)
        family = _name(manager_family_name, "manager_name", required=False)
        email = _email(manager_email, "manager_email")
        phone, _ = clean_contact(phone=phone, email="")
        user = _new_user(username=username, given_name=given, family_name=family, email=email, password=password)
        try:
            with transaction.atomic():
                clinic = Clinic.objects.create(name=name, slug=slug, time_zone=time_zone, phone=phone)
        except IntegrityError:
            raise InvalidInput("slug", f"{slug!r} is taken by another clinic: choose another") from None
        membership = Membership.objects.create(user=user, clinic=clinic, role=Role.MANAGER)
        audit.record("clinic.create", clinic=clinic, obj=clinic,
                     detail={"membership": membership.pk, "user": user.pk, "role": Role.MANAGER.value,
                             "password": "link" if password is None else "stdin", "via": "command"})
        link = None
        if password is None:
            link = _link(user=user, clinic_id=clinic.pk, actor=None, base_url=public_base_url(base_url), now=now,
                         via="command")
    return NewClinic(clinic, membership, link)


# --- the manager's staff page ----------------------------------------------------------


def staff_add(*, actor: Any, clinic: Clinic, given_name: str, family_name: str, username: str, email: str = "",
              role: str, is_doctor: bool = False, base_url: str = "", now: dt.datetime | None = None) -> NewStaff:
    """Add a staff member: an account with no password, a membership, and a set-password
    link (emailed once the account is committed, when there is an address)."""
    now = now or timezone.now()
    with transaction.atomic():
        given = _name(given_name, "given_name", required=True)
        family = _name(family_name, "family_name", required=True)
        username = new_username(username)
        email = _email(email)
        role = _role(role)
        user = _new_user(username=username, given_name=given, family_name=family, email=email, password=None)
        membership = Membership.objects.create(user=user, clinic=clinic, role=role, is_doctor=bool(is_doctor))
        audit.record("staff.add", actor=actor, clinic=clinic, obj=membership,
                     detail={"membership": membership.pk, "user": user.pk, "role": role,
                             "is_doctor": bool(is_doctor), "email": bool(email)})
        link = _link(user=user, clinic_id=clinic.pk, actor=actor, base_url=public_base_url(base_url), now=now,
                     via="page")
    emailed = _email_link(user, clinic, link)
    return NewStaff(membership, NewLink(link.link, link.expires_at, emailed))


def _active_managers(clinic_id: int) -> int:
    """The clinic's active managers, their rows locked until the transaction ends: two
    managers demoting each other at once cannot both succeed."""
    managers = Membership.objects.select_for_update().filter(clinic_id=clinic_id, role=Role.MANAGER, active=True)
    return len(managers.order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def staff_change(*, actor: Any, member: Membership, role: str, is_doctor: bool) -> Membership:
    """Change a staff member's role and doctor flag. Refused (Conflict) when it would
    leave the clinic without an active manager. The same values again write nothing."""
    role = _role(role)
    is_doctor = bool(is_doctor)
    managers = _active_managers(member.clinic_id)  # lock first, then read the row fresh
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if (member.role, member.is_doctor) == (role, is_doctor):
        return member
    refusal = last_manager_refusal(active_managers=managers, role=member.role, active=member.active,
                                   new_role=role, new_active=member.active,
                                   is_self=member.user_id == getattr(actor, "pk", None))
    if refusal:
        raise Conflict(refusal)
    detail = {"membership": member.pk, "user": member.user_id}
    if member.role != role:
        detail["role"] = [member.role, role]
    if member.is_doctor != is_doctor:
        detail["is_doctor"] = [member.is_doctor, is_doctor]
    member.role, member.is_doctor = role, is_doctor
    member.save(update_fields=["role", "is_doctor"])
    audit.record("staff.change", actor=actor, clinic=member.clinic_id, obj=member, detail=detail)
    return member


@transaction.atomic
def staff_set_active(*, actor: Any, member: Membership, active: bool) -> Membership:
    """Deactivate someone who left (their sessions end: touchup.clinic.user_sessions) or
    reactivate them. Their account and everything they recorded stay. Refused (Conflict)
    for the last active manager."""
    managers = _active_managers(member.clinic_id)
    member = Membership.objects.select_for_update().get(pk=member.pk)
    if member.active == active:
        return member
    refusal = last_manager_refusal(active_managers=managers, role=member.role, active=member.active,
                                   new_role=member.role, new_active=active,
                                   is_self=member.user_id == getattr(actor, "pk", None))
    if refusal:
        raise Conflict(refusal)
    if active and Membership.objects.filter(user_id=member.user_id, active=True).exclude(pk=member.pk).exists():
        raise Conflict("This person is active at another clinic: a person works at one clinic at a time.")
    member.active = active
    member.save(update_fields=["active"])
    audit.record("staff.reactivate" if active else "staff.deactivate", actor=actor, clinic=member.clinic_id,
                 obj=member, detail={"membership": member.pk, "user": member.user_id, "role": member.role})
    return member


def password_link_new(*, actor: Any, member: Membership, base_url: str = "",
                      now: dt.datetime | None = None) -> NewLink:
    """A new set-password link for someone who has not set their password yet (the first
    link was lost or ran out); the older ones stop working. Someone who has a password
    resets it themselves ("Forgotten your password?"): a manager never gets a way into a
    working account."""
    now = now or timezone.now()
    with transaction.atomic():
        member = Membership.objects.select_related("user", "clinic").get(pk=member.pk)
        if member.user.has_usable_password():
            raise Conflict("This person has already set their password. If they have forgotten it, they use "
                           "\"Forgotten your password?\" on the sign-in page.")
        if not member.active:
            raise Conflict("Reactivate this person first.")
        link = _link(user=member.user, clinic_id=member.clinic_id, actor=actor,
                     base_url=public_base_url(base_url), now=now, via="page")
    emailed = _email_link(member.user, member.clinic, link)
    return NewLink(link.link, link.expires_at, emailed)


def pending_user_ids(user_ids: list[int]) -> set[int]:
    """Which of these people have not set a password yet (for the staff list)."""
    from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

    return set(get_user_model().objects.filter(pk__in=user_ids, password__startswith=UNUSABLE_PASSWORD_PREFIX)
               .values_list("pk", flat=True))


# --- the link ----------------------------------------------------------------------------


def password_link_for_token(token: str, *, now: dt.datetime | None = None, lock: bool = False) -> PasswordLink:
    """The usable link for `token`, or LinkInvalid saying why not."""
    now = now or timezone.now()
    qs = PasswordLink.objects.select_related("user", "clinic")
    if lock:
        qs = qs.select_for_update(of=("self",))
    row = secret_tokens.find(qs, token)
    if row is None:
        raise LinkInvalid("unknown")
    reason = secret_tokens.why_unusable(row, used=row.user.has_usable_password(), now=now)
    if reason:
        raise LinkInvalid(reason)
    if not Membership.objects.filter(user_id=row.user_id, clinic_id=row.clinic_id, active=True).exists():
        raise LinkInvalid("inactive")
    return row


@transaction.atomic
def password_set_from_link(*, token: str, password1: str, password2: str, now: dt.datetime | None = None) -> Any:
    """Set the person's first password from a usable link (Django's password validators
    decide what is strong enough) and use the link up; returns the user, for signing in."""
    now = now or timezone.now()
    row = password_link_for_token(token, now=now, lock=True)
    user = row.user
    user.set_password(chosen_password(password1, password2, user))
    user.save(update_fields=["password"])
    row.used_at = now
    row.save(update_fields=["used_at"])
    audit.record("staff.password_set", actor=user, clinic=row.clinic_id, obj=row, detail={"user": user.pk})
    return user
