from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from touchup.api.main import api
from touchup.web.views import health, staff


def _public(patterns):
    """Mark every view under an include as reachable without a session (it has its own auth)."""
    for p in patterns:
        if hasattr(p, "url_patterns"):
            _public(p.url_patterns)
        else:
            p.callback = login_not_required(p.callback)
    return patterns


api_urls, app_name, namespace = api.urls
urlpatterns = [
    # A new staff member's one-time set-password link (web/views/staff.py).
    path("accounts/welcome/<str:token>/", staff.welcome, name="staff_welcome"),
    path("accounts/", include("allauth.urls")),
    # For uptime monitors: no session, no patient data (web/views/health.py).
    path("health/", health.health, name="health"),
    path("health/worker/", health.worker_health, name="worker_health"),
    # The API answers 401 itself; LoginRequiredMiddleware would turn that into a redirect.
    path("api/", (_public(api_urls), app_name, namespace)),
    path("portal/", include("touchup.portal.urls")),
    path("", include("touchup.web.urls")),
]
