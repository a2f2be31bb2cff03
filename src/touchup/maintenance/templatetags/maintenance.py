"""`{% load maintenance %}{% effect_chart patient %}`: the effect chart on the patient
page, for roles that see clinical data (others get nothing)."""

from django import template

from ..chart import effect_chart as build_effect_chart

register = template.Library()


@register.inclusion_tag("web/maintenance/_effect_chart.html", takes_context=True)
def effect_chart(context, patient):
    may = context.get("may") or {}
    if not may.get("clinical"):
        return {"hidden": True}
    return {"hidden": False, **build_effect_chart(patient)}


@register.filter
def area_name(key: str) -> str:
    """The catalogue's name of an area key ("crows_feet" -> "Crow's feet")."""
    from touchup.core.catalogue import load_catalogue

    area = load_catalogue().areas.get(key)
    return area.name if area else key
