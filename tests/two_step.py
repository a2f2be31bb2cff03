"""Two-step sign-in for the tests: an authenticator app set up the way allauth does it,
and the code the phone would show (pyotp-compatible TOTP from the stored secret)."""

from __future__ import annotations

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value, \
    yield_hotp_counters_from_time


def activate(user) -> str:
    """Give `user` an authenticator app and recovery codes; return the app's secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def code(secret: str) -> str:
    """The 6-digit code an authenticator app shows now."""
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def require_two_step(clinic, on: bool = True):
    """Set the clinic's policy directly (the switch itself is tested through the page)."""
    clinic.require_two_step = on
    clinic.save(update_fields=["require_two_step"])
    return clinic
