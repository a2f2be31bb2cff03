"""Where the links Touchup hands out point.

Reminder emails and SMS, calendar files and feeds, portal invitations and staff
set-password links all leave the building and are opened later, often on another device,
so they must carry the clinic's public address, not whatever host a request happened to
arrive on (behind a TLS proxy that is 127.0.0.1:8000). One function decides it, so a
clinic that sets TOUCHUP_PUBLIC_URL gets it in every link.
"""

from __future__ import annotations

import os

# `touchup demo` serves here and sets TOUCHUP_PUBLIC_URL to it; the fallback keeps a
# link usable when neither the setting nor a request is at hand (the worker, the CLI).
DEMO_URL = "http://127.0.0.1:8000"


def public_base_url(here: str = "") -> str:
    """TOUCHUP_PUBLIC_URL when set, else `here` (the address a request came to), else
    the demo server's; never with a trailing slash."""
    configured = os.environ.get("TOUCHUP_PUBLIC_URL", "").strip().rstrip("/")
    return configured or here.strip().rstrip("/") or DEMO_URL


def request_base_url(request) -> str:
    """public_base_url for a view: the request's own host only when nothing is configured."""
    return public_base_url(request.build_absolute_uri("/"))
