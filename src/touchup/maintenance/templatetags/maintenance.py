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
