"""Recalibrating the population priors on a clinic's own histories (empirical Bayes).

The published medians (data/wearoff_priors.toml) come from trials whose patients, doses
and follow-up are not a given clinic's. Once the clinic has its own readings, the median
wear-off of each area can be moved to where its patients are: for every candidate shift
s of an area's log median (all its products together), the marginal likelihood of all
its patients' readings and check-ins is computed with the model itself
(WearoffBatch.log_evidence, person and cycle offsets integrated out), and combined with a
prior on s that keeps a small clinic close to the literature.

    from touchup.core.calibration import calibrate
    result = calibrate(histories)           # {area: AreaCalibration}
    priors = load_priors().with_median_shifts(shifts(result))

The result is a proposal: the Django layer shows it to the clinic manager and applies it
on request (touchup calibrate). Only medians are moved: the spread between and within
patients and the measurement models stay as published or assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from touchup.core.forecast import build_batch
from touchup.core.history import History
from touchup.core.wearoff import Priors, load_priors

# Candidate shifts of the log median: x0.67 to x1.49 in steps of about 2.5%.
SHIFTS = tuple(round(s, 3) for s in np.linspace(-0.4, 0.4, 33))
# How far a clinic's patients are expected to be from the published medians, before any
# of its data is seen (log scale, sd): about +-15% (an assumption; trial populations,
# doses and follow-up differ from clinic to clinic).
PRIOR_SD = 0.15
# Below this many patients with readings an area keeps the published median.
MIN_PATIENTS = 20


@dataclass(frozen=True)
class AreaCalibration:
    area: str
    patients: int  # patients whose readings or check-ins of the area were used
    shift: float  # posterior mean of the log-median shift (0 when not calibrated)
    sd: float  # its posterior sd
    median_days_before: float  # the area's published median (default product)
    median_days_after: float

    @property
    def calibrated(self) -> bool:
        return self.patients >= MIN_PATIENTS

    @property
    def percent(self) -> float:
        """The change of the median, in percent."""
        return 100.0 * (math.exp(self.shift) - 1.0)


def calibrate(histories: Iterable[History], priors: Priors | None = None,
              shifts: Sequence[float] = SHIFTS, prior_sd: float = PRIOR_SD) -> dict[str, AreaCalibration]:
    """The proposed median shift of every area the histories treat (see the module
    docstring). Areas with fewer than MIN_PATIENTS patients with data keep shift 0."""
    priors = priors or load_priors()
    histories = list(histories)
    if not histories:
        return {}
    # One batch: a shift moves every cycle's log median and nothing else, so the readings
    # are read the same way (baselines, references) under every candidate.
    batch, slots = build_batch(histories, priors)
    names = sorted({area for _, area in slots})
    index = np.asarray([names.index(area) for _, area in slots], dtype=np.int64)
    evidence = np.stack([batch.log_evidence(s) for s in shifts])  # shifts x area slots
    # Summed per area (shifts x areas); an area's patients are its slots with any data.
    per_area = np.stack([np.bincount(index, weights=e, minlength=len(names)) for e in evidence])
    with_data = np.bincount(index, weights=evidence[0] != 0.0, minlength=len(names))
    total = {name: per_area[:, i] for i, name in enumerate(names)}
    patients = {name: int(with_data[i]) for i, name in enumerate(names)}

    grid = np.asarray(shifts, dtype=float)
    out = {}
    for area in sorted(total):
        before = priors.areas[area].median_days
        n = patients[area]
        shift = sd = 0.0
        if n >= MIN_PATIENTS:
            shift, sd = _summary(grid, total[area] - 0.5 * (grid / prior_sd) ** 2)
        out[area] = AreaCalibration(area, n, shift, sd, before, before * math.exp(shift))
    return out


def _summary(grid: np.ndarray, log_post: np.ndarray) -> tuple[float, float]:
    """Mean and sd of a posterior given on a grid. A clinic's data soon make it narrower
    than a grid step; then the parabola through the top three points gives both."""
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    mean = float(w @ grid)
    sd = math.sqrt(max(float(w @ (grid - mean) ** 2), 0.0))
    k = int(np.argmax(log_post))
    step = grid[1] - grid[0]
    if sd < 2 * step and 0 < k < grid.size - 1:
        lo, mid, hi = log_post[k - 1:k + 2]
        curvature = (lo - 2 * mid + hi) / step**2
        if curvature < 0:
            mean = float(grid[k] + step * (lo - hi) / (2 * (lo - 2 * mid + hi)))
            sd = math.sqrt(-1.0 / curvature)
    return mean, sd


def shifts(result: Mapping[str, AreaCalibration]) -> dict[str, float]:
    """The shifts to apply (Priors.with_median_shifts), calibrated areas only."""
    return {a: c.shift for a, c in result.items() if c.calibrated}
