"""Health checks for uptime monitors and load balancers: no login, no patient data, no
counts; never cached.

    GET /health/         200 while the database answers (503 when it does not), with the
                         worker's state in the body
    GET /health/worker/  200 while a worker sends reminders and runs tasks, else 503: point
                         a monitor here to hear that reminders have stopped going out
"""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from touchup.maintenance.services import workers

log = logging.getLogger(__name__)


def _worker_state(s: workers.WorkerStatus) -> str:
    if s.running:
        return "running"
    if s.sends_reminders or s.runs_tasks:
        return "partly running"  # e.g. only a --no-tasks worker is up
    return "not running" if s.last_seen else "never ran"


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        state = _worker_state(workers.status())
    except DatabaseError as exc:
        log.error("health check: the database did not answer: %s", type(exc).__name__)
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "worker": state})


@login_not_required
@never_cache
@require_GET
def worker_health(request: HttpRequest) -> JsonResponse:
    try:
        s = workers.status()
    except DatabaseError as exc:
        log.error("health check: the database did not answer: %s", type(exc).__name__)
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    body = {
        "status": "ok" if s.running else "error", "worker": _worker_state(s),
        "last_seen": s.last_seen.isoformat() if s.last_seen else None,
    }
    return JsonResponse(body, status=200 if s.running else 503)
