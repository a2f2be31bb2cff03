"""API bearer tokens: create, list, revoke, authenticate.

A token is shown once, when it is made; only its SHA-256 is stored, so a copy of the
database does not hand out working credentials. Tokens carry 256 bits from the OS
CSPRNG (ASVS 11.5.1: a UUID would not do). Each token belongs to one person and acts
with exactly that person's role and clinic (HIPAA unique user identification).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import audit, secret_tokens
from .errors import InvalidInput
from .models import ApiToken

# A recognisable prefix lets secret scanners (and people) tell a leaked Touchup token
# from random noise; it adds no secrecy and is part of what gets hashed.
PREFIX = "tu_"
# last_used_at is bookkeeping, not an audit record: one write a minute per token is
# enough to spot stale tokens without a write on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# Beyond this a header is not one of ours; do not spend a hash on it.
MAX_TOKEN_LENGTH = secret_tokens.MAX_LENGTH
MAX_TOKENS_PER_USER = 20


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown to the person once; never stored


@transaction.atomic
def token_create(*, actor: Any, name: str) -> NewToken:
    """Make a token for `actor` (acting as themselves only). Audited."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name", "is required (say where the token is used)")
    if len(name) > 100:
        raise InvalidInput("name", "is longer than 100 characters")
    if ApiToken.objects.filter(user=actor, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
        raise InvalidInput("name", f"you already have {MAX_TOKENS_PER_USER} tokens; revoke one first")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=actor, name=name, token_sha256=secret_tokens.digest(secret))
    # The token's own id identifies it in the trail; the secret and its hash never do.
    audit.record("api_token.create", actor=actor, obj=token)
    return NewToken(token=token, secret=secret)


def tokens_of(user: Any) -> list[ApiToken]:
    """The person's own tokens, newest first (revoked ones included, marked)."""
    return list(ApiToken.objects.filter(user=user).order_by("-created_at", "-pk"))


def token_of(user: Any, token_id: Any) -> ApiToken | None:
    """One of the person's own tokens; None for a missing or someone else's token."""
    try:
        pk = int(token_id)
    except (TypeError, ValueError):
        return None
    return ApiToken.objects.filter(user=user, pk=pk).first()


@transaction.atomic
def token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke one of the actor's own tokens. Revoking twice is a no-op (still audited once)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.user_id != actor.pk:
        # Callers look tokens up through token_of(actor, ...); this is the backstop.
        raise InvalidInput("token", "not your token")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record("api_token.revoke", actor=actor, obj=token)
    return token


def authenticate(secret: str | None) -> Any | None:
    """The active user a presented token belongs to, or None.

    The lookup is by SHA-256 of a 256-bit secret, so the index search leaks nothing
    useful; the final comparison is constant-time anyway.
    """
    if not secret or len(secret) > MAX_TOKEN_LENGTH or not secret.startswith(PREFIX):
        return None
    digest = secret_tokens.digest(secret)
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_sha256=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not hmac.compare_digest(token.token_sha256, digest):
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # A plain UPDATE, outside any request transaction: it must not roll back with a
        # failing request, and it must not take the audit chain's lock.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
