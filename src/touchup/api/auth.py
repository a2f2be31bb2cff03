"""Who is calling: a Django session (the staff pages' login) or a personal bearer token.

- Bearer first: `Authorization: Bearer tu_...` → the token's owner. A bearer header that
  does not name a live token is a 401 even if a session cookie is also present (fail
  closed; a script with a revoked token must notice).
- Session second: the logged-in user, with Django's CSRF check on unsafe methods, as
  ninja's django_auth does it. A request with no logged-in user is simply "not this
  scheme", so an anonymous POST gets the same 401 as an anonymous GET (not a CSRF 403).
- Nothing else: every operation answers 401 to anonymous callers. The OpenAPI document
  and the docs page are behind the same login unless TOUCHUP_DEV is on (ASVS 13.4.5).

Either way `request.user` is the person, so the gate and the audit trail see who acted.
A staff member whose clinic requires two-step sign-in and who has not set it up gets a
403 from every operation, token or session alike (touchup.clinic.access.check_two_step).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from ninja import Field, Router, Schema, Status
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer

from touchup.clinic import access, audit, tokens
from touchup.clinic.access import PERMISSIONS
from touchup.clinic.client_ip import client_ip

from .schemas import COMMON_ERRORS, DetailOut, PathId, text

log = logging.getLogger("touchup.api.auth")


class BearerToken(HttpBearer):
    def __call__(self, request: HttpRequest) -> Any | None:
        header = request.headers.get(self.header)
        if not header or not header[:7].lower().startswith("bearer "):
            return None  # not this scheme: let the session try
        return self.authenticate(request, header[7:].strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = tokens.authenticate(token)
        if user is None:
            # Never log the token itself, nor a prefix of it.
            log.warning("API bearer token refused from %s", client_ip(request.META))
            raise AuthenticationError()
        request.user = user
        access.check_two_step(user, via="api")
        return user


class SessionAuth(APIKeyCookie):
    """django_auth, except that no login means "not me" before the CSRF check runs."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request: HttpRequest) -> Any | None:
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)  # CSRF check for unsafe methods, then authenticate

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        if not request.user.is_authenticated:
            return None
        access.check_two_step(request.user, via="api")
        return request.user


bearer_auth = BearerToken()
session_auth = SessionAuth()
AUTH = [bearer_auth, session_auth]


def docs_guard(view: Any) -> Any:
    """/api/docs and /api/openapi.json: public in development, otherwise for staff only (a
    session or a token). A patient signed in to the portal gets a 403: the API is not theirs,
    and its map is no business of anyone it does not serve (ASVS 13.4.5)."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if settings.DEBUG:
            return view(request, *args, **kwargs)
        user = request.user if request.user.is_authenticated else None
        header = request.headers.get("Authorization", "")
        if user is None and header[:7].lower() == "bearer ":
            user = tokens.authenticate(header[7:].strip())
        if user is None:
            response = JsonResponse({"detail": "Authentication required."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="touchup"'
            return response
        if access.membership_of(user) is None:
            audit.record_denied("access.no_membership", actor=user, detail={"permission": "api.docs"})
            return JsonResponse({"detail": "The API documentation is for clinic staff."}, status=403)
        return view(request, *args, **kwargs)

    return guarded


# --- who am I, and my tokens -----------------------------------------------------------

router = Router(tags=["auth"])


class MeOut(Schema):
    username: str
    clinic: str | None = Field(description="The clinic's slug")
    role: str | None
    is_doctor: bool
    permissions: list[str] = Field(description="What this role may do (touchup.clinic.access.PERMISSIONS)")


class TokenIn(Schema):
    name: text(100, min_length=1) = Field(description="Where the token is used, e.g. 'nightly export'")  # type: ignore[valid-type]


class TokenOut(Schema):
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret. Shown once: store it now; only its hash is kept.")


def _token_out(t: Any) -> dict[str, Any]:
    return {
        "id": t.pk, "name": t.name, "created_at": t.created_at,
        "last_used_at": t.last_used_at, "revoked_at": t.revoked_at,
    }


def _staff(request: HttpRequest) -> Any:
    m = access.membership_of(request.user)
    if m is None:
        audit.record_denied("access.no_membership", actor=request.user, detail={"permission": "api"})
        raise PermissionDenied("You are not a member of a clinic.")
    return m


@router.get("/me", response={200: MeOut, **COMMON_ERRORS})
def me(request: HttpRequest) -> dict[str, Any]:
    """The caller, their clinic and role, and what the role may do."""
    m = access.membership_of(request.user)
    return {
        "username": request.user.get_username(),
        "clinic": m.clinic.slug if m else None,
        "role": m.role if m else None,
        "is_doctor": bool(m and m.is_doctor),
        "permissions": sorted(p for p, roles in PERMISSIONS.items() if m and m.role in roles),
    }


@router.get("/tokens", response={200: list[TokenOut], **COMMON_ERRORS})
def list_tokens(request: HttpRequest) -> list[dict[str, Any]]:
    """The caller's own tokens (never anyone else's, never the secrets)."""
    return [_token_out(t) for t in tokens.tokens_of(request.user)]


# Minting a token needs the interactive login: a leaked token must not be able to
# renew itself into a token that outlives its revocation.
@router.post("/tokens", auth=[session_auth], response={201: NewTokenOut, **COMMON_ERRORS})
def create_token(request: HttpRequest, payload: TokenIn) -> Status[Any]:
    """Make a personal API token. The secret is in this answer only."""
    _staff(request)
    new = tokens.token_create(actor=request.user, name=payload.name)
    return Status(201, {**_token_out(new.token), "token": new.secret})


@router.delete("/tokens/{token_id}", response={200: TokenOut, 404: DetailOut, **COMMON_ERRORS})
def revoke_token(request: HttpRequest, token_id: PathId) -> dict[str, Any]:
    """Revoke one of the caller's tokens (a token may revoke itself)."""
    token = tokens.token_of(request.user, token_id)
    if token is None:
        # Same answer for "no such token" and "someone else's"; the attempt is recorded.
        audit.record_denied("api_token.not_found", actor=request.user, detail={"id": str(token_id)})
        raise Http404
    return _token_out(tokens.token_revoke(actor=request.user, token=token))
