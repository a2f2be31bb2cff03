"""How the API answers when something is wrong: one JSON shape per kind of problem.

- bad input (a service's InvalidInput or a schema's validation) → 422
  {"detail": [{"field": "points[2].units", "message": "..."}]}
- a clash with the object's state (Conflict) → 409 {"detail": "..."}
- signing refused (SigningRefused) → 422 {"detail": "...", "reasons": [...]}
- missing *or another clinic's* object → 404 {"detail": "Not found."}, one body for both
  so ids cannot be probed (ASVS 8.2.2, 8.4.1)
- role may not do this (PermissionDenied) → 403 {"detail": "..."}
- the clinic requires two-step sign-in and the caller has not set it up (TwoStepRequired)
  → 403 {"detail": "...", "code": "two_step_required"}
- no credentials → 401 {"detail": "Authentication required."}

Messages are generic where detail would leak (ASVS 16.5.1).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from touchup.clinic.access import TwoStepRequired
from touchup.clinic.errors import Conflict, InvalidInput, SigningRefused

NOT_FOUND = "Not found."


def field_name(loc: list[Any] | tuple[Any, ...]) -> str:
    """("body", "payload", "points", 2, "units") → "points[2].units".

    The first element says where the input came from (body, query, path); for a body
    the second is the Python parameter name, which means nothing to a client.
    """
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else ["body"]
    elif parts and parts[0] in ("query", "path", "header", "cookie", "form", "file"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def _validation_error(request: HttpRequest, exc: ValidationError, api: NinjaAPI) -> HttpResponse:
    seen: set[tuple[str, str]] = set()
    detail = []
    for err in exc.errors:
        field = field_name(err.get("loc", ()))
        message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
        if (field, message) not in seen:
            seen.add((field, message))
            detail.append({"field": field, "message": message})
    return api.create_response(request, {"detail": detail}, status=422)


def _invalid_input(request: HttpRequest, exc: InvalidInput, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, {"detail": [{"field": exc.field, "message": exc.message}]}, status=422)


def _conflict(request: HttpRequest, exc: Conflict, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc) or "Conflict."}, status=409)


def _refused(request: HttpRequest, exc: SigningRefused, api: NinjaAPI) -> HttpResponse:
    return api.create_response(
        request, {"detail": "Signing was refused.", "reasons": list(exc.reasons)}, status=422
    )


def _not_found(request: HttpRequest, exc: Http404, api: NinjaAPI) -> HttpResponse:
    # Never the exception's own text: "No such patient." vs "No such treatment." is fine,
    # but a future message must not say *why* (missing or not yours).
    return api.create_response(request, {"detail": NOT_FOUND}, status=404)


def _forbidden(request: HttpRequest, exc: PermissionDenied, api: NinjaAPI) -> HttpResponse:
    # The gate's messages name the role, not the object: safe to show.
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)


def _two_step_required(request: HttpRequest, exc: TwoStepRequired, api: NinjaAPI) -> HttpResponse:
    # A script can tell this apart from a role's refusal: a person must act, not the code.
    return api.create_response(request, {"detail": str(exc), "code": exc.code}, status=403)


def _unauthenticated(request: HttpRequest, exc: AuthenticationError, api: NinjaAPI) -> HttpResponse:
    response = api.create_response(request, {"detail": "Authentication required."}, status=401)
    # RFC 9110 §11.6.1: a 401 names the schemes that would work.
    response["WWW-Authenticate"] = 'Bearer realm="touchup"'
    return response


def install(api: NinjaAPI) -> None:
    def bind(handler: Any) -> Any:
        return lambda request, exc: handler(request, exc, api)

    api.add_exception_handler(ValidationError, bind(_validation_error))
    api.add_exception_handler(InvalidInput, bind(_invalid_input))
    api.add_exception_handler(Conflict, bind(_conflict))
    api.add_exception_handler(SigningRefused, bind(_refused))
    api.add_exception_handler(Http404, bind(_not_found))
    api.add_exception_handler(PermissionDenied, bind(_forbidden))
    api.add_exception_handler(TwoStepRequired, bind(_two_step_required))
    api.add_exception_handler(AuthenticationError, bind(_unauthenticated))
