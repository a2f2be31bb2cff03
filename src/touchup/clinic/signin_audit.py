"""Sign-in events in the audit trail (AU-4): signing in and out, failures, lockouts,
passwords and the second step (MFA).

The receivers listen to Django's and allauth's signals, so every way in is covered
without touching a view: the staff login, the portal login, an accepted invitation,
re-entering a password or a code before a sensitive change.

`detail` holds codes only. A failed sign-in names the account only when the typed
username is one; otherwise nothing typed is kept (a stranger's text may be a password or
a patient's name), only the code "unknown_account".
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from touchup.core.audit_actions import ACTIONS, SIGNIN

from . import audit
from .models import Membership, Patient

# Every action this module (and idle.py, signin_limits.py, user_sessions.py) records, in
# the words the manager's audit page shows: the sign-in rows of the one table of actions.
LABELS: dict[str, str] = {a: w for a, (kind, w) in ACTIONS.items() if kind == SIGNIN}

# The codes in `detail`, in words.
REASONS: dict[str, str] = {
    "wrong_password": "wrong password",
    "unknown_account": "no such account",
    "inactive_account": "account deactivated",
    "wrong_code": "wrong code",
    "reused_code": "code already used",
    "account": "too many for this username",
    "ip": "too many from this address",
    "mfa_code": "too many wrong codes",
    "password_changed": "password changed",
    "deactivated": "account deactivated",
    "removed_from_clinic": "removed from the clinic",
}


def clinic_of(user: Any) -> int | None:
    """The clinic whose manager sees this person's events: their staff membership (a
    deactivated one too), else the clinic of the patient they are."""
    if user is None or getattr(user, "pk", None) is None:
        return None
    clinic = Membership.objects.filter(user=user).order_by("-active").values_list("clinic_id", flat=True).first()
    if clinic is None:
        clinic = Patient.objects.filter(user=user).values_list("clinic_id", flat=True).first()
    return clinic


def account_named(username: str | None) -> Any:
    """The account a typed username names, as the sign-in itself matches it (allauth:
    case-insensitive), or None."""
    if not username:
        return None
    matches = list(get_user_model()._default_manager.filter(username__iexact=username)[:2])
    if len(matches) == 1:
        return matches[0]
    return next((u for u in matches if u.get_username() == username), None)


def record_for(action: str, user: Any, *, outcome: str = "ok", detail: dict | None = None) -> None:
    """One event about `user` (or about an unknown account when None), under their clinic.
    Refusals are written in a transaction of their own: the request that caused them may
    roll back."""
    clinic = clinic_of(user)
    if outcome == "ok":
        audit.record(action, actor=user, clinic=clinic, detail=detail)
    else:
        audit.record_denied(action, actor=user, clinic=clinic, detail=detail)


# --- Django's signals -------------------------------------------------------------


def _signed_in(sender, request, user, **kwargs) -> None:
    methods = []
    session = getattr(request, "session", None)
    if session is not None:
        # allauth keeps the steps of this sign-in in the session (password, then mfa).
        methods = [r.get("method") for r in session.get("account_authentication_methods", []) if isinstance(r, dict)]
    record_for("signin", user, detail={"mfa": "mfa" in methods})


def _signed_out(sender, request, user, **kwargs) -> None:
    if user is None:
        return
    # The idle middleware records its own sign-out, with the reason (idle.py).
    reason = getattr(request, "_touchup_signout", None)
    record_for(reason or "signout", user)


def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    user = account_named(credentials.get("username"))
    if user is None:
        reason = "unknown_account"
    elif not user.is_active:
        reason = "inactive_account"
    else:
        reason = "wrong_password"
    detail = {"reason": reason}
    if getattr(getattr(request, "user", None), "is_authenticated", False):
        detail["step"] = "reauthenticate"  # re-entering the password before a sensitive change
    record_for("signin.failed", user, outcome="denied", detail=detail)


# --- allauth's signals ------------------------------------------------------------


def _password(action: str):
    def receiver(sender, request, user, **kwargs) -> None:
        record_for(action, user)

    return receiver


_password_changed = _password("password.changed")
_password_reset = _password("password.reset")
_password_set = _password("password.set")


def _authenticator_added(sender, request, user, authenticator, **kwargs) -> None:
    if authenticator.type == "recovery_codes":
        record_for("mfa.recovery_codes", user, detail={"type": authenticator.type})
    else:
        record_for("mfa.activated", user, detail={"type": authenticator.type})


def _authenticator_reset(sender, request, user, authenticator, **kwargs) -> None:
    record_for("mfa.recovery_codes", user, detail={"type": authenticator.type})


def _authenticator_removed(sender, request, user, authenticator, **kwargs) -> None:
    record_for("mfa.deactivated", user, detail={"type": authenticator.type})


def _mfa_failed(sender, request, user, authenticator, reauthentication=False, **kwargs) -> None:
    detail = {"reason": "reused_code" if _code_was_used(request, authenticator) else "wrong_code",
              "type": authenticator.type}
    if reauthentication:
        detail["step"] = "reauthenticate"
    record_for("mfa.failed", user, outcome="denied", detail=detail)


def _code_was_used(request: Any, authenticator: Any) -> bool:
    """A right authenticator-app code that was already used once (allauth refuses a code
    twice within its period, AN-3): a replay, worth telling apart from a typo."""
    code = getattr(request, "POST", {}).get("code", "")
    if authenticator.type != "totp" or not code:
        return False
    from django.core.cache import cache

    wrapped = authenticator.wrap()
    return cache.get(wrapped._get_used_cache_key(code)) is not None


def connect() -> None:
    from allauth.account import signals as account_signals
    from allauth.mfa import signals as mfa_signals

    uid = "touchup.signin_audit"
    user_logged_in.connect(_signed_in, dispatch_uid=uid)
    user_logged_out.connect(_signed_out, dispatch_uid=uid)
    user_login_failed.connect(_sign_in_failed, dispatch_uid=uid)
    account_signals.password_changed.connect(_password_changed, dispatch_uid=uid)
    account_signals.password_reset.connect(_password_reset, dispatch_uid=uid)
    account_signals.password_set.connect(_password_set, dispatch_uid=uid)
    mfa_signals.authenticator_added.connect(_authenticator_added, dispatch_uid=uid)
    mfa_signals.authenticator_reset.connect(_authenticator_reset, dispatch_uid=uid)
    mfa_signals.authenticator_removed.connect(_authenticator_removed, dispatch_uid=uid)
    mfa_signals.authentication_failed.connect(_mfa_failed, dispatch_uid=uid)
