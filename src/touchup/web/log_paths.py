"""Secrets that travel in a URL's path, kept out of every log line that names a path.

The calendar feed's token, a patient's invitation token and allauth's password-reset and
email-confirmation keys are in paths. Whoever holds one gets in (the feed opens without a
login), so no log may keep them: the access log of `touchup serve` (access_log.py), and
Django's own lines, "Not Found: /calendar/<token>.ics" from django.request for a wrong or
revoked feed address and the demo's runserver request lines from django.server
(SecretPathFilter, installed on both loggers by WebConfig.ready).
"""

from __future__ import annotations

import logging

SECRET_ARGUMENTS = frozenset({"token", "key", "uidb36"})
HIDDEN = "…"


def redacted(path: str) -> str:
    """`path` with the values of secret URL arguments replaced by `…` (unresolved paths as they came)."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path)
    except (Resolver404, ValueError):
        return path
    for name, value in match.kwargs.items():
        if name in SECRET_ARGUMENTS and value:
            path = path.replace(str(value), HIDDEN)
    return path


def _request_line(line: str) -> str:
    """'GET /path?query HTTP/1.1' without the query, the path redacted."""
    parts = line.split(" ")
    if len(parts) == 3:
        parts[1] = redacted(parts[1].split("?", 1)[0])
        return " ".join(parts)
    return line


class SecretPathFilter(logging.Filter):
    """Rewrites the paths among the arguments of django.request's records ("%s: %s", reason
    and path) and the request line of django.server's ('"%s" %s %s')."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(record.name, a) for a in record.args)
        return True

    @staticmethod
    def _clean(logger: str, arg: object) -> object:
        if not isinstance(arg, str):
            return arg
        if logger == "django.server":
            return _request_line(arg)
        return redacted(arg) if arg.startswith("/") else arg


def install() -> None:
    for name in ("django.request", "django.server"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretPathFilter) for f in logger.filters):
            logger.addFilter(SecretPathFilter())
