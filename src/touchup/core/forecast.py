"""The maintenance forecast: for each area of a patient's most recent treatment of it,
when the effect wears off, how sure we are, when to book, and the earliest date the
product's rules allow.

    from touchup.core.history import History, parse_history
    from touchup.core.forecast import forecast, forecast_many
    forecast(history)            -> Forecast (one History)
    forecast_many([h1, h2, ...]) -> [Forecast, ...]  (vectorised; same order)
    reading_baselines(history)   -> {(area, kind, cycle start): Baseline}: the value each
                                    cycle's readings are read against (for the chart)

Dates, per area (A = the area's most recent treatment date):
- wear_off_date: A + the posterior median of the wear-off day D (the first day after the
  peak on which the improvement has fallen to half of its peak; touchup.core.wearoff).
- wear_off_interval: the central 80% interval, A + the 10th and 90th percentiles of D.
- earliest_allowed: the minimum retreatment interval after A (the indication's where the
  label gives one, as for chronic migraine and cervical dystonia: 12 weeks; otherwise the
  product's, 90 days for every toxin), the same rule the chart's safety check applies, pushed later
  while the area's last dose would take the product's cumulative dose (all areas, in the
  catalogue's window) over its limit.
- book_from: A + the 25th percentile of D (a one-in-four chance the effect has already
  faded), but never before earliest_allowed; book_by: the wear_off_date, but at least
  the catalogue's min_booking_window_days after book_from (a window must be bookable). Booking inside the window puts the visit before or at the expected wear-off
  for most patients while staying within the rules.
Dates are not moved to today: a date before the history's as_of means "already due".
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import operator
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from touchup.core.history import History, Treatment
from touchup.core.wearoff import Priors, WearoffBatch, load_priors

# Posterior levels read off per area: interval low, book_from, median, interval high.
_LEVELS = (0.10, 0.25, 0.50, 0.90)

# Kinds read against the value on the treatment day itself (photos and grades are taken
# before the injections on that day); diaries and scores use the latest value on or
# before it (DESIGN.md).
_SAME_DAY_BASELINE = {"wrinkle_index": True, "fws_grade": True, "headache_days": False, "symptom_score": False}
_BASIS_WORDS = {
    "wrinkle_index": ("photo", "photos"),
    "fws_grade": ("FWS grade", "FWS grades"),
    "headache_days": ("headache diary", "headache diaries"),
    "symptom_score": ("symptom score", "symptom scores"),
    "wearing_off_reported": ("check-in", "check-ins"),
}


@dataclass(frozen=True, slots=True)
class AreaForecast:
    """One area's forecast (all dates calendar days; see the module docstring). `basis`
    is one line for the clinician: what the forecast rests on."""

    area: str
    product: str
    treatment_date: dt.date
    wear_off_date: dt.date
    wear_off_interval: tuple[dt.date, dt.date]
    book_from: dt.date
    book_by: dt.date
    earliest_allowed: dt.date
    basis: str

    def to_json(self) -> dict:
        """The `touchup forecast --json` entry (DESIGN.md)."""
        return {
            "area": self.area,
            "treatment_date": self.treatment_date.isoformat(),
            "wear_off_date": self.wear_off_date.isoformat(),
            "wear_off_interval": [self.wear_off_interval[0].isoformat(), self.wear_off_interval[1].isoformat()],
            "book_from": self.book_from.isoformat(),
            "book_by": self.book_by.isoformat(),
            "earliest_allowed": self.earliest_allowed.isoformat(),
            "basis": self.basis,
        }


@dataclass(frozen=True, slots=True)
class Forecast:
    """One entry per area, the most recently treated area first."""

    areas: tuple[AreaForecast, ...]

    def to_json(self) -> dict:
        return {"areas": [a.to_json() for a in self.areas]}


@dataclass(frozen=True, slots=True)
class Baseline:
    """The value one cycle's readings of one kind are read against (the effect read from
    a reading: touchup.core.wearoff.MeasurePrior.effect).

    `reference` True: the area's untreated reference, read on `read_on` in an earlier
    cycle, because this cycle's own treatment-day value is still flattered by the previous
    cycle. False: the cycle's own value on or before its treatment day (the area's first
    cycle, or one begun after the previous had worn off; it is then the new reference)."""

    value: float
    read_on: dt.date
    reference: bool


@dataclass(frozen=True, slots=True)
class RetreatmentRule:
    """A product's label limits (from the catalogue): days between treatments of an area
    (or the indication's own interval, `min_days_by_indication`), and at most
    `cumulative_limit_units` within any `cumulative_window_days`."""

    min_retreatment_days: int
    cumulative_limit_units: float | None = None
    cumulative_window_days: int | None = None
    min_days_by_indication: tuple[tuple[str, int], ...] = ()

    def min_days(self, indication: str) -> int:
        """As touchup.core.catalogue.Catalogue.min_retreatment_days: the indication's
        interval where it has one, else the product's."""
        for key, days in self.min_days_by_indication:
            if key == indication:
                return days
        return self.min_retreatment_days


@functools.cache
def _min_booking_window() -> int:
    from touchup.core.catalogue import load_catalogue

    return load_catalogue().practice.min_booking_window_days


@functools.cache
def catalogue_rules() -> Mapping[str, RetreatmentRule]:
    from touchup.core.catalogue import load_catalogue

    cat = load_catalogue()
    by_indication = tuple((k, i.min_retreatment_days) for k, i in cat.indications.items() if i.min_retreatment_days)
    return {
        key: RetreatmentRule(p.min_retreatment_days, p.cumulative_limit_units, p.cumulative_window_days,
                             by_indication)
        for key, p in cat.products.items()
    }


def forecast(history: History, *, priors: Priors | None = None,
             rules: Mapping[str, RetreatmentRule] | None = None) -> Forecast:
    """The forecast for one patient (see the module docstring)."""
    return forecast_many([history], priors=priors, rules=rules)[0]


def forecast_many(histories: Iterable[History], *, priors: Priors | None = None,
                  rules: Mapping[str, RetreatmentRule] | None = None) -> list[Forecast]:
    """Forecasts for many patients at once, in the given order: the model's grid work is
    done for all of them together, which is what makes 100,000 histories take seconds."""
    priors = priors or load_priors()
    rules = rules if rules is not None else catalogue_rules()
    histories = list(histories)
    results: list[Forecast] = []
    # Blocks bound the memory of the grid arrays (~100 MB per block) without costing speed.
    for lo in range(0, len(histories), _BLOCK):
        results.extend(_forecast_block(histories[lo:lo + _BLOCK], priors, rules))
    return results


_BLOCK = 8192


def _forecast_block(histories, priors, rules) -> list[Forecast]:
    batch = WearoffBatch(priors)
    medians: dict = {}
    plans = [_plan(h, priors, batch, medians) for h in histories]
    # Whole days: the first day on or after each quantile of the wear-off day.
    q = np.ceil(batch.solve(_LEVELS)).astype(np.int64).tolist()

    min_window = _min_booking_window()
    results = []
    row = 0
    for areas in plans:
        out = []
        for area in areas:
            lo, b25, mid, hi = (area.start + d for d in q[row])
            row += 1
            earliest = _earliest(area.start, area.product, area.indication, area.units, area.history.treatments,
                                 rules)
            book_from = max(b25, earliest)
            out.append(AreaForecast(
                area.area, area.product, _date(area.start), _date(mid), (_date(lo), _date(hi)),
                _date(book_from), _date(max(mid, book_from + min_window)), _date(earliest), area.basis,
            ))
        results.append(Forecast(tuple(out)))
    return results


def reading_baselines(history: History, *, priors: Priors | None = None
                      ) -> dict[tuple[str, str, dt.date], Baseline]:
    """For each (area, kind, cycle's treatment date) with readings the model uses, the
    Baseline they are read against. It is the forecast's own walk over the history (the
    batch it fills is dropped), so a chart drawn from it can never read a reading
    differently from the model."""
    priors = priors or load_priors()
    seen: dict[tuple[str, str, dt.date], Baseline] = {}
    _plan(history, priors, WearoffBatch(priors), {}, seen)
    return seen


def build_batch(histories: Iterable[History], priors: Priors) -> tuple[WearoffBatch, list[tuple[int, str]]]:
    """The model's batch for these histories, unsolved, and per area slot (in slot order)
    the index of its history and the area's name: for calibration, which compares the
    batch's evidence between priors."""
    batch = WearoffBatch(priors)
    medians: dict = {}
    slots = []
    for i, h in enumerate(histories):
        slots.extend((i, plan.area) for plan in _plan(h, priors, batch, medians))
    return batch, slots


# --- from a history to the model's cycles ------------------------------------------------

_date = dt.date.fromordinal


@dataclass(slots=True)
class _AreaPlan:
    history: History
    area: str
    product: str
    indication: str
    units: float
    start: int  # ordinal of the most recent treatment of the area
    basis: str


_BY_DATE = operator.attrgetter("date")


def _plan(history: History, priors: Priors, batch: WearoffBatch, medians: dict,
          seen: dict | None = None) -> list[_AreaPlan]:
    """Add one patient's areas, cycles and readings to the batch. `medians` caches the
    log median per (area, product, units, sex, earlier cycles) across patients. `seen`,
    when given, collects each cycle's Baseline per kind (reading_baselines)."""
    as_of = history.as_of.toordinal()
    sex = history.patient.sex
    # area -> [(date ordinal, product, units, indication)] in date order; areas most recent first.
    cycles: dict[str, list[tuple[int, str, float, str]]] = {}
    for t in history.treatments:
        d = t.date.toordinal()
        for dose in t.areas:
            cycles.setdefault(dose.area, []).append((d, t.product, dose.units, t.indication))
    order = sorted(cycles, key=lambda a: -cycles[a][-1][0])  # stable: ties keep file order

    # area -> kind -> (sorted date ordinals, values)
    readings: dict[str, dict[str, tuple[list[int], list]]] = {}
    for o in sorted(history.observations, key=_BY_DATE):
        per_kind = readings.get(o.area)
        if per_kind is None:
            per_kind = readings[o.area] = {}
        series = per_kind.get(o.kind)
        if series is None:
            series = per_kind[o.kind] = ([], [])
        series[0].append(o.date.toordinal())
        series[1].append(o.value)

    plans = []
    for area in order:
        prior = priors.areas[area]
        slot = batch.add_area(prior.sd_log_person, prior.sd_log_cycle)
        area_cycles = cycles[area]
        area_readings = readings.get(area, {})
        n = len(area_cycles)
        earlier_with_data = 0
        prev_mu = 0.0
        counts: dict[str, int] = {}
        unusable: set[str] = set()
        # kind -> untreated reading, its cycle's treatment day, the reading's own day
        reference: dict[str, tuple[float, int, int]] = {}
        for j, (start, product, units, _indication) in enumerate(area_cycles):
            current = j == n - 1
            end = as_of if current else area_cycles[j + 1][0]
            key = (area, product, units, sex, min(j, prior.repeat_max_cycles))
            mu = medians.get(key)
            if mu is None:
                mu = medians[key] = prior.log_median(product, units, sex, j, priors.dose_ratio_range)
            # What the previous cycle, at its population median, leaves on this day.
            residual = prior.improvement(start - area_cycles[j - 1][0], math.exp(prev_mu)) if j else 0.0
            prev_mu = mu
            cycle = None
            used = 0
            for kind, (dates, values) in area_readings.items():
                lo, hi = bisect_right(dates, start), bisect_right(dates, end)
                checkins = kind == "wearing_off_reported"
                if not checkins:
                    baseline = _baseline(kind, dates, values, lo, start)
                    resid, drift, ref = residual, 0.0, None
                    if baseline is not None and residual <= priors.reference_residual_max:
                        reference[kind] = (baseline, start, dates[lo - 1])
                    elif kind in reference:
                        # Read against the untreated reference rather than a baseline the
                        # previous cycle still flatters by an unknown amount: the readings'
                        # level then says how much effect is left, not only their trend.
                        ref = reference[kind]
                        baseline, taken, _ = ref
                        resid = 0.0
                        drift = priors.reference_drift_sd_per_year * (start - taken) / 365.25
                if lo == hi:
                    continue
                if cycle is None:
                    cycle = batch.add_cycle(slot, mu, prior, current)
                if checkins:
                    batch.add_checkins(cycle, start, dates[lo:hi], values[lo:hi])
                    k = hi - lo
                else:
                    if baseline is None:
                        k = 0
                        if current:
                            unusable.add(kind)
                    else:
                        batch.add_readings(cycle, kind, start, dates[lo:hi], values[lo:hi], baseline, resid, drift)
                        k = hi - lo
                        if seen is not None:
                            read_on = ref[2] if ref is not None else dates[lo - 1]
                            seen[(area, kind, _date(start))] = Baseline(baseline, _date(read_on), ref is not None)
                used += k
                if current and k:
                    counts[kind] = k
            if current and cycle is None:
                batch.add_cycle(slot, mu, prior, True)
            if not current and used:
                earlier_with_data += 1
        start, product, units, indication = area_cycles[-1]
        plans.append(_AreaPlan(history, area, product, indication, units, start,
                               _basis(earlier_with_data, counts, unusable)))
    return plans


def _baseline(kind: str, dates: list[int], values: list, lo: int, start: int) -> float | None:
    """The value a cycle's readings are read against, or None when there is none.

    `dates[lo]` is the first reading after the treatment day `start`."""
    if lo == 0:
        return None  # nothing on or before the treatment day
    if _SAME_DAY_BASELINE[kind] and dates[lo - 1] != start:
        return None  # photos and grades only mean something against that day's own
    baseline = values[lo - 1]
    # Nothing to improve on (no lines, no headache days): the readings say nothing.
    return baseline if baseline > 0 else None


def _basis(earlier: int, counts: Mapping[str, int], unusable: set[str]) -> str:
    """One line a clinician can read: what the forecast rests on."""
    parts = []
    if earlier:
        parts.append(f"{earlier} earlier cycle{'s' if earlier != 1 else ''}")
    now = [f"{n} {_BASIS_WORDS[k][n != 1]}" for k, n in counts.items()]
    if now:
        parts.append(", ".join(now) + " this cycle")
    text = ", ".join(parts) if parts else "population prior only (no personal data yet)"
    if unusable:
        names = " and ".join(sorted(_BASIS_WORDS[k][1] for k in unusable))
        text += f"; {names} not used (no baseline on the treatment day)"
    return text


# --- rules --------------------------------------------------------------------------------

def earliest_allowed(treatments: Sequence[Treatment], area: str,
                     rules: Mapping[str, RetreatmentRule]) -> dt.date:
    """The earliest date the area may be treated again with the same product and dose.

    Respects the minimum retreatment interval after the area's last treatment (the
    indication's, else the product's),
    and its cumulative limit: the area's last dose (its typical dose) added on that date
    must keep every `cumulative_window_days` window around it within the limit, counting
    all areas treated with the product. A limit without a window is per session (day).
    """
    last, units = None, 0.0
    for t in treatments:
        for dose in t.areas:
            if dose.area == area:
                last, units = t, dose.units
    if last is None:
        raise ValueError(f"area {area!r} was never treated")
    return dt.date.fromordinal(_earliest(last.date.toordinal(), last.product, last.indication, units, treatments,
                                         rules))


def _earliest(last: int, product: str, indication: str, units: float, treatments: Sequence[Treatment],
              rules: Mapping[str, RetreatmentRule]) -> int:
    """earliest_allowed() as an ordinal, for a last treatment on ordinal `last`."""
    rule = rules[product]
    base = last + rule.min_days(indication)
    limit = rule.cumulative_limit_units
    if limit is None:
        return base
    window = max(int(rule.cumulative_window_days or 1), 1)
    given = [(t.date.toordinal(), sum(d.units for d in t.areas)) for t in treatments if t.product == product]
    if units > limit:
        # The dose alone is over the limit: the best the rules allow is a clear window.
        return max(base, max(d for d, _ in given) + window)

    def fits(day: int) -> bool:
        # Every window [s, s + window) that contains `day` must stay within the limit; the
        # fullest ones start at the earliest possible day or at a dose (or at `day`).
        starts = {day - window + 1, day} | {d for d, _ in given if day - window + 1 <= d <= day}
        return all(
            units + sum(u for d, u in given if s <= d < s + window) <= limit + 1e-9 for s in starts
        )

    # Moving later only ever helps when an earlier dose leaves the window.
    for day in sorted({base} | {d + window for d, _ in given if d + window > base}):
        if fits(day):
            return day
    return max(base, max(d for d, _ in given) + window)  # unreachable: the last one fits
