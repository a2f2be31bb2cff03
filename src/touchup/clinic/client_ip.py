"""The client's address, for the audit trail, the per-IP sign-in limit and the access log.

Straight on the socket it is REMOTE_ADDR. Behind TLS proxies (docs/self-hosting.md
section 6) REMOTE_ADDR is the nearest proxy's, and the client's address is in
X-Forwarded-For: each proxy appends the address it was called from. With N proxies of
the clinic's own in front (TOUCHUP_TRUSTED_PROXIES=N), the client is the Nth entry from
the right, the one the outermost trusted proxy wrote. Entries further left are whatever
the client sent, so they are never believed; with N = 0 (the default) the header is
ignored altogether, since anyone can send it.

allauth's sign-in limits ask the account adapter for the address, and the adapter asks
here (touchup.clinic.accounts), so the limits and the audit trail count the same client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.conf import settings


def trusted_proxies() -> int:
    return int(getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0) or 0)


def client_ip(meta: Mapping[str, Any]) -> str | None:
    """The client's address from a request's META (or a WSGI environ). Falls back to
    REMOTE_ADDR when the trusted proxies wrote fewer entries than configured or wrote
    something that is not an address: a set-up mistake must not let the client choose
    its own address, nor stop anyone signing in."""
    count = trusted_proxies()
    if count:
        hops = [h.strip() for h in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= count:
            ip = _address(hops[-count])
            if ip:
                return ip
    return meta.get("REMOTE_ADDR") or None


def _address(text: str) -> str | None:
    """A bare IPv4 or IPv6 address, without a port or brackets; None if it is none."""
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:51234
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
