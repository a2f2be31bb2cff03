""""How my result is doing": per treated area, the measured effect over time, the
forecast wear-off date in words, and an inline SVG chart (no script needed).

The chart draws what was measured for the area (photos' wrinkle index, the clinic's
grade, the headache or symptom diary), the treatment day, today, and the forecast's
wear-off date with its likely range. The same numbers are in a table beside it for
screen readers and for anyone who prefers numbers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

from touchup.core.catalogue import load_catalogue
from touchup.core.dates import day_text, long_day_text
from touchup.core.early_report import EarlyReport, early_report
from touchup.core.photo_rules import AREA_VIEW

# What each area is measured by, in the order we prefer it, with the words for it.
MEASURES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "migraine": (("headache_days", "Headache days in the last 30 days", "fewer is better"),),
    "cervical_dystonia": (("symptom_score", "Neck symptoms (0 none to 10 worst)", "lower is better"),),
}
COSMETIC = (
    ("wrinkle_index", "Line visibility from your photos", "lower is better"),
    ("fws_grade", "Line grade by your clinician (0 none to 3 severe)", "lower is better"),
)
# A phone-sized drawing: the text stays readable when the SVG is scaled to a 360 px screen.
W, H = 420, 240
PAD_L, PAD_R, PAD_T, PAD_B = 40, 12, 22, 40


@dataclass
class AreaResult:
    area: str
    name: str
    treated_on: dt.date | None
    measure_label: str = ""
    better: str = ""
    points: list[tuple[dt.date, float]] = field(default_factory=list)
    checkins: list[tuple[dt.date, bool]] = field(default_factory=list)
    forecast: Any = None
    # The cycle's check-ins amount to an early wear-off report (touchup.core.early_report):
    # the words say so instead of pairing "it is wearing off" with a date months away.
    early: EarlyReport | None = None
    # Where the patient takes the photo (or fills in the diary) that measures the area.
    early_link: str = ""
    early_link_text: str = ""
    words: list[str] = field(default_factory=list)
    chart: SafeString | str = ""


def _fmt(v: float) -> str:
    return f"{v:.0f}" if v == int(v) else f"{v:.2f}"


def build(patient_areas: list[str], treated_on: dict[str, dt.date], observations: list[Any],
          forecasts: dict[str, Any], today: dt.date) -> list[AreaResult]:
    cat = load_catalogue()
    out = []
    for area in patient_areas:
        start = treated_on.get(area)
        r = AreaResult(area, cat.areas[area].name if area in cat.areas else area, start)
        mine = [o for o in observations if o.area == area and (start is None or o.observed_on >= start - dt.timedelta(days=31))]
        for kind, label, better in MEASURES.get(area, COSMETIC):
            pts = sorted((o.observed_on, o.value) for o in mine if o.kind == kind)
            if pts:
                r.measure_label, r.better, r.points = label, better, pts
                break
        r.checkins = sorted((o.observed_on, bool(o.value)) for o in mine if o.kind == "wearing_off_reported")
        r.forecast = f = forecasts.get(area)
        if f is not None:
            # In recording order (observations come by date, then as recorded): of two
            # answers on one day the later one stands.
            r.early = early_report(area, f.treated_on, (f.wear_off_low, f.wear_off_high), f.earliest_allowed,
                                   ((o.observed_on, bool(o.value)) for o in mine if o.kind == "wearing_off_reported"))
        r.words = _words(r, today)
        r.chart = chart(r, today)
        out.append(r)
    return out


def _words(r: AreaResult, today: dt.date) -> list[str]:
    words = []
    if r.treated_on:
        words.append(f"Last treated on {long_day_text(r.treated_on)}.")
    if len(r.points) >= 2 and r.treated_on:
        before = [v for d, v in r.points if d <= r.treated_on]
        after = [(d, v) for d, v in r.points if d > r.treated_on]
        if before and after:
            b, (ld, lv) = before[-1], after[-1]
            if b > 0:
                change = round(100 * (b - lv) / b)
                how = f"{change}% lower" if change > 0 else (f"{-change}% higher" if change < 0 else "the same")
                words.append(f"{r.measure_label}: {_fmt(b)} before the treatment, {_fmt(lv)} on {long_day_text(ld)} ({how}; {r.better}).")
            else:
                words.append(f"{r.measure_label}: {_fmt(b)} before the treatment, {_fmt(lv)} on {long_day_text(ld)}.")
    elif not r.points and not r.checkins:
        words.append("Nothing has been measured for this area yet: photos, check-ins and diaries fill this in.")
    if r.early is not None:
        # Not "wearing off" beside "in about 19 weeks": the forecast rightly moves little on
        # one early answer, and the clinic is told instead (the Due worklist). No date
        # before earliest_allowed is offered.
        measured = "a photo helps us measure it" if r.area in AREA_VIEW else "your diary helps us measure it"
        words.append(f"You told us on {long_day_text(r.early.latest_on)} that it is wearing off. That is earlier "
                     f"than we expected, so your clinic will look at it; {measured}.")
        words.append("Your clinic will contact you about what to do next. A new treatment is possible from "
                     f"{long_day_text(r.early.earliest_allowed)} at the earliest.")
        return words
    if r.checkins:
        d, yes = r.checkins[-1]
        words.append(f"Your last check-in ({long_day_text(d)}): {'it is wearing off' if yes else 'not wearing off yet'}.")
    f = r.forecast
    if f is None:
        words.append("There is no forecast for this area yet; it appears once the clinic's chart is signed and processed.")
    else:
        if f.wear_off_date <= today:
            words.append(f"We expected the effect to have noticeably worn off by about {long_day_text(f.wear_off_date)}.")
        else:
            weeks = max(1, round((f.wear_off_date - today).days / 7))
            words.append(
                f"We expect the effect to have noticeably worn off around {long_day_text(f.wear_off_date)}, in about "
                f"{weeks} week{'s' if weeks != 1 else ''} (most likely between {long_day_text(f.wear_off_low)} and {long_day_text(f.wear_off_high)})."
            )
        words.append(f"The best time for your next visit: {long_day_text(f.book_from)} to {long_day_text(f.book_by)}.")
    return words


def chart(r: AreaResult, today: dt.date) -> SafeString | str:
    """An accessible inline SVG; empty when there is nothing to draw."""
    f = r.forecast
    dates = [d for d, _ in r.points] + [d for d, _ in r.checkins] + ([r.treated_on] if r.treated_on else [])
    if f is not None:
        dates += [f.wear_off_low, f.wear_off_high, f.wear_off_date]
    if not dates or (not r.points and not r.checkins and f is None):
        return ""
    lo = min(dates + [today]) - dt.timedelta(days=7)
    hi = max(dates + [today]) + dt.timedelta(days=7)
    span = max(1, (hi - lo).days)
    vmax = max([v for _, v in r.points] + [1.0])
    if r.area == "migraine":
        vmax = 30.0
    elif r.area == "cervical_dystonia":
        vmax = max(10.0, vmax)
    elif r.points and all(v in (0, 1, 2, 3) for _, v in r.points) and "grade" in r.measure_label:
        vmax = 3.0

    def x(day: dt.date) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (day - lo).days / span

    def y(v: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (1 - v / vmax)

    uid = f"chart-{r.area}"
    title = f"{r.name}: {r.measure_label or 'check-ins'} over time"
    desc = " ".join(r.words)
    parts = [
        f'<svg class="result-chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{uid}-t {uid}-d" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" height="{H - PAD_T - PAD_B}" class="plot"/>',
    ]
    lines: list[tuple[float, str, str]] = []
    if f is not None:
        x0, x1 = x(f.wear_off_low), x(f.wear_off_high)
        parts.append(f'<rect x="{x0:.1f}" y="{PAD_T}" width="{max(2, x1 - x0):.1f}" height="{H - PAD_B - PAD_T}" class="band"/>')
        lines.append((x(f.wear_off_date), "wearoff", "worn off"))
    if r.treated_on:
        lines.append((x(r.treated_on), "treated", "treated"))
    lines.append((x(today), "today", "today"))
    # Labels of lines closer than a word's width go on the next row.
    last_x = [-1e9, -1e9, -1e9]
    for xpos, cls, label in sorted(lines):
        row = next((i for i in range(3) if xpos - last_x[i] > 64), 2)
        last_x[row] = xpos
        parts.append(_vline(xpos, cls, label, row))
    for v in (0, vmax / 2, vmax) if r.points else ():
        parts.append(f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">{_fmt(round(v, 1))}</text>')
    if r.points:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(d):.1f},{y(v):.1f}" for i, (d, v) in enumerate(r.points))
        parts.append(f'<path d="{path}" class="line"/>')
        parts += [f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="4" class="dot"/>' for d, v in r.points]
    for d, yes in r.checkins:
        cls = "checkin-yes" if yes else "checkin-no"
        parts.append(f'<rect x="{x(d) - 4:.1f}" y="{H - PAD_B - 10}" width="8" height="8" class="{cls}"/>')
    parts.append(f'<text x="{PAD_L}" y="{H - 8}" class="tick">{day_text(lo)}</text>')
    parts.append(f'<text x="{W - PAD_R}" y="{H - 8}" class="tick" text-anchor="end">{day_text(hi)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _vline(xpos: float, cls: str, label: str, row: int = 0) -> str:
    """A dated line with its label above the plot (row 1: just inside it, so close
    dates do not print on top of each other); near the right edge the label ends at the line."""
    y = PAD_T - 6 if row == 0 else PAD_T + 16 * row
    anchor, dx = ("end", -4) if xpos > W - 70 else ("start", 4)
    return (f'<line x1="{xpos:.1f}" x2="{xpos:.1f}" y1="{PAD_T}" y2="{H - PAD_B}" class="{cls}"/>'
            f'<text x="{xpos + dx:.1f}" y="{y}" class="label" text-anchor="{anchor}">{label}</text>')
