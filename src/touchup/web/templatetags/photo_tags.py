"""`{% cycle_photos treatment %}`: the photo set of a treatment cycle, for the chart page.

The chart view has already passed the gate for this treatment (and audited the read);
the photos shown are that treatment's own, so no other patient's can appear."""

from __future__ import annotations

from typing import Any

from django import template

from touchup.clinic import access
from touchup.core.photo_rules import VIEW_AREAS

from ..clinical import name_of

register = template.Library()


@register.inclusion_tag("web/photos/_cycle.html", takes_context=True)
def cycle_photos(context: dict[str, Any], treatment: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if treatment is None or not access.can(user, "clinical.view"):
        return {"cycle_photos": None}
    photos = list(treatment.photos.kept().order_by("view", "taken_on", "pk"))
    return {"cycle_photos": photos, "patient": treatment.patient}


@register.filter
def view_indices(photo: Any) -> list[tuple[str, float]]:
    """The wrinkle index of the area(s) the photo's view measures, named as the timeline
    names them: the values comparisons are about. Other regions of the same photo are not
    in any series (the photo page lists them, marked as reference)."""
    analysis = (photo.analysis or {}) if photo.analysis_status == "done" else {}
    regions = analysis.get("regions") or {}
    return [(name_of("area", a), regions[a]["wrinkle_index"])
            for a in VIEW_AREAS.get(photo.view, ()) if regions.get(a)]
