"""Turns the clinical core's objects (catalogue, findings, screening, aftercare) into
what the templates show: names instead of keys, units as a clinician writes them,
findings in severity order. Pure presentation: no writes, no queries of its own except
through the access gate's querysets (touchup.web.selectors)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterable

from django.utils import timezone

from touchup.core.catalogue import load_catalogue
from touchup.core.dates import day_text, day_time_text
from touchup.core.stock import days_to_expiry_if_soon

SEVERITY_ORDER = {"block": 0, "warn": 1, "info": 2}
SEVERITY_LABEL = {"block": "Stop", "warn": "Warning", "info": "Note"}


def units_text(value: Any) -> str:
    """4 → "4", 2.5 → "2.5", Decimal("4.00") → "4"."""
    if value is None:
        return ""
    number = Decimal(str(value)).normalize()
    return f"{number:f}"


@lru_cache(maxsize=1)
def _labels() -> dict[str, dict[str, str]]:
    cat = load_catalogue()
    return {
        kind: {k: v.name for k, v in items.items()}
        for kind, items in (("product", cat.products), ("indication", cat.indications), ("area", cat.areas),
                            ("protocol", cat.protocols), ("site", cat.sites))
    }


def labels() -> dict[str, dict[str, str]]:
    return _labels()


def name_of(kind: str, key: str) -> str:
    if not key:
        return ""
    return _labels()[kind].get(key) or key.replace("_", " ").capitalize()


def protocols_for(indication: str) -> list[dict[str, str]]:
    return [
        {"key": p.key, "name": p.name, "product": p.product}
        for p in load_catalogue().protocols_for(indication)
    ]


def protocol_choices(indication: str) -> list[tuple[str, str]]:
    return [(p["key"], p["name"]) for p in protocols_for(indication)]


def indication_areas(indication: str) -> list[tuple[str, str]]:
    cat = load_catalogue()
    ind = cat.indications.get(indication)
    return [(a, name_of("area", a)) for a in (ind.areas if ind else ())]


def name_cycles(groups: list[Any]) -> list[Any]:
    """Put the catalogue's names and the units as text on the history's cycles."""
    for g in groups:
        g.name = name_of("indication", g.indication)
        for c in g.cycles:
            c.product_name = name_of("product", c.treatment.product)
            c.total_text = units_text(c.total_units)
            if len(c.units_by_area) > 1:
                c.area_text = ", ".join(f"{name_of('area', a)} {units_text(u)} U" for a, u in c.units_by_area.items())
    return groups


# --- screening -----------------------------------------------------------------------


def source_refs(keys: str) -> list[dict[str, str]]:
    """A finding's sources ("S16, S17", "clinic_policy") as the chart shows them: the key,
    with the citation as its tooltip; "clinic_policy" reads "Clinic policy", not the code."""
    sources = load_catalogue().sources
    refs = []
    for key in (k.strip() for k in (keys or "").split(",")):
        if not key:
            continue
        src = sources.get(key)
        refs.append({"key": key, "label": "Clinic policy" if key == "clinic_policy" else key,
                     "title": src.title if src else ""})
    return refs


def _finding_dict(f: Any) -> dict[str, Any]:
    get = f.get if isinstance(f, dict) else lambda k, d=None: getattr(f, k, d)
    severity = get("severity", "info")
    site = get("site")
    return {
        "severity": severity,
        "severity_label": SEVERITY_LABEL.get(severity, severity),
        "code": get("code", ""),
        "message": get("message", ""),
        "rule": get("rule", ""),
        "source": get("source", ""),
        "sources": source_refs(get("source", "")),
        "site": site,
        "site_name": name_of("site", site) if site else "",
    }


def sorted_findings(findings: Iterable[Any]) -> list[dict[str, Any]]:
    rows = [_finding_dict(f) for f in findings]
    return sorted(rows, key=lambda r: SEVERITY_ORDER.get(r["severity"], 9))


def describe_screening(screening: Any) -> dict[str, Any] | None:
    """The screening as the patient page shows it, with one plain-words status."""
    if screening is None:
        return None
    if screening.blocking:
        state, badge = "Do not treat: a finding blocks treatment", "block"
    elif screening.requires_doctor and not screening.doctor_signed:
        state, badge = "Needs a doctor's sign-off before treatment", "warn"
    elif screening.requires_doctor:
        state, badge = "Signed off by a doctor", "ok"
    else:
        state, badge = "Clear to treat", "ok"
    return {
        "obj": screening,
        "indication_name": name_of("indication", screening.indication),
        "findings": sorted_findings(screening.findings),
        "state": state,
        "badge": badge,
        # Calendar days, as the date beside it is read: recorded the day before yesterday is
        # "2 days ago" even when fewer than 48 hours have passed.
        "age_days": (timezone.localdate() - timezone.localtime(screening.recorded_at).date()).days,
    }


def screening_answers(screening: Any) -> list[dict[str, Any]]:
    """The answers in the questionnaire's order, with the question's words."""
    from touchup.core.screening import QUESTIONS

    texts = {q.key: q.text for q in QUESTIONS}
    out = []
    for key, value in (screening.answers or {}).items():
        answer, details = (value.get("answer"), value.get("details", "")) if isinstance(value, dict) else (value, "")
        out.append({"key": key, "text": texts.get(key, key), "answer": answer, "details": details})
    order = list(texts)
    return sorted(out, key=lambda a: order.index(a["key"]) if a["key"] in order else len(order))


# --- the chart -----------------------------------------------------------------------


def chart_context(user: Any, treatment: Any, *, editable: bool) -> dict[str, Any]:
    from . import selectors

    points = list(treatment.points.select_related("vial").order_by("pk"))
    rows = [
        {
            "site": p.site, "site_name": name_of("site", p.site) if p.site else "Extra point",
            "area": p.area, "area_name": name_of("area", p.area),
            "units": p.units, "units_text": units_text(p.units),
            "x": p.x, "y": p.y, "view": p.view, "vial_id": p.vial_id,
            "lot": p.vial.lot if p.vial else "",
        }
        for p in points
    ]
    areas = indication_areas(treatment.indication)
    sites = []
    for proto in load_catalogue().protocols_for(treatment.indication):
        for s in proto.sites:
            sites.append({"key": s.key, "name": s.name, "area": s.area, "view": s.view,
                          "x": s.x, "y": s.y, "units": s.units})
    views = {s["view"] for s in sites} | {r["view"] for r in rows}
    if not views:
        views = {"front"}
    used = {r["vial_id"] for r in rows if r["vial_id"]}
    ctx: dict[str, Any] = {
        "treatment": treatment, "patient": treatment.patient, "editable": editable,
        "product_name": name_of("product", treatment.product),
        "indication_name": name_of("indication", treatment.indication),
        "protocol_name": name_of("protocol", treatment.protocol),
        "rows": rows, "areas": areas, "sites": sites,
        "views": [v for v in ("front", "back") if v in views],
        "blank_row": {"site": "", "site_name": "Extra point", "area": areas[0][0] if areas else "",
                      "units": None, "units_text": "", "x": 0, "y": 0, "view": "front", "vial_id": None},
        "amendments": list(treatment.amendments.select_related("amended_by").order_by("amended_at")),
    }
    if editable:
        if len(used) > 1:
            choice = "__keep__"
        elif used and all(r["vial_id"] for r in rows):
            choice = str(next(iter(used)))
        else:
            choice = ""
        now = timezone.now()
        vials = selectors.vials_for_chart(user, product=treatment.product, keep=used)
        ctx["vials"] = [
            {"id": v.pk, "label": vial_label(v, now=now), "selected": str(v.pk) == choice} for v in vials
        ]
        ctx["vial_choice"] = choice
    return ctx


def vial_label(vial: Any, *, now: dt.datetime) -> str:
    parts = [f"Lot {vial.lot}", f"exp {day_text(vial.expiry)}"]
    if vial.product and vial.product != "":
        parts.insert(0, name_of("product", vial.product))
    if vial.units_per_0_1ml:
        parts.append(f"{units_text(round(vial.units_per_0_1ml, 2))} U/0.1 mL")
        made = timezone.localtime(vial.reconstituted_at)
        parts.append(f"reconstituted {day_time_text(made)}")
    else:
        parts.append("not reconstituted")
    status = use_by(vial, now=now)
    if status["state"] != "ok":
        parts.append(status["text"].upper())
    return " · ".join(parts)


def status_panel(
    treatment: Any, findings: list[Any] | None, problems: list[str], *,
    refusal: list[str] | None = None, error: dict[str, str] | None = None,
) -> dict[str, Any]:
    by_area: dict[str, Decimal] = {}
    for p in treatment.points.all():
        if p.units is not None:
            by_area[p.area] = by_area.get(p.area, Decimal(0)) + p.units
    total = sum(by_area.values(), Decimal(0))
    return {
        "total": total,
        "total_text": units_text(total),
        "by_area": [(name_of("area", a), units_text(u)) for a, u in by_area.items()] if len(by_area) > 1 else [],
        "findings": None if findings is None else sorted_findings(findings),
        # What signing must acknowledge: their keys post back with the acknowledgement.
        "warnings": [f for f in (findings or []) if f.severity == "warn"],
        "problems": problems,
        "refusal": refusal,
        "error": error,
    }


_POINT_FIELD = re.compile(r"^points\[(\d+)\]\.?(\w*)$")


def describe_error(exc: Any, *, title: str = "Not saved.") -> dict[str, str]:
    """InvalidInput("points[2].units", ...) → "Point 3 units" for people."""
    field = getattr(exc, "field", "") or ""
    message = getattr(exc, "message", str(exc))
    m = _POINT_FIELD.match(field)
    if m:
        what = {"units": "units", "area": "area", "vial_id": "vial", "x": "position", "y": "position",
                "view": "view", "site": "site", "": ""}.get(m.group(2), m.group(2))
        where = f"Point {int(m.group(1)) + 1}" + (f" {what}" if what else "")
    else:
        where = field.replace("_", " ").capitalize() or "Chart"
    return {"field": field, "where": where, "message": message, "title": title}


# --- vials ---------------------------------------------------------------------------


def _hours_after_reconstitution(product: str) -> float | None:
    """The product's use-within time once reconstituted (None for a product not in the catalogue)."""
    p = load_catalogue().products.get(product)
    return float(p.use_within_hours) if p else None


def use_by(vial: Any, *, now: dt.datetime) -> dict[str, Any]:
    today = timezone.localdate(now)
    if vial.expiry < today:
        return {"state": "block", "text": "expired", "until": None}
    hours = _hours_after_reconstitution(vial.product)
    if vial.reconstituted_at and hours:
        until = vial.reconstituted_at + dt.timedelta(hours=hours)
        if until < now:
            return {"state": "block", "text": "past its use-by", "until": until}
        local = timezone.localtime(until)
        return {"state": "ok", "text": f"use by {day_time_text(local)}", "until": until}
    if vial.reconstituted_at:
        return {"state": "ok", "text": "reconstituted", "until": None}
    days = days_to_expiry_if_soon(vial.expiry, today)  # the receive page's window too
    if days is not None:
        return {"state": "warn", "text": f"expires in {days} days", "until": None}
    return {"state": "ok", "text": "unopened", "until": None}


@dataclass
class VialRow:
    vial: Any
    product_name: str
    per_0_1ml: str
    status: dict[str, Any]
    remaining: str = ""  # units less those charted in signed treatments
    in_drafts: str = ""  # units on draft charts, not yet taken off (empty when none)
    overdrawn: bool = False  # more charted than the vial held: a charting error to look at


def vial_rows(vials: Iterable[Any], *, now: dt.datetime) -> list[VialRow]:
    """`vials` from selectors.vial_list (annotated with the units charted from each)."""
    rows = []
    for v in vials:
        left = Decimal(v.units) - v.units_signed
        rows.append(VialRow(
            vial=v, product_name=name_of("product", v.product),
            per_0_1ml=units_text(round(v.units_per_0_1ml, 2)) if v.units_per_0_1ml else "",
            status=use_by(v, now=now),
            remaining=units_text(left), in_drafts=units_text(v.units_in_drafts) if v.units_in_drafts else "",
            overdrawn=left < 0,
        ))
    return rows


# --- aftercare -----------------------------------------------------------------------


def aftercare_for(treatment: Any) -> dict[str, Any]:
    from touchup.core.aftercare import aftercare_plan

    areas = sorted({p.area for p in treatment.points.all()})
    # Local time: "until the day after tomorrow" means the clinic's midnight, not UTC's.
    treated_at = timezone.localtime(treatment.signed_at or timezone.now())
    plan = aftercare_plan(treated_at=treated_at, indication=treatment.indication, areas=areas)
    return {
        "plan": plan,
        "steps": [
            {"when": _when(s, treated_at), "instruction": s.instruction, "why": s.why, "source": s.source,
             "starts_at": s.starts_at, "until": s.until}
            for s in plan.steps
        ],
        "warning_signs": list(plan.warning_signs),
        "urgent_text": plan.urgent_text,
    }


def _when(step: Any, treated_at: dt.datetime) -> str:
    """"First 4 hours", "From 2 weeks", "From 1 day to 2 weeks" — how patients count."""
    start, until = _moment(step.starts_at, treated_at), _moment(step.until, treated_at)
    begins_now = start is None or start <= treated_at
    if begins_now and until is not None and _is_midnight(until, treated_at):
        # "Until midnight starting the day after tomorrow" is how the step is meant: say it in days.
        days = (timezone.localtime(until).date() - timezone.localtime(treated_at).date()).days
        return {1: "Today", 2: "Today and tomorrow"}.get(days, f"The next {days} days")
    if until is None:
        return "From the treatment" if begins_now else f"From {_span(start - treated_at)}"
    if begins_now:
        return f"First {_span(until - treated_at)}"
    return f"From {_span(start - treated_at)} to {_span(until - treated_at)}"


def _is_midnight(moment: dt.datetime, treated_at: dt.datetime) -> bool:
    local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
    return local.time() == dt.time.min and moment - treated_at > dt.timedelta(hours=12)


def _moment(value: Any, treated_at: dt.datetime) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return treated_at + value
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min, tzinfo=treated_at.tzinfo)
    return None


def _span(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 48:
        n = round(hours)
        return f"{n} hour{'s' if n != 1 else ''}"
    days = round(hours / 24)
    if days < 14 or days % 7:
        return f"{days} days"
    weeks = days // 7
    return f"{weeks} weeks"
