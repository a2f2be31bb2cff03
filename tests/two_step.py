"""Two-step sign-in for the tests: an authenticator app set up the way allauth does it,
and the code the phone would show (pyotp-compatible TOTP from the stored secret)."""

from __future__ import annotations

from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
import time

from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value


def activate(user) -> str:
    """Give `user` an authenticator app and recovery codes; return the app's secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def code(secret: str, steps: int = 0) -> str:
    """The 6-digit code an authenticator app shows now (`steps` periods later or, negative,
    earlier). Not allauth's yield_hotp_counters_from_time, whose first counter is the oldest
    one the tolerance accepts, which a slow request can see expire."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD + steps))


def require_two_step(clinic, on: bool = True):
    """Set the clinic's policy directly (the switch itself is tested through the page)."""
    clinic.require_two_step = on
    clinic.save(update_fields=["require_two_step"])
    return clinic
