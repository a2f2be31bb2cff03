"""Failed sign-ins are limited (AN-2): what a refused attempt answers, and its audit event.

allauth counts the failures (settings.ACCOUNT_RATE_LIMITS["login_failed"]: per IP and per
typed username; the second step counts wrong codes per account the same way) in Django's
cache and refuses the next attempt with a form error. The account adapter turns that
refusal into this module's 429 page (touchup/clinic/accounts.py), and the first refused
attempt of each lockout is audited as `signin.locked`: later attempts during the same
lockout are not, so a script hammering a locked account cannot flood the trail.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from . import signin_audit

APP = "allauth.account"
ACTION = "login_failed"


@dataclass(frozen=True)
class Lock:
    limit: str  # "ip" | "account" | "mfa_code"
    cache_key: str
    since: float  # the oldest failure still counted: with the key, it names this lockout
    until: float


def current_locks(request: HttpRequest, key: str, *, per_key: str = "account") -> list[Lock]:
    """The login_failed limits that are full now for this request's IP and `key`.

    Reads allauth's own counters (its rate-limit internals: the tests of this module fail
    if an allauth upgrade changes them)."""
    from allauth.core.internal import ratelimit

    now = time.time()
    locks = []
    for rate in ratelimit.get_rates(app=APP, action=ACTION):
        cache_key = ratelimit.get_cache_key(request, app=APP, action=ACTION, rate=rate, key=key)
        history = list(cache.get(cache_key, []))
        allowed, history = ratelimit.apply_rate(history, now, rate, dry_run=True)
        if not allowed and history:
            limit = "ip" if rate.per == "ip" else per_key
            locks.append(Lock(limit, cache_key, history[-1], history[-1] + rate.duration))
    return locks


def refuse(request: HttpRequest, *, key: str | None, user: Any, limit_kind: str = "account") -> HttpResponse:
    """The answer to an attempt refused by the limits: audited once per lockout, 429."""
    locks = current_locks(request, key, per_key=limit_kind) if key else []
    for lock in locks:
        marker = "touchup:signin-lock:" + hashlib.sha256(f"{lock.cache_key}:{lock.since}".encode()).hexdigest()
        # cache.add is atomic in the shared cache: one event however many attempts race.
        if cache.add(marker, True, timeout=max(1, math.ceil(lock.until - time.time())) + 60):
            # An IP lockout is about the address, not about the account typed last.
            who = None if lock.limit == "ip" else user
            detail = {"limit": lock.limit, "minutes": max(1, math.ceil((lock.until - time.time()) / 60))}
            if who is None and lock.limit != "ip":
                detail["reason"] = "unknown_account"
            signin_audit.record_for("signin.locked", who, outcome="denied", detail=detail)
    wait = max((lock.until for lock in locks), default=time.time() + 60) - time.time()
    return throttled_response(request, minutes=max(1, math.ceil(wait / 60)))


def throttled_response(request: HttpRequest, minutes: int | None = None) -> HttpResponse:
    """429 with a sentence a person understands, in the portal's layout on the portal."""
    portal = request.path.startswith("/portal/") or str(request.GET.get("next", "")).startswith("/portal/")
    context = {"minutes": minutes, "layout_base": "portal/base.html" if portal else "web/base.html"}
    response = HttpResponse(render_to_string("429.html", context, request=request), status=429)
    if minutes:
        response["Retry-After"] = str(minutes * 60)
    return response
