"""The patient page's effect chart: per treated area, the measured effect over time, the
past cycles, and the forecast wear-off date with its 80% band, as inline SVG geometry
(no JavaScript, no chart library).

`effect_chart(patient)` returns the template context; the view that shows it has already
read the patient through the gate (and audited that read).

Effect = improvement against the value the model reads the reading against
(touchup.core.forecast.reading_baselines, from the same history the forecast is built
from): the area's untreated reference for a cycle begun before the previous one wore off
(its own treatment-day value is still flattered by that cycle), else the cycle's own value
on the treatment day (photos, FWS grades) or the latest on or before it (diaries,
scores). The effect is the one the model reads (touchup.core.wearoff.MeasurePrior.effect,
the rule the model's own arithmetic calls): a photo's relative change, a grade's, diary's
or score's difference from the baseline in units of it, clipped to +-100% as the model
clips it. 100% = the lines (or headache days, or symptoms) gone entirely, 0% = untreated.
Check-in answers are ticks along the top.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from touchup.clinic.models import Patient
from touchup.core.dates import day_text, day_month_text
from touchup.core.forecast import reading_baselines

from .models import AreaForecast
from .services.calibration import priors_for
from .services.forecasts import ForecastUnavailable, history_data, parse_chart

WIDTH, HEIGHT = 720, 210
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 22, 34
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
Y_MIN, Y_MAX = -0.2, 1.0
# Show at most the last few years of an area with a long history.
MAX_SPAN_DAYS = 3 * 365

KIND_LABEL = {"wrinkle_index": "Photo (wrinkle index)", "fws_grade": "FWS grade (clinician)",
              "headache_days": "Headache days", "symptom_score": "Symptom score"}
KIND_SHAPE = {"wrinkle_index": "circle", "fws_grade": "square", "headache_days": "diamond", "symptom_score": "diamond"}

EFFECT_AGAINST_TREATMENT_DAY = "Effect = improvement against the value on each cycle's treatment day."
EFFECT_AGAINST_REFERENCE = (
    "Effect = improvement against the untreated reading (its date in each point's tooltip) for a cycle "
    "begun before the previous one had worn off, whose treatment-day value is still improved; otherwise "
    "against the treatment day's value."
)


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
    effect_note: str = ""  # the caption: what the effect is measured against
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
            # "Jan 2025": "Jan 25" read as the 25th of January.
            ticks.append({"x": _x(day, start, end), "label": day.strftime("%b %Y")})
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return ticks


def effect_chart(patient: Patient, *, today: dt.date | None = None) -> dict[str, Any]:
    """Context for web/maintenance/_effect_chart.html: {"areas": [AreaChart, ...]} (and
    "unavailable", the reason, when the chart cannot be read as a history)."""
    today = today or timezone.localdate()
    # The history the forecast reads (same queries, same merging of split charts), so the
    # chart reads each reading against the same baseline as the model.
    data = history_data(patient, today)
    if data is None:
        return {"areas": []}
    try:
        history = parse_chart(data)
    except ForecastUnavailable as exc:
        return {"areas": [], "unavailable": str(exc)}
    priors = priors_for(patient.clinic_id)  # the clinic's medians decide when a cycle has worn off
    baselines = reading_baselines(history, priors=priors)
    cycles: dict[str, list[dt.date]] = defaultdict(list)
    for t in history.treatments:
        for dose in t.areas:
            if dose.area not in cycles or cycles[dose.area][-1] != t.date:
                cycles[dose.area].append(t.date)
    series: dict[str, dict[str, tuple[list, list]]] = defaultdict(dict)
    for o in history.observations:  # in date order (history_data)
        dates, values = series[o.area].setdefault(o.kind, ([], []))
        dates.append(o.date)
        values.append(o.value)
    forecasts = {f.area: f for f in AreaForecast.objects.filter(patient=patient)}

    charts = []
    for area in sorted(cycles, key=lambda a: -cycles[a][-1].toordinal()):
        days = cycles[area]
        f = forecasts.get(area)
        end = max(today, f.wear_off_high if f else days[-1] + dt.timedelta(days=150)) + dt.timedelta(days=14)
        start = max(days[0], end - dt.timedelta(days=MAX_SPAN_DAYS)) - dt.timedelta(days=7)
        chart = AreaChart(area=area, start=start, end=end)
        chart.treatments = [{"x": _x(d, start, end), "label": day_text(d)} for d in days if d >= start]
        kinds_seen = set()
        referenced = False
        for kind, (dates, values) in series.get(area, {}).items():
            if kind == "wearing_off_reported":
                chart.checkins = [
                    {"x0": round(_x(d, start, end) - 2, 1), "yes": bool(v), "label": f"{day_text(d)}: {'wearing off' if v else 'still working'}"}
                    for d, v in zip(dates, values) if start <= d <= end
                ]
                continue
            for d, v in zip(dates, values):
                # The cycle the reading belongs to: a reading on a treatment day was taken
                # before the injections, so it closes the cycle before.
                i = bisect_right(days, d - dt.timedelta(days=1))
                if i == 0 or d < start:
                    continue  # before the first treatment, or off the chart
                b = baselines.get((area, kind, days[i - 1]))
                if b is None:
                    continue  # nothing to read it against: the model does not use it either
                effect = priors.measures[kind].effect(v, b.value)  # as the model reads it
                against = f"the untreated reading of {day_text(b.read_on)}" if b.reference else "the treatment day"
                kinds_seen.add(kind)
                referenced = referenced or b.reference
                x, y = _x(d, start, end), _y(effect)
                chart.readings.append({
                    "x": x, "y": y, "x0": round(x - 3.5, 1), "y0": round(y - 3.5, 1),
                    "shape": KIND_SHAPE[kind], "kind": kind,
                    "label": f"{day_text(d)}: {KIND_LABEL[kind].lower()} {v:g} ({effect:+.0%} vs {against})",
                })
        chart.effect_note = EFFECT_AGAINST_REFERENCE if referenced else EFFECT_AGAINST_TREATMENT_DAY
        chart.kinds = [{"kind": k, "label": KIND_LABEL[k], "shape": KIND_SHAPE[k]} for k in KIND_LABEL if k in kinds_seen]
        if f is not None:
            chart.forecast = {
                "x": _x(f.wear_off_date, start, end), "low_x": _x(f.wear_off_low, start, end),
                "band_w": round(_x(f.wear_off_high, start, end) - _x(f.wear_off_low, start, end), 1),
                "from_x": _x(f.book_from, start, end),
                "window_w": round(max(_x(f.book_by, start, end) - _x(f.book_from, start, end), 2), 1),
                "row": f,
            }
            # The window with its year (it may be next year's), and said to be over once it
            # is, as the worklist says it ("book 2 Nov – 9 Nov" read as still to come).
            window = f"{day_month_text(f.book_from)} – {day_text(f.book_by)}"
            book = (f"overdue since {day_text(f.book_by)} (booking window {window})" if f.book_by < today
                    else f"book {window}")
            chart.summary = (f"Expected to wear off about {day_text(f.wear_off_date)} "
                             f"(80%: {day_month_text(f.wear_off_low)} – {day_text(f.wear_off_high)}); "
                             f"{book}. Based on: {f.basis}.")
            prior = priors.areas.get(area)
            current = [r for r in chart.readings if r["x"] >= _x(f.treated_on, start, end)]
            if prior is not None and current:
                # The model's time course for this cycle, scaled to the best effect measured in it.
                peak = max(Y_MAX - (r["y"] - TOP) * (Y_MAX - Y_MIN) / PLOT_H for r in current)
                wear = (f.wear_off_date - f.treated_on).days
                # As the readings measure it: a 30-day diary sees the curve's mean over
                # its month, which peaks weeks later than the curve itself.
                window = max(priors.measures[r["kind"]].window_days for r in current)
                days_on = range(0, (end - f.treated_on).days + 1, 3)
                course = [prior.measured_improvement(t, wear, window) for t in days_on]
                top = max(course) or 1.0
                chart.curve = " ".join(f"{_x(f.treated_on + dt.timedelta(days=t), start, end)},{_y(peak * c / top)}"
                                       for t, c in zip(days_on, course))
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
