"""Template context every staff page needs: who is signed in, where, and what they may do."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

from touchup.clinic.access import can, membership_of, two_step_owed


def staff(request: Any) -> dict[str, Any]:
    user = getattr(request, "user", None)
    membership = membership_of(user) if user is not None else None
    # The banner reminds people not to type real patients into a demo install.
    demo = bool(
        getattr(settings, "TOUCHUP_DEMO", False)
        or os.environ.get("TOUCHUP_DEMO") == "1"
        or (membership is not None and membership.clinic.slug.startswith("demo"))
    )
    # allauth's own pages (sign-out, two-step sign-in) wear the portal's layout for patients.
    patient_user = membership is None and getattr(user, "is_authenticated", False) and \
        getattr(user, "patient", None) is not None
    # Someone signed out on a portal page (the portal's password reset, its 429) is a patient too.
    if not getattr(user, "is_authenticated", False) and request.path.startswith("/portal/"):
        patient_user = True
    return {
        "layout_base": "portal/base.html" if patient_user else "web/base.html",
        # Staff hear that the worker is down before patients miss their reminders.
        "worker": _worker_status() if membership is not None else None,
        "membership": membership,
        # The clinic requires two-step sign-in and this staff member has not set it up yet.
        "two_step_owed": membership is not None and two_step_owed(user),
        "is_demo": demo,
        "may": {
            "clinical": can(user, "clinical.view"),
            "export": can(user, "patient.export"),
            "chart": can(user, "treatment.chart"),
            "vials": can(user, "vial.view"),
            "audit": can(user, "audit.view"),
            "clinic": can(user, "clinic.manage"),
            "calibrate": membership.role == "manager",  # maintenance.access.require_calibration
            "screen": can(user, "screening.record"),
            "doctor": bool(membership and membership.is_doctor and can(user, "screening.doctor_signoff")),
        }
        if membership is not None
        else {},
    }


def _worker_status() -> Any:
    from touchup.maintenance.services.workers import status

    return status()
