"""The patient page's effect chart: per treated area, the measured effect over time, the
past cycles, and the forecast wear-off date with its 80% band, as inline SVG geometry
(no JavaScript, no chart library).

`effect_chart(patient)` returns the template context; the view that shows it has already
read the patient through the gate (and audited that read).

Effect = improvement against the cycle's baseline, as the model reads it
(touchup.core.forecast): photos and FWS grades against the same area's value on the
treatment day, headache diaries and symptom scores against the latest value on or
before it; y = 1 - value / baseline. 100% = the lines (or headache days, or symptoms)
gone entirely, 0% = back where they started. Check-in answers are ticks along the top.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from touchup.clinic.models import InjectionPoint, Observation, Patient, TreatmentStatus

from .models import AreaForecast

WIDTH, HEIGHT = 720, 210
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 22, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
Y_MIN, Y_MAX = -0.2, 1.0
# Show at most the last few years of an area with a long history.
MAX_SPAN_DAYS = 3 * 365

SAME_DAY_BASELINE = {"wrinkle_index": True, "fws_grade": True, "headache_days": False, "symptom_score": False}
KIND_LABEL = {"wrinkle_index": "Photo (wrinkle index)", "fws_grade": "FWS grade (clinician)",
              "headache_days": "Headache days", "symptom_score": "Symptom score"}
KIND_SHAPE = {"wrinkle_index": "circle", "fws_grade": "square", "headache_days": "diamond", "symptom_score": "diamond"}


@dataclass
class AreaChart:
    area: str
    start: dt.date
    end: dt.date
    treatments: list[dict] = field(default_factory=list)
    readings: list[dict] = field(default_factory=list)
    checkins: list[dict] = field(default_factory=list)
    forecast: dict | None = None
    curve: str = ""
    today_x: float | None = None
    x_ticks: list[dict] = field(default_factory=list)
    y_ticks: list[dict] = field(default_factory=list)
    kinds: list[dict] = field(default_factory=list)
    summary: str = ""
    width: int = WIDTH
    height: int = HEIGHT


def _x(day: dt.date, start: dt.date, end: dt.date) -> float:
    span = max((end - start).days, 1)
    return round(LEFT + PLOT_W * (day - start).days / span, 1)


def _y(effect: float) -> float:
    e = min(max(effect, Y_MIN), Y_MAX)
    return round(TOP + PLOT_H * (Y_MAX - e) / (Y_MAX - Y_MIN), 1)


def _month_ticks(start: dt.date, end: dt.date) -> list[dict]:
    months = (end.year - start.year) * 12 + end.month - start.month
    step = 1 if months <= 8 else 2 if months <= 16 else 3 if months <= 24 else 6
    day = dt.date(start.year, start.month, 1)
    ticks = []
    while day <= end:
        if day >= start and (day.month - 1) % step == 0:
            ticks.append({"x": _x(day, start, end), "label": day.strftime("%b %y")})
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return ticks


def _baseline(kind: str, dates: list[dt.date], values: list[float], start: dt.date) -> float | None:
    i = bisect_right(dates, start)
    if i == 0:
        return None
    if SAME_DAY_BASELINE[kind] and dates[i - 1] != start:
        return None
    b = values[i - 1]
    return b if b > 0 else None


def effect_chart(patient: Patient, *, today: dt.date | None = None) -> dict[str, Any]:
    """Context for web/maintenance/_effect_chart.html: {"areas": [AreaChart, ...]}."""
    from touchup.core.wearoff import load_priors

    today = today or timezone.localdate()
    cycles: dict[str, list[dt.date]] = defaultdict(list)
    for area, day in (
        InjectionPoint.objects.filter(treatment__patient=patient, treatment__status=TreatmentStatus.SIGNED)
        .values_list("area", "treatment__treated_on").distinct().order_by("treatment__treated_on")
    ):
        if day not in cycles[area]:
            cycles[area].append(day)
    series: dict[str, dict[str, tuple[list, list]]] = defaultdict(dict)
    for area, kind, day, value in Observation.objects.filter(patient=patient).order_by("observed_on", "pk").values_list(
        "area", "kind", "observed_on", "value"
    ):
        dates, values = series[area].setdefault(kind, ([], []))
        dates.append(day)
        values.append(value)
    forecasts = {f.area: f for f in AreaForecast.objects.filter(patient=patient)}
    priors = load_priors()

    charts = []
    for area in sorted(cycles, key=lambda a: -cycles[a][-1].toordinal()):
        days = cycles[area]
        f = forecasts.get(area)
        end = max(today, f.wear_off_high if f else days[-1] + dt.timedelta(days=150)) + dt.timedelta(days=14)
        start = max(days[0], end - dt.timedelta(days=MAX_SPAN_DAYS)) - dt.timedelta(days=7)
        chart = AreaChart(area=area, start=start, end=end)
        chart.treatments = [{"x": _x(d, start, end), "label": d.strftime("%d %b %y")} for d in days if d >= start]
        kinds_seen = set()
        for kind, (dates, values) in series.get(area, {}).items():
            if kind == "wearing_off_reported":
                chart.checkins = [
                    {"x0": round(_x(d, start, end) - 2, 1), "yes": bool(v), "label": f"{d:%d %b %Y}: {'wearing off' if v else 'still working'}"}
                    for d, v in zip(dates, values) if start <= d <= end
                ]
                continue
            for d, v in zip(dates, values):
                i = bisect_right(days, d - dt.timedelta(days=1))  # the cycle the reading belongs to
                if i == 0 or d < start:
                    continue  # before the first treatment, or off the chart
                b = _baseline(kind, dates, values, days[i - 1])
                if b is None or d == days[i - 1]:
                    continue
                effect = 1 - v / b
                kinds_seen.add(kind)
                x, y = _x(d, start, end), _y(effect)
                chart.readings.append({
                    "x": x, "y": y, "x0": round(x - 3.5, 1), "y0": round(y - 3.5, 1),
                    "shape": KIND_SHAPE[kind], "kind": kind,
                    "label": f"{d:%d %b %Y}: {KIND_LABEL[kind].lower()} {v:g} ({effect:+.0%} vs the treatment day)",
                })
        chart.kinds = [{"kind": k, "label": KIND_LABEL[k], "shape": KIND_SHAPE[k]} for k in KIND_LABEL if k in kinds_seen]
        if f is not None:
            chart.forecast = {
                "x": _x(f.wear_off_date, start, end), "low_x": _x(f.wear_off_low, start, end),
                "band_w": round(_x(f.wear_off_high, start, end) - _x(f.wear_off_low, start, end), 1),
                "from_x": _x(f.book_from, start, end),
                "window_w": round(max(_x(f.book_by, start, end) - _x(f.book_from, start, end), 2), 1),
                "row": f,
            }
            chart.summary = (f"Expected to wear off about {f.wear_off_date:%d %b %Y} "
                             f"(80%: {f.wear_off_low:%d %b} – {f.wear_off_high:%d %b %Y}); book {f.book_from:%d %b} – "
                             f"{f.book_by:%d %b}. Based on: {f.basis}.")
            prior = priors.areas.get(area)
            current = [r for r in chart.readings if r["x"] >= _x(f.treated_on, start, end)]
            if prior is not None and current:
                # The model's time course for this cycle, scaled to the best effect measured in it.
                peak = max(Y_MAX - (r["y"] - TOP) * (Y_MAX - Y_MIN) / PLOT_H for r in current)
                wear = (f.wear_off_date - f.treated_on).days
                points = []
                for t in range(0, (end - f.treated_on).days + 1, 3):
                    day = f.treated_on + dt.timedelta(days=t)
                    points.append(f"{_x(day, start, end)},{_y(peak * prior.improvement(t, wear))}")
                chart.curve = " ".join(points)
        else:
            chart.summary = "No forecast yet."
        if start <= today <= end:
            chart.today_x = _x(today, start, end)
        chart.x_ticks = _month_ticks(start, end)
        chart.y_ticks = [{"y": _y(v), "label": f"{v:.0%}"} for v in (0.0, 0.25, 0.5, 0.75, 1.0)]
        charts.append(chart)
    return {"areas": charts, "plot": {
        "left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": HEIGHT - BOTTOM, "height": PLOT_H,
        "label_x": LEFT - 6, "tick_y": HEIGHT - BOTTOM + 14, "window_y": HEIGHT - BOTTOM + 20,
        "checkin_y": TOP - 6, "today_y": TOP - 10, "today_label_y": TOP - 12,
    }}
