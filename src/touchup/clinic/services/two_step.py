"""Two-step sign-in for staff: the manager's policy and resetting a lost authenticator.

The rule itself (who is sent to set it up, who gets a 403) is in touchup.clinic.access;
these are the writes, each audited in its own transaction with ids and codes only.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .. import audit
from ..errors import Conflict
from ..models import Clinic, Membership

MANAGER_FIRST = (
    "Set up two-step sign-in for yourself first, then turn this on: you would otherwise be "
    "sent to set it up on your next page, and the clinic would depend on a setup nobody has "
    "tried yet."
)


def _has_authenticator_app(user: Any) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


@transaction.atomic
def two_step_policy_set(*, actor: Any, clinic: Clinic, required: bool) -> Clinic:
    """Require two-step sign-in for every staff member of the clinic, or stop requiring it.

    Turning it on is refused while the manager has no authenticator app of their own:
    they are the one who can turn it off again, and a setup that fails for them (no phone
    at hand, a server clock that makes every code wrong) must not lock the whole staff out
    of patient data first. Setting the value it already has writes nothing.
    """
    clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
    if clinic.require_two_step == required:
        return clinic
    if required and not _has_authenticator_app(actor):
        raise Conflict(MANAGER_FIRST)
    clinic.require_two_step = required
    clinic.save(update_fields=["require_two_step"])
    audit.record("clinic.two_step_policy", actor=actor, clinic=clinic, obj=clinic,
                 detail={"required": required})
    return clinic


@transaction.atomic
def two_step_reset(*, actor: Any, member: Membership, via: str = "page") -> int:
    """Remove a staff member's authenticator app and recovery codes (a lost or replaced
    phone). They sign in with their password alone once, and, where the clinic requires
    it, are sent to set up the new phone before any patient data. Returns how many
    authenticators were removed (0: nothing to reset, and nothing is recorded).
    `via`: "page" (the manager's staff list) or "command" (`touchup manage reset_two_step`)."""
    from allauth.mfa.models import Authenticator

    removed, _ = Authenticator.objects.filter(user_id=member.user_id).delete()
    if removed:
        audit.record("two_step.reset", actor=actor, clinic=member.clinic_id, obj=member,
                     detail={"membership": member.pk, "user": member.user_id, "via": via})
    return removed
