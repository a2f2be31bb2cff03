"""Who may stop being a manager: the one rule about a clinic's staff that is not a matter
of permissions. Pure Python (the clinic layer counts the rows and asks)."""

from __future__ import annotations

MANAGER = "manager"

LAST_MANAGER = (
    "You are the clinic's last active manager: make someone else a manager first, "
    "or nobody could add staff, change roles or read the audit trail."
)
LAST_MANAGER_OTHER = (
    "This is the clinic's last active manager: make someone else a manager first, "
    "or nobody could add staff, change roles or read the audit trail."
)


def last_manager_refusal(*, active_managers: int, role: str, active: bool, new_role: str, new_active: bool,
                         is_self: bool) -> str | None:
    """The sentence refusing a change of one membership (role and active flag, before and
    after) that would leave the clinic with no active manager; None when it may go ahead.

    `active_managers` counts the clinic's active managers before the change, this
    membership included when it is one."""
    was_manager = active and role == MANAGER
    stays_manager = new_active and new_role == MANAGER
    if was_manager and not stays_manager and active_managers <= 1:
        return LAST_MANAGER if is_self else LAST_MANAGER_OTHER
    return None
