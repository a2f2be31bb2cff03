"""`{% load audit_words %}{{ event.action|action_words }}` and `{{ event|audit_why }}`: the
manager's audit page names every action in plain words ("Opened the patient's record",
"Sign-in failed: wrong password") from the one table, touchup.core.audit_actions. The
code stays on the page beside the words."""

from __future__ import annotations

from django import template

from touchup.clinic.signin_audit import REASONS
from touchup.core.audit_actions import SIGNIN, kind_of, words

register = template.Library()


@register.filter
def action_words(action: str) -> str:
    return words(action)


@register.filter
def audit_why(event) -> str:
    """The reason of a sign-in event, in words: why it failed, which limit, for how long."""
    if kind_of(event.action) != SIGNIN or not isinstance(event.detail, dict):
        return ""
    d = event.detail
    parts = [REASONS[code] for code in (d.get("reason"), d.get("limit")) if code in REASONS]
    if d.get("step") == "reauthenticate":
        parts.append("while confirming who they are")
    if d.get("minutes"):
        parts.append(f"paused {d['minutes']} min")
    if d.get("mfa") is True:
        parts.append("with two-step code")
    ended = d.get("sessions") or d.get("sessions_ended")
    if ended:
        parts.append(f"{ended} session{'s' if ended != 1 else ''} ended")
    return ", ".join(parts)
