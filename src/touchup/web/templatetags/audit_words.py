"""`{% load audit_words %}{{ event.action|action_words }}` and `{{ event|audit_why }}`: the
manager's audit page names sign-in events in plain words ("Sign-in failed: wrong
password") rather than codes. Other actions keep their code; the code stays on the page."""

from __future__ import annotations

from django import template

from touchup.clinic.signin_audit import LABELS, REASONS

register = template.Library()


@register.filter
def action_words(action: str) -> str:
    return LABELS.get(action, "")


@register.filter
def audit_why(event) -> str:
    """The reason of a sign-in event, in words: why it failed, which limit, for how long."""
    if event.action not in LABELS or not isinstance(event.detail, dict):
        return ""
    d = event.detail
    words = [REASONS[code] for code in (d.get("reason"), d.get("limit")) if code in REASONS]
    if d.get("step") == "reauthenticate":
        words.append("while confirming who they are")
    if d.get("minutes"):
        words.append(f"paused {d['minutes']} min")
    if d.get("mfa") is True:
        words.append("with two-step code")
    ended = d.get("sessions") or d.get("sessions_ended")
    if ended:
        words.append(f"{ended} session{'s' if ended != 1 else ''} ended")
    return ", ".join(words)
