"""Request context for the audit trail: who, from where, under which request id."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass

from .client_ip import client_ip


@dataclass(frozen=True)
class RequestContext:
    ip: str | None
    request_id: str


current_request: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "touchup_request", default=None
)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # X-Forwarded-For is believed only as far as TOUCHUP_TRUSTED_PROXIES says (client_ip.py).
        token = current_request.set(RequestContext(ip=client_ip(request.META), request_id=uuid.uuid4().hex))
        try:
            response = self.get_response(request)
        finally:
            current_request.reset(token)
        # Patient data must not sit in shared or browser caches.
        if request.user.is_authenticated and "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        return response
