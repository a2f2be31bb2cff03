"""The wrinkle index of each area across cycles, laid out for a server-rendered SVG.

Only geometry here (no markup): the template draws it. Each treatment of the area is a
vertical line, so the fall after injecting and the climb as it wears off read at a glance.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from touchup.clinic.models import ObservationKind, Patient
from touchup.core.dates import day_month_text

from .clinical import name_of

# The areas photos measure; their names come from the catalogue (clinical.name_of).
AREAS = ("glabella", "forehead", "crows_feet", "platysma")

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 32, 14, 30


@dataclass
class AreaChart:
    area: str
    name: str
    width: int = WIDTH
    height: int = HEIGHT
    points: list[dict[str, Any]] = field(default_factory=list)
    path: str = ""
    treatments: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    plot: dict[str, int] = field(default_factory=dict)
    treated: bool = False  # the area has been treated at least once

    @property
    def empty(self) -> bool:
        return not self.points

    @property
    def shown(self) -> bool:
        """Worth a card: measured, or treated and so waiting for its first measurement."""
        return bool(self.points) or self.treated


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: round(a + (v - lo) / span * (b - a), 1)


def area_charts(patient: Patient) -> list[AreaChart]:
    obs = list(
        patient.observations.filter(kind=ObservationKind.WRINKLE_INDEX)
        .order_by("observed_on", "pk")
        .values("area", "observed_on", "value", "source")
    )
    charts = []
    for area in AREAS:
        name = name_of("area", area)
        rows = [o for o in obs if o["area"] == area]
        treated = sorted(set(
            patient.treatments.filter(points__area=area).values_list("treated_on", flat=True)
        ))
        chart = _chart(area, name, rows, treated)
        chart.treated = bool(treated)
        charts.append(chart)
    return charts


def _chart(area: str, name: str, rows: list[dict[str, Any]], treated: list[dt.date]) -> AreaChart:
    chart = AreaChart(area=area, name=name)
    chart.plot = {"x0": LEFT, "x1": WIDTH - RIGHT, "y0": TOP, "y1": HEIGHT - BOTTOM}
    if not rows:
        return chart
    days = [r["observed_on"] for r in rows] + treated
    first, last = min(days), max(days)
    if first == last:
        first, last = first - dt.timedelta(days=15), last + dt.timedelta(days=15)
    x = _scale(first.toordinal(), last.toordinal(), LEFT, WIDTH - RIGHT)
    top = max(r["value"] for r in rows)
    top = max(top * 1.15, 0.05)
    y = _scale(0.0, top, HEIGHT - BOTTOM, TOP)
    for r in rows:
        chart.points.append({
            "x": x(r["observed_on"].toordinal()), "y": y(r["value"]),
            "date": r["observed_on"], "value": round(r["value"], 3),
        })
    chart.path = "M" + " L".join(f"{p['x']} {p['y']}" for p in chart.points)
    chart.treatments = [{"x": x(d.toordinal()), "date": d} for d in treated]
    span = (last - first).days
    step = max(1, span // 5)
    # Months over a long span ("Jan 2027"), else days as everywhere else ("5 Jan", unpadded).
    label = (lambda d: d.strftime("%b %Y")) if span > 300 else day_month_text
    chart.x_ticks = [
        {"x": x((first + dt.timedelta(days=i)).toordinal()), "label": label(first + dt.timedelta(days=i))}
        for i in range(0, span + 1, step)
    ][:6]
    chart.y_ticks = [{"y": y(top * f), "label": f"{top * f:.2f}"} for f in (0, 0.5, 1.0)]
    return chart
