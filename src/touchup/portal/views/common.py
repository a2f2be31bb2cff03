from __future__ import annotations

import functools
import os

from django.contrib.auth.decorators import login_required

PORTAL_LOGIN = "/portal/login/"


def portal_view(view):
    """A portal page: signed-in only, and a visitor without a session goes to the
    patients' sign-in page rather than the staff one."""
    return login_required(view, login_url=PORTAL_LOGIN)


def base_url(request) -> str:
    """Where links in emails and calendar files point: the configured public URL, else this host."""
    configured = os.environ.get("TOUCHUP_PUBLIC_URL", "").rstrip("/")
    return configured or request.build_absolute_uri("/").rstrip("/")


def htmx_or(request, partial: str, full: str) -> str:
    """The fragment for an htmx request, the whole page otherwise (works without JS)."""
    return partial if getattr(request, "htmx", False) else full


__all__ = ["portal_view", "base_url", "htmx_or", "functools"]
