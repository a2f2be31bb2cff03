"""Secrets handed out in links and headers: a calendar feed's token, a patient's portal
invitation, a staff member's set-password link, an API token.

Each is random (`secrets.token_urlsafe(32)`: 256 bits), shown once, and stored only as
its SHA-256, so a copy of the database (a backup, a leaked dump) opens nothing. A token
far longer than ours is not hashed at all: it cannot be one, and hashing what a stranger
sends costs time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.db.models import QuerySet

MAX_LENGTH = 200


def digest(token: str) -> str:
    # surrogatepass: a path or header can carry a lone surrogate; it must hash, not raise.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """(the token, for the link; its digest, for the database)."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def find(rows: QuerySet, token: str | None) -> Any | None:
    """The row of `rows` (a queryset with a `token_sha256` column) that `token` names, or None."""
    if not token or len(token) > MAX_LENGTH:
        return None
    return rows.filter(token_sha256=digest(token)).first()


def why_unusable(link: Any, *, used: bool, now: dt.datetime) -> str | None:
    """Why a link that works once (used_at, revoked_at, expires_at) cannot be used now:
    "used" (or `used`: what it was for is done another way), "revoked" (a newer link replaced
    it), "expired"; None when it can."""
    if link.used_at is not None or used:
        return "used"
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at <= now:
        return "expired"
    return None
