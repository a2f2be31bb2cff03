"""The forecast's track record on a clinic's own patients: how close `wear_off_date` came
to the wear-off the clinic then saw, beside the fixed "every N days" rule.

    from touchup.core.track_record import track_record
    report = track_record(histories)        # TrackRecord: per area and overall
    report.empty                            # no cycle could be scored (report.reason says why)
    data = record_data(report)              # the aggregate numbers as JSON data, to keep
    from_record_data(data)                  # -> the TrackRecord again (without its cycles)

The same History objects the calibration reads (touchup.core.calibration). For every
treatment cycle of an area (its treatment day A up to the area's next treatment, or the
history's as_of for the last one):

1. **Observed wear-off** (only from the data, never guessed). The first day on which the
   cycle's data show the effect gone, where the day before is known to within
   MAX_GAP_DAYS (an earlier observation of the same kind in the cycle still showed it
   working, at most MAX_GAP_DAYS before); the earliest such day over these sources:
   - a check-in: the first "wearing off: yes", after a "no", and with no "no" after it
     in the cycle (a lone false "yes" is not a wear-off);
   - a reading (photo wrinkle index, FWS grade, dystonia symptom score): read against
     the baseline the model itself uses for that cycle (forecast.reading_baselines) as
     MeasurePrior.effect; the cycle's *measured peak* is its largest effect up to
     2 x the area's peak day, at least MIN_PEAK_EFFECT; the wear-off is the first later
     reading whose effect is at or below half of that peak (the model's own definition
     of the wear-off day: the improvement fallen to half of its peak). Readings that
     count a window (the 30-day headache diary) are not used: they cannot date a day.
   A cycle without one is "not measured" if it has ended (the area was treated again)
   and "still running" if it is the area's last cycle.
2. **The cut.** The history is cut at A + the area's peak day (rounded up; the day the
   effect is at its fullest and the clinic's two-week review has been): as_of is that
   day, and every treatment and observation after it is dropped. The forecast is made
   from the cut history exactly as the product makes it (forecast_many, same priors and
   rules). A cycle whose observed wear-off is on or before the cut day is not scored:
   the cut history would already contain it ("worn off before the cut").
3. **Scores.** error = wear_off_date - observed day (days; negative = forecast early).
   The fixed rule is A + N with N the population median for the product and area in
   the same priors (AreaPrior.median_for, rounded): what a clinic that recalls every
   patient after N days would have said. The "best fixed" N, known only in hindsight,
   is the median of the observed durations (the N with the least mean absolute error).
   Coverage is the share of observed days inside the 80% interval (ends included).

The observed day is at most MAX_GAP_DAYS later than the true crossing (it is the first
observation after it), the same for the model and the fixed rule.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from touchup.core.forecast import RetreatmentRule, forecast_many, reading_baselines
from touchup.core.history import History
from touchup.core.wearoff import Priors, load_priors

# An observed wear-off is dated to within this many days: the last observation that still
# showed the effect is at most this far before the first that shows it gone.
MAX_GAP_DAYS = 30
# A reading-based peak below this (in the measure's own units, 1 = the whole baseline gone)
# is within the noise of one photo or grade: half of it would date nothing.
MIN_PEAK_EFFECT = 0.2
# The measured peak is looked for up to this many times the area's peak day.
PEAK_SEARCH_FACTOR = 2.0

CHECKIN = "wearing_off_reported"


@dataclass(frozen=True, slots=True)
class ScoredCycle:
    """One cycle the forecast is scored on."""

    area: str
    product: str
    treatment_date: dt.date
    cut_date: dt.date
    observed: dt.date  # the observed wear-off day
    source: str  # the observation kind that showed it
    wear_off_date: dt.date  # the forecast from the cut history
    wear_off_interval: tuple[dt.date, dt.date]
    fixed_date: dt.date  # treatment_date + the fixed rule's N
    history: int = 0  # the history's position in the input

    @property
    def error(self) -> int:
        return (self.wear_off_date - self.observed).days

    @property
    def fixed_error(self) -> int:
        return (self.fixed_date - self.observed).days

    @property
    def inside(self) -> bool:
        return self.wear_off_interval[0] <= self.observed <= self.wear_off_interval[1]

    @property
    def observed_days(self) -> int:
        return (self.observed - self.treatment_date).days


@dataclass(frozen=True, slots=True)
class AreaRecord:
    """The scores of one area (or of all: area "all")."""

    area: str
    cycles: int  # scored
    not_measured: int  # ended without an observed wear-off
    before_cut: int  # observed on or before the cut: not scored
    running: int  # the area's last cycle, no wear-off seen yet
    fixed_days: tuple[int, ...]  # the fixed rule's N (one per product)
    mae_model: float | None
    mae_fixed: float | None
    mae_best_fixed: float | None
    mean_error: float | None  # signed: negative = the forecast comes early
    coverage: float | None  # share inside the 80% interval

    @property
    def ratio(self) -> float | None:
        """The model's MAE over the fixed rule's (the issue's target: at most 0.5)."""
        if self.mae_model is None or not self.mae_fixed:
            return None
        return self.mae_model / self.mae_fixed

    def to_json(self) -> dict:
        r = lambda x, k=1: None if x is None else round(x, k)  # noqa: E731
        return {
            "area": self.area, "cycles": self.cycles, "not_measured": self.not_measured,
            "worn_off_before_cut": self.before_cut, "still_running": self.running,
            "fixed_days": list(self.fixed_days), "mae_model_days": r(self.mae_model),
            "mae_fixed_days": r(self.mae_fixed), "ratio": r(self.ratio, 2),
            "mae_best_fixed_days": r(self.mae_best_fixed), "mean_error_days": r(self.mean_error),
            "coverage_80": r(self.coverage, 3),
        }


@dataclass(frozen=True, slots=True)
class TrackRecord:
    areas: tuple[AreaRecord, ...]  # areas by name
    overall: AreaRecord
    cycles: tuple[ScoredCycle, ...]

    @property
    def empty(self) -> bool:
        # From the count, not the cycles: a record read back from its stored numbers
        # (from_record_data) has no cycles.
        return self.overall.cycles == 0

    @property
    def reason(self) -> str:
        """Why nothing is scored, in words ("" when something is)."""
        if not self.empty:
            return ""
        if not self.areas:
            return "No treatments yet: there is no cycle to score."
        return ("No completed cycle with an observed wear-off after its cut yet: nothing to score. "
                "Check-ins and photos through each cycle are what make one measurable.")

    def to_json(self) -> dict:
        return {
            "cut": "the area's peak day after the treatment",
            "max_gap_days": MAX_GAP_DAYS,
            "empty": self.empty, "reason": self.reason,
            "overall": self.overall.to_json(),
            "areas": [a.to_json() for a in self.areas],
        }


def record_data(report: TrackRecord) -> dict:
    """The record's aggregate numbers (every AreaRecord field, unrounded) as JSON data: what
    is kept of a scoring. No cycle: they are each a patient's."""
    def one(a: AreaRecord) -> dict:
        return {f: list(getattr(a, f)) if f == "fixed_days" else getattr(a, f) for f in AreaRecord.__slots__}

    return {"areas": [one(a) for a in report.areas], "overall": one(report.overall)}


def from_record_data(data: Mapping) -> TrackRecord:
    """record_data() read back: the same areas and overall, without the cycles."""
    def one(d: Mapping) -> AreaRecord:
        return AreaRecord(**{f: tuple(d[f]) if f == "fixed_days" else d[f] for f in AreaRecord.__slots__})

    return TrackRecord(tuple(one(a) for a in data["areas"]), one(data["overall"]), cycles=())


# --- observed wear-off -------------------------------------------------------------------

def observed_wear_off(history: History, area: str, start: dt.date, end: dt.date, *,
                      priors: Priors, baselines: Mapping | None = None) -> tuple[dt.date, str] | None:
    """The observed wear-off day of the cycle of `area` treated on `start`, whose
    observations are those after `start` up to and including `end` (the next treatment
    day, whose readings are taken before the injections, or the history's as_of), and
    the kind that showed it; None if the data do not show one (module docstring)."""
    if baselines is None:
        baselines = reading_baselines(history, priors=priors)
    series: dict[str, list] = defaultdict(list)
    for o in history.observations:
        if o.area == area and start < o.date <= end:
            series[o.kind].append((o.date, o.value))
    found = []
    for kind, items in series.items():
        items.sort(key=lambda x: x[0])
        if kind == CHECKIN:
            day = _from_checkins(items)
        else:
            measure = priors.measures[kind]
            baseline = baselines.get((area, kind, start))
            if measure.window_days or baseline is None:
                continue
            limit = start + dt.timedelta(days=PEAK_SEARCH_FACTOR * priors.areas[area].peak_days)
            day = _from_readings([(d, measure.effect(v, baseline.value)) for d, v in items], limit)
        if day is not None:
            found.append((day, kind))
    return min(found) if found else None


def _from_checkins(items: list[tuple[dt.date, bool]]) -> dt.date | None:
    first_yes = next((i for i, (_, yes) in enumerate(items) if yes), None)
    if first_yes is None or first_yes == 0:
        return None  # never reported, or no "no" before it to date it by
    day, last_no = items[first_yes][0], items[first_yes - 1][0]
    if (day - last_no).days > MAX_GAP_DAYS:
        return None
    if any(not yes for _, yes in items[first_yes + 1:]):
        return None  # contradicted later in the cycle
    return day


def _from_readings(effects: list[tuple[dt.date, float]], peak_by: dt.date) -> dt.date | None:
    early = [i for i, (d, _) in enumerate(effects) if d <= peak_by]
    if not early:
        return None
    top = max(early, key=lambda i: effects[i][1])
    peak = effects[top][1]
    if peak < MIN_PEAK_EFFECT:
        return None
    for i in range(top + 1, len(effects)):
        day, e = effects[i]
        if e <= peak / 2:
            return day if (day - effects[i - 1][0]).days <= MAX_GAP_DAYS else None
    return None


# --- the record --------------------------------------------------------------------------

def track_record(histories: Iterable[History], *, priors: Priors | None = None,
                 rules: Mapping[str, RetreatmentRule] | None = None) -> TrackRecord:
    """Score the forecast on every cycle of these histories with an observed wear-off
    after its cut (module docstring). `priors` and `rules` as for forecast_many: pass the
    ones the product forecasts the clinic with."""
    priors = priors or load_priors()
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    fixed: dict[str, set[int]] = defaultdict(set)
    todo = []  # (cut history, area, product, start, cut, observed, source, fixed N)
    for i, h in enumerate(histories):
        baselines = reading_baselines(h, priors=priors)
        by_area: dict[str, list] = defaultdict(list)
        for t in h.treatments:
            for dose in t.areas:
                by_area[dose.area].append((t.date, t.product))
        for area, cycles in by_area.items():
            prior = priors.areas[area]
            for j, (start, product) in enumerate(cycles):
                last = j == len(cycles) - 1
                end = h.as_of if last else cycles[j + 1][0]
                if end <= start:
                    continue  # the same area charted twice on one day: one cycle
                seen = observed_wear_off(h, area, start, end, priors=priors, baselines=baselines)
                if seen is None:
                    counts[area]["running" if last else "not_measured"] += 1
                    continue
                cut = start + dt.timedelta(days=math.ceil(prior.peak_days))
                if seen[0] <= cut:
                    counts[area]["before_cut"] += 1
                    continue
                n = round(prior.median_for(product))
                fixed[area].add(n)
                todo.append((_cut(h, cut), area, product, start, cut, seen[0], seen[1], n, i))
    results = forecast_many([c[0] for c in todo], priors=priors, rules=rules)
    scored = []
    for (_, area, product, start, cut, observed, source, n, i), f in zip(todo, results):
        entry = next(a for a in f.areas if a.area == area)
        assert entry.treatment_date == start, (area, start, entry.treatment_date)
        scored.append(ScoredCycle(area, product, start, cut, observed, source, entry.wear_off_date,
                                  entry.wear_off_interval, start + dt.timedelta(days=n), i))
    areas = tuple(
        _record(name, [c for c in scored if c.area == name], counts[name], fixed[name])
        for name in sorted(set(counts) | {c.area for c in scored})
    )
    total: dict[str, int] = defaultdict(int)
    for name in counts:
        for k, v in counts[name].items():
            total[k] += v
    overall = _record("all", scored, total, set().union(*fixed.values()) if fixed else set(),
                      best=[a.mae_best_fixed * a.cycles for a in areas if a.cycles])
    return TrackRecord(areas, overall, tuple(scored))


def _cut(h: History, cut: dt.date) -> History:
    """The history as it stood on `cut`."""
    return History(as_of=cut, patient=h.patient,
                   treatments=tuple(t for t in h.treatments if t.date <= cut),
                   observations=tuple(o for o in h.observations if o.date <= cut))


def _record(area: str, cycles: list[ScoredCycle], counts: Mapping[str, int], fixed: set[int],
            best: list[float] | None = None) -> AreaRecord:
    n = len(cycles)
    mean = lambda xs: sum(xs) / n if n else None  # noqa: E731
    if best is None and n:
        # The best fixed N in hindsight: the median duration minimises the mean absolute error.
        best_n = statistics.median_low([c.observed_days for c in cycles])
        mae_best = mean([abs(c.observed_days - best_n) for c in cycles])
    else:
        mae_best = sum(best) / n if n and best else None  # overall: each area with its own N
    return AreaRecord(
        area=area, cycles=n, not_measured=counts.get("not_measured", 0),
        before_cut=counts.get("before_cut", 0), running=counts.get("running", 0),
        fixed_days=tuple(sorted(fixed)),
        mae_model=mean([abs(c.error) for c in cycles]), mae_fixed=mean([abs(c.fixed_error) for c in cycles]),
        mae_best_fixed=mae_best, mean_error=mean([c.error for c in cycles]),
        coverage=mean([1.0 if c.inside else 0.0 for c in cycles]),
    )
