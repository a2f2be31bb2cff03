"""Accuracy and speed of the wear-off forecast on simulated patient histories.

    python -m benchmarks forecast [--accuracy N] [--speed N] [--seed S] [--variants a,b] [--timing a,b]

Simulates patients from the published figures (the population priors in
touchup/core/data/wearoff_priors.toml, with their sources), with person-to-person and
cycle-to-cycle variation, noisy photos, FWS grades, check-ins, headache diaries and
dystonia scores at irregular times, early and late returns, several cycles each; cuts
each history at a random day between its last treatment and that cycle's true wear-off,
and compares the forecast with the truth:

- MAE of wear_off_date, beside two fixed intervals on the same histories: the population
  median for the product and area (what a clinic would use without a model), and the
  best possible fixed interval (the median of the simulated truths per product and
  area: an oracle no clinic has); and, as a bound, an oracle that knows each patient's
  own median (person effect and covariates) but nothing about the current cycle;
- coverage of the 80% wear_off_interval (target 70-90%);
- when the maintenance reminder goes (--timing, base, watch and watch_photo by default): for every
  cycle that ended in a next treatment, the day the product would send it (book_from as
  recomputed on each day with an observation, as the product does) against the true
  wear-off, beside a reminder at a fixed 90 days, the population median and the best
  fixed interval: how late and how early, how often before the rules allow, and the days
  worn off before the reminder per patient-year;
- speed: 100,000 histories from JSON text to forecasts on one core, against the floor of
  json.loads on the same texts.

Variants check robustness, because a model scored on its own generative assumptions is
optimistic: `shape` draws each patient's true curve from other families (slower or
sharper decline, exponential-type decay, a later or earlier peak); `tails` draws person
and cycle effects from Student-t (3 df); `noisy` doubles the photo noise and triples the
check-in misreports; `shifted` makes the clinic's true median 20% longer than the
literature prior; `all` combines them. `cycle_sd_*` change how alike one patient's
cycles are (the model keeps its prior), `engaged`, `sparse` and `alike_dense` the amount
of follow-up data. `watch` asks the check-ins on the product's own schedule instead of
every 15 days from day 60: the peak check-in, then "is it wearing off?" from 14 days
before the forecast's book_from, weekly (the wear-off watch, maintenance/services/
reminders.py), each answer recomputing the forecast, same patients as `base`;
`watch_past_window` the same watch going on after the window opens (not the product),
`watch_engaged` the watch on `engaged`'s patients. `watch_photo` is the watch asking for
a photo of the treated area too: a quarter of its messages to cosmetic patients bring one
back, read as every simulated photo is; `watch_photo_all` the same with a photo of every
cosmetic area of the treatment (what the watch asks for now), `watch_photo_engaged` the
leading area's on `engaged`'s patients with a photo on every answer. Results and the full list of assumptions:
docs/forecast.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import json
import math
import os
import random
import statistics
import sys
from bisect import bisect_left, bisect_right
import time
from dataclasses import dataclass, field

# One core, measured honestly: BLAS must not spread the matrix products over threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from touchup.core.forecast import forecast_many  # noqa: E402
from touchup.core.history import History, Observation, parse_history  # noqa: E402
from touchup.core.wearoff import load_priors  # noqa: E402

PRIORS = load_priors()

# (weight, indication, product, [(area, label units)]): a clinic's mix (ASSUMPTION),
# doses from the labels (clinical-facts.md §1).
SCENARIOS = [
    (0.22, "glabellar_lines", "onabotulinumtoxinA", [("glabella", 20)]),
    (0.06, "glabellar_lines", "abobotulinumtoxinA", [("glabella", 50)]),
    (0.05, "glabellar_lines", "incobotulinumtoxinA", [("glabella", 20)]),
    (0.04, "glabellar_lines", "prabotulinumtoxinA", [("glabella", 20)]),
    (0.05, "glabellar_lines", "daxibotulinumtoxinA", [("glabella", 40)]),
    (0.02, "glabellar_lines", "letibotulinumtoxinA", [("glabella", 20)]),
    (0.14, "upper_face_lines", "onabotulinumtoxinA", [("glabella", 20), ("forehead", 20), ("crows_feet", 24)]),
    (0.05, "lateral_canthal_lines", "onabotulinumtoxinA", [("crows_feet", 24)]),
    (0.05, "platysma_bands", "onabotulinumtoxinA", [("platysma", 31)]),
    (0.12, "chronic_migraine", "onabotulinumtoxinA", [("migraine", 155)]),
    (0.08, "cervical_dystonia", "onabotulinumtoxinA", [("cervical_dystonia", 236)]),
    (0.04, "cervical_dystonia", "abobotulinumtoxinA", [("cervical_dystonia", 500)]),
    (0.04, "cervical_dystonia", "incobotulinumtoxinA", [("cervical_dystonia", 120)]),
    (0.04, "cervical_dystonia", "daxibotulinumtoxinA", [("cervical_dystonia", 250)]),
]
COSMETIC = {"glabella", "forehead", "crows_feet", "platysma"}
MIN_DAYS = {"cosmetic": 90, "therapeutic": 84}  # labels: >=90 d cosmetic (S5), q12w (S19, S31)


@dataclass(frozen=True)
class Variant:
    name: str
    shape: bool = False      # true curve from other families
    tails: bool = False      # Student-t person / cycle effects
    noisy: bool = False      # more photo noise and check-in misreports
    shifted: float = 0.0     # log shift of the clinic's true median vs the prior
    cycle_sd: float | None = None  # true cycle-to-cycle sd (person sd keeps the total)
    photos_per_cycle: float = 1.5  # app photos per cycle (Poisson mean)
    checkin_answer_rate: float = 0.4
    watch: bool = False      # check-ins on the product's schedule (_watch_checkins)
    watch_past_window: bool = False  # what-if: the watch goes on after the maintenance reminder
    # Share of the watch's messages (cosmetic treatments) that bring back a usable photo of
    # the leading area's view, taken that day (_watch_checkins); 0: the watch asks yes/no only.
    watch_photo_rate: float = 0.0
    # The message asks for the view of every treated area a photo measures (the product
    # since the watch asked for all of them), not the leading area's alone.
    watch_photo_all_areas: bool = False
    seed_as: str | None = None  # simulate the patients of this variant (same draws)
    answers_as: str | None = None  # draw the watch's answers as this variant does (same generator)
    photos_as: str | None = None  # draw the watch's (leading-area) photos as this variant does

    @property
    def photo_cv(self):
        return 0.06 if self.noisy else 0.03

    @property
    def misreport(self):
        return 0.20 if self.noisy else 0.07


VARIANTS = {
    "base": Variant("base"),
    "shape": Variant("shape", shape=True),
    "tails": Variant("tails", tails=True),
    "noisy": Variant("noisy", noisy=True),
    "shifted": Variant("shifted", shifted=math.log(1.2)),
    "all": Variant("all", shape=True, tails=True, noisy=True, shifted=math.log(1.2)),
    "cycle_sd_0.06": Variant("cycle_sd_0.06", cycle_sd=0.06),
    "cycle_sd_0.18": Variant("cycle_sd_0.18", cycle_sd=0.18),
    "engaged": Variant("engaged", photos_per_cycle=3.0, checkin_answer_rate=0.8),
    "sparse": Variant("sparse", photos_per_cycle=0.0, checkin_answer_rate=0.2),
    "alike_dense": Variant("alike_dense", cycle_sd=0.06, photos_per_cycle=8.0, checkin_answer_rate=1.0),
    # base's patients, readings and answer behaviour; only the days the check-ins are asked
    # differ (drawn after base's, from their own generator, so the rest stays identical).
    "watch": Variant("watch", watch=True, seed_as="base"),
    # Not the product: what the watch would measure if it went on asking after the
    # maintenance reminder, until a "yes", the next treatment or the 80% interval's end.
    "watch_past_window": Variant("watch_past_window", watch=True, watch_past_window=True, seed_as="base"),
    # The watch on "engaged"'s patients (3 app photos a cycle, 80% of check-ins answered).
    "watch_engaged": Variant("watch_engaged", watch=True, seed_as="engaged", photos_per_cycle=3.0,
                             checkin_answer_rate=0.8),
    # The watch asking for a photo as well (cosmetic areas): "watch"'s patients and answers,
    # and a quarter of the watch's messages bring back a usable photo of the leading area
    # (ASSUMPTION: 62.5% of the 40% who answer manage one that passes the quality check).
    "watch_photo": Variant("watch_photo", watch=True, watch_photo_rate=0.25, seed_as="base", answers_as="watch"),
    # "watch_photo" with the product's request since it asked for every area's view: the
    # same messages bring photos (ASSUMPTION: a patient who takes one takes them all), of
    # every cosmetic area of the treatment; the leading area's are drawn as in "watch_photo".
    "watch_photo_all": Variant("watch_photo_all", watch=True, watch_photo_rate=0.25, watch_photo_all_areas=True,
                               seed_as="base", answers_as="watch", photos_as="watch_photo"),
    # The same on "engaged"'s patients, every answer with a photo (80% of messages): an upper end.
    "watch_photo_engaged": Variant("watch_photo_engaged", watch=True, watch_photo_rate=0.8, seed_as="engaged",
                                   answers_as="watch_engaged", photos_per_cycle=3.0, checkin_answer_rate=0.8),
}

# The product's check-in schedule (touchup/maintenance/services/reminders.py; not imported
# here, it needs Django): the peak check-in, the before-window check-in 14 days before
# book_from, then one a week while the day is before book_from and not after the 80%
# interval, at most 10 rounds, until a "yes" for the treatment's leading area.
CHECKIN_BEFORE_WINDOW_DAYS = 14
WATCH_EVERY_DAYS = 7
WATCH_MAX_ROUNDS = 10


def _sds(prior, variant: Variant) -> tuple[float, float]:
    """True person and cycle sd of log duration; the total stays the prior's."""
    if variant.cycle_sd is None:
        return prior.sd_log_person, prior.sd_log_cycle
    total = math.hypot(prior.sd_log_person, prior.sd_log_cycle)
    return math.sqrt(total**2 - variant.cycle_sd**2), variant.cycle_sd


# --- the true time course ---------------------------------------------------------------

@dataclass
class TrueCurve:
    """One patient-area's true curve family. D (the half-point) is drawn per cycle."""

    peak: float
    rise: float
    family: str = "loglogistic"
    shape: float = 3.0

    def __call__(self, t: float, D: float) -> float:
        if t <= 0:
            return 0.0
        if t <= self.peak:
            return 1.0 - (1.0 - t / self.peak) ** self.rise
        x = (t - self.peak) / (D - self.peak)
        if self.family == "loglogistic":
            return 1.0 / (1.0 + x**self.shape)
        return math.exp(-math.log(2) * x**self.shape)  # Weibull-type decay, also 1/2 at D


def true_curve(area: str, rng: random.Random, variant: Variant) -> TrueCurve:
    prior = PRIORS.areas[area]
    if not variant.shape:
        return TrueCurve(prior.peak_days, prior.rise_shape, "loglogistic", prior.decline_shape)
    family = rng.choice(["loglogistic", "weibull"])
    shape = rng.choice([1.6, 2.0, 4.5, 6.0]) if family == "loglogistic" else rng.choice([1.0, 1.5, 3.0])
    return TrueCurve(prior.peak_days * rng.choice([0.6, 1.0, 1.6]), prior.rise_shape * rng.uniform(0.5, 1.5),
                     family, shape)


def _effect(rng: random.Random, sd: float, tails: bool) -> float:
    if not tails:
        return rng.gauss(0.0, sd)
    # Student-t with 3 df, cut where the raw tail would put wear-offs years out (which no
    # clinic sees), then scaled to the same sd: 0.8356 is the sd of a unit-variance t3
    # cut at +/-4 (Monte Carlo, 2e7 draws).
    while True:
        z = rng.gauss(0.0, 1.0) / math.sqrt(rng.gammavariate(1.5, 2.0) / 3.0) / math.sqrt(3.0)
        if abs(z) <= 4.0:
            return sd * z / 0.8356


# --- one simulated patient ---------------------------------------------------------------

@dataclass
class Truth:
    area: str
    product: str
    treatment_date: int
    wear_off_date: int           # ordinal of the true first day at or below half the peak
    fixed_days: float            # the population median for this product and area
    cycles_before: int
    own_median_days: float       # oracle: this patient's own median for this cycle


@dataclass
class Simulated:
    history: dict
    truths: list[Truth] = field(default_factory=list)
    # Each cycle's treatment day and true D per area, and the cut.
    cycles: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    as_of: int = 0
    # What a photo of a cosmetic area would read (the watch's photos, _watch_photo): per area
    # its untreated wrinkle index and true curve, and each cycle's peak improvement A.
    photo_truth: dict[str, tuple[float, TrueCurve, list[float]]] = field(default_factory=dict)
    watch_photos: int = 0  # photos the watch brought in (all cycles, before the cut)


@functools.lru_cache(maxsize=None)
def _date(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


_EPOCH = 738000  # 2021-07-26


def simulate_patient(rng: random.Random, variant: Variant) -> Simulated:
    weights = [s[0] for s in SCENARIOS]
    _, indication, product, areas = rng.choices(SCENARIOS, weights)[0]
    cosmetic = areas[0][0] in COSMETIC
    female_share = 0.85 if cosmetic else (0.75 if areas[0][0] == "migraine" else 0.65)  # assumption
    sex = "female" if rng.random() < female_share else "male"
    # Men often get more units (S40); some clinics dose above label (assumption).
    dose_factor = rng.choice([1.0, 1.0, 1.0, 1.25, 1.5]) if cosmetic else rng.choice([0.8, 1.0, 1.0, 1.25])
    if sex == "male" and cosmetic:
        dose_factor *= 1.25
    n_cycles = rng.choices([1, 2, 3, 4, 5, 6], [0.2, 0.2, 0.2, 0.15, 0.15, 0.1])[0]
    return_habit = rng.gauss(0.05, 0.12)  # some patients come back early, some late (assumption)

    per_area = {}
    for area, units in areas:
        prior = PRIORS.areas[area]
        per_area[area] = {
            "units": round(units * dose_factor) if units * dose_factor < 100 else round(units * dose_factor / 5) * 5,
            "person": _effect(rng, _sds(prior, variant)[0], variant.tails),
            "curve": true_curve(area, rng, variant),
            "baseline_wi": rng.uniform(0.2, 0.6),
            "baseline_fws": rng.uniform(1.6, 3.3),
            "baseline_headache": rng.uniform(15, 26),
            "baseline_score": rng.uniform(30, 55),
        }

    start = _EPOCH + 60 + rng.randrange(3000)
    treatments, observations, cycles = [], [], []
    day = start
    for j in range(n_cycles):
        cyc = {"start": day, "areas": {}}
        for area, _ in areas:
            a = per_area[area]
            prior = PRIORS.areas[area]
            mu = prior.log_median(product, a["units"], sex, j, PRIORS.dose_ratio_range) + variant.shifted
            D = math.exp(mu + a["person"] + _effect(rng, _sds(prior, variant)[1], variant.tails))
            D = max(D, a["curve"].peak + PRIORS.min_days_after_peak)
            # Peak improvements of this cycle per measure (photo index, FWS, score): assumption.
            cyc["areas"][area] = {"D": D, "own": math.exp(mu + a["person"]),
                                  "A": rng.uniform(0.3, 0.85), "A_fws": rng.uniform(0.5, 0.9),
                                  "A_score": rng.uniform(0.2, 0.5)}
        cycles.append(cyc)
        treatments.append({"date": _date(day), "product": product, "indication": indication,
                           "areas": [{"area": a, "units": per_area[a]["units"]} for a, _ in areas]})
        primary = cyc["areas"][areas[0][0]]["D"]
        if cosmetic:
            gap = primary * math.exp(return_habit + rng.gauss(0, 0.12))
            day += max(MIN_DAYS["cosmetic"], round(gap))
        else:
            day += MIN_DAYS["therapeutic"] + round(rng.expovariate(1 / 10))  # scheduled, sometimes late
    last = cycles[-1]
    primary_D = last["areas"][areas[0][0]]["D"]
    as_of = last["start"] + rng.randint(1, max(1, math.ceil(primary_D)))

    for j, cyc in enumerate(cycles):
        end = cycles[j + 1]["start"] if j + 1 < len(cycles) else as_of
        for area in cyc["areas"]:
            _observe(rng, variant, area, per_area[area], cyc, end, observations, cycles, j)

    observations = [o for o in observations if o["date"] <= _date(as_of)]
    history = {"as_of": _date(as_of), "patient": {"sex": sex}, "treatments": treatments,
               "observations": observations}
    sim = Simulated(history)
    # Kept for every variant: the watch asks by them, the reminder timing scores against them.
    sim.cycles = [(c["start"], {a: v["D"] for a, v in c["areas"].items()}) for c in cycles]
    sim.as_of = as_of
    sim.photo_truth = {a: (per_area[a]["baseline_wi"], per_area[a]["curve"], [c["areas"][a]["A"] for c in cycles])
                       for a, _ in areas if a in COSMETIC}
    for area, _ in areas:
        D = last["areas"][area]["D"]
        sim.truths.append(Truth(area, product, last["start"], last["start"] + math.ceil(D),
                                PRIORS.areas[area].median_for(product), n_cycles - 1,
                                last["areas"][area]["own"]))
    return sim


def _observe(rng, variant, area, pa, cyc, end, out, cycles, j):
    """Readings of one area in one cycle, from its treatment day up to `end`."""
    T = cyc["start"]
    this = cyc["areas"][area]
    curve = pa["curve"]
    length = end - T

    def effect(t, key):
        """Improvement (fraction of the untreated value) at day t of this cycle. On the
        treatment day, before the injections, the previous cycle's effect may linger."""
        if t > 0:
            return this[key] * curve(t, this["D"])
        if j == 0:
            return 0.0
        prev = cycles[j - 1]["areas"][area]
        return prev[key] * curve(T - cycles[j - 1]["start"], prev["D"])

    def add(t, kind, value):
        out.append({"date": _date(T + t), "area": area, "kind": kind, "value": value})

    if area in COSMETIC:
        b = pa["baseline_wi"]
        s0 = pa["baseline_fws"]

        def photo(t):
            v = b * (1 - effect(t, "A")) * (1 + rng.gauss(0, variant.photo_cv))
            add(t, "wrinkle_index", round(max(v, 0.0), 4))

        def grade(t):
            g = s0 * (1 - effect(t, "A_fws")) + rng.gauss(0, 0.35)
            add(t, "fws_grade", int(min(3, max(0, round(g)))))

        if rng.random() < 0.9:
            photo(0)
        if rng.random() < 0.7:
            grade(0)
        if rng.random() < 0.6:  # two-week review
            t = rng.randint(10, 21)
            if t <= length:
                if rng.random() < 0.9:
                    photo(t)
                if rng.random() < 0.8:
                    grade(t)
        for _ in range(_poisson(rng, variant.photos_per_cycle)):  # photos from the patient app, any time
            if length >= 1:
                photo(rng.randint(1, length))
        checkin_days = range(60, length + 1, 15)
    elif area == "migraine":
        h0 = pa["baseline_headache"]
        if rng.random() < 0.9:
            add(0, "headache_days", _headache_count(rng, h0, curve, 0, cycles, j))
        for t in (30, 60, 90):
            t += rng.randint(-5, 5)
            if t <= length and rng.random() < 0.8:
                add(t, "headache_days", _headache_count(rng, h0, curve, t, cycles, j))
        checkin_days = range(49, length + 1, 14)
    else:
        s0 = pa["baseline_score"]

        def score(t):
            add(t, "symptom_score", round(max(0.0, s0 * (1 - effect(t, "A_score")) + rng.gauss(0, 2.5)), 1))

        if rng.random() < 0.9:
            score(0)
        t = rng.randint(28, 42)
        if t <= length and rng.random() < 0.7:
            score(t)
        checkin_days = range(56, length + 1, 14)

    for t in checkin_days:
        if rng.random() < variant.checkin_answer_rate:
            answer = _answer(rng, variant, t, this["D"])  # drawn either way: the rest stays the same
            if not variant.watch:  # the watch asks on other days (_watch_checkins)
                add(t, "wearing_off_reported", answer)


def _headache_count(rng, h0, curve, t, cycles, j):
    """Headache days in the 30 days before day t of cycle j (Poisson)."""
    rate = 0.0
    this = cycles[j]["areas"]["migraine"]
    for s in range(t - 29, t + 1):
        if s > 0:
            f = this["A"] * curve(s, this["D"])
        elif j > 0:  # still under the previous cycle's tail
            prev = cycles[j - 1]["areas"]["migraine"]
            f = prev["A"] * curve(s + cycles[j]["start"] - cycles[j - 1]["start"], prev["D"])
        else:
            f = 0.0
        rate += h0 / 30 * (1 - f)
    return min(30, _poisson(rng, rate))


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def simulate(n: int, seed: int, variant: Variant) -> list[Simulated]:
    rng = random.Random(f"{seed}-{variant.seed_as or variant.name}")
    sims = [simulate_patient(rng, variant) for _ in range(n)]
    if variant.watch:
        _watch_checkins(sims, seed, variant)
    return sims


def _answer(rng: random.Random, variant: Variant, t: int, D: float) -> bool:
    """A patient's "is it wearing off?" on day t of a cycle whose true wear-off is D:
    noticed a little after the half-point, with a lag, sometimes wrongly."""
    noticed = D * math.exp(rng.gauss(0, 0.08)) + rng.uniform(0, 14)
    answer = t >= noticed
    return (not answer) if rng.random() < variant.misreport else answer


def _watch_checkins(sims: list[Simulated], seed: int, variant: Variant) -> None:
    """Add check-in answers asked on the product's schedule, cycle by cycle, for all
    patients at once (the forecasts of one step are one forecast_many call):

    - the peak check-in (the areas' earliest peak_days after the treatment);
    - the before-window check-in, CHECKIN_BEFORE_WINDOW_DAYS before book_from as forecast
      from the history up to the peak check-in (the model's own forecast, photos and
      earlier cycles included);
    - then weekly from it, each day asked only while it is before the current book_from
      and not after the current 80% interval, at most WATCH_MAX_ROUNDS, stopping after a
      "yes" for the leading area (the area with the earliest book_from) at any check-in
      of the cycle, the peak's too; every answer recomputes the forecast from the history
      up to that day (a day without an answer leaves it as it was: the photos in between
      do not move it here, as they would in the product);
    - nothing on or after the next treatment (the patient has booked), nor after the cut.

    Each message is answered with probability checkin_answer_rate, and then for every
    area of the treatment (the diary asks per area). With watch_photo_rate, a watch message
    (not the peak check-in) that is answered also brings a photo of the leading area, when
    it is a cosmetic one (with watch_photo_all_areas, of every cosmetic area of the
    treatment as well), with probability watch_photo_rate / checkin_answer_rate: its
    wrinkle index dated that day, drawn as the simulator draws every photo (_watch_photo),
    and the recompute after the answer reads it. The photos come from generators of their
    own, so the answers are drawn as in the variant named by answers_as for as long as the
    schedule is the same."""
    parsed = [parse_history(s.history) for s in sims]
    readings = []
    for h in parsed:
        obs = sorted(h.observations, key=lambda o: o.date)
        readings.append((tuple(obs), [o.date.toordinal() for o in obs]))
    rngs = [random.Random(f"{seed}-{variant.answers_as or variant.name}-{i}") for i in range(len(sims))]
    photo_rngs = [random.Random(f"{seed}-{variant.photos_as or variant.name}-photo-{i}") for i in range(len(sims))]
    other_rngs = [random.Random(f"{seed}-{variant.name}-photo-others-{i}") for i in range(len(sims))]
    photo_given_answer = variant.watch_photo_rate / variant.checkin_answer_rate
    answers: list[list[Observation]] = [[] for _ in sims]  # and the watch's photos
    said_yes: dict[int, set[str]] = {}  # this cycle's areas answered "yes" (any check-in)

    def ask(i: int, j: int, day: int, lead: str | None = None) -> dict[str, bool] | None:
        rng = rngs[i]
        if rng.random() >= variant.checkin_answer_rate:
            return None
        start, Ds = sims[i].cycles[j]
        got = {area: _answer(rng, variant, day - start, D) for area, D in Ds.items()}
        when = dt.date.fromordinal(day)
        answers[i].extend(Observation(when, area, "wearing_off_reported", yes) for area, yes in got.items())
        said_yes[i].update(area for area, yes in got.items() if yes)
        if lead in sims[i].photo_truth and photo_rngs[i].random() < photo_given_answer:
            answers[i].append(Observation(when, lead, "wrinkle_index",
                                          _watch_photo(photo_rngs[i], variant, sims[i], j, lead, day)))
            sims[i].watch_photos += 1
            if variant.watch_photo_all_areas:
                # The other areas' photos from a generator of their own, so the leading
                # area's photos and the messages bringing them are drawn as in watch_photo.
                for other in sorted(set(Ds) - {lead}):
                    if other in sims[i].photo_truth:
                        answers[i].append(Observation(when, other, "wrinkle_index", _watch_photo(
                            other_rngs[i], variant, sims[i], j, other, day)))
                        sims[i].watch_photos += 1
        return got

    def forecasts(items: list[tuple[int, int, int]]) -> list[tuple[str, int, int]]:
        """(leading area, book_from, 80% interval end) as ordinals, for each (patient,
        cycle, day) forecast from the history up to that day."""
        histories = []
        for i, j, day in items:
            obs, dates = readings[i]
            histories.append(History(dt.date.fromordinal(day), parsed[i].patient, parsed[i].treatments[:j + 1],
                                     obs[:bisect_right(dates, day)] + tuple(answers[i])))
        out = []
        for result in forecast_many(histories):
            lead = min(result.areas, key=lambda a: a.book_from)
            out.append((lead.area, lead.book_from.toordinal(), lead.wear_off_interval[1].toordinal()))
        return out

    for j in range(max(len(s.cycles) for s in sims)):
        active = [i for i, s in enumerate(sims) if len(s.cycles) > j]
        # The last day a check-in can be asked: before the next treatment, or the cut.
        last = {i: (sims[i].cycles[j + 1][0] - 1 if j + 1 < len(sims[i].cycles) else sims[i].as_of)
                for i in active}
        start_day = {}
        for i in active:
            said_yes[i] = set()
            start, Ds = sims[i].cycles[j]
            peak = start + round(min(PRIORS.areas[a].peak_days for a in Ds))
            if peak <= last[i]:
                ask(i, j, peak)
            start_day[i] = min(peak, last[i])
        state = {}
        for i, (lead, book_from, high) in zip(active, forecasts([(i, j, start_day[i]) for i in active])):
            state[i] = [book_from - CHECKIN_BEFORE_WINDOW_DAYS, 0, lead, book_from, high]  # anchor, k, ...
        waiting = active
        while waiting:
            again, recompute = [], []
            for i in waiting:
                anchor, k, lead, book_from, high = state[i]
                if lead in said_yes[i]:
                    continue  # a "yes" for the leading area (at any check-in) ends the watch
                day = anchor + WATCH_EVERY_DAYS * k
                window_open = day >= book_from and not variant.watch_past_window
                if day > last[i] or (k and (window_open or day > high or k > WATCH_MAX_ROUNDS)):
                    continue  # booked (retreated) or cut, the maintenance reminder went, or the interval passed
                state[i][1] = k + 1
                if day < start_day[i]:  # already past when it was scheduled: the product skips it
                    again.append(i)
                    continue
                got = ask(i, j, day, lead)
                if got is None:
                    again.append(i)
                elif not got[lead]:  # (a "yes" for another area may make it the leading one)
                    recompute.append((i, j, day))
                    again.append(i)
            for (i, _, _), (lead, book_from, high) in zip(recompute, forecasts(recompute)):
                state[i][2:] = [lead, book_from, high]
            waiting = again

    for sim, got in zip(sims, answers):
        sim.history["observations"] = sim.history["observations"] + [
            {"date": o.date.isoformat(), "area": o.area, "kind": o.kind, "value": o.value} for o in got]


def _watch_photo(rng: random.Random, variant: Variant, sim: Simulated, j: int, area: str, day: int) -> float:
    """The wrinkle index a photo of `area` reads on `day` of cycle j: as every simulated
    photo (_observe), the untreated value less this cycle's effect, with the variant's
    noise. Watch days fall after the treatment, so the previous cycle no longer counts."""
    baseline, curve, amplitudes = sim.photo_truth[area]
    start, Ds = sim.cycles[j]
    v = baseline * (1 - amplitudes[j] * curve(day - start, Ds[area])) * (1 + rng.gauss(0, variant.photo_cv))
    return round(max(v, 0.0), 4)


# --- scoring -------------------------------------------------------------------------------

@dataclass
class Scores:
    n: int
    mae_model: float
    mae_fixed: float
    mae_best_fixed: float
    mae_own_median: float
    coverage: float
    width: float
    by_group: dict


def score(sims: list[Simulated], priors=None) -> Scores:
    histories = [parse_history(s.history) for s in sims]
    results = forecast_many(histories, priors=priors)
    rows = []
    cut_at: list[int] = []
    for sim, result in zip(sims, results):
        by_area = {a.area: a for a in result.areas}
        as_of = dt.date.fromisoformat(sim.history["as_of"]).toordinal()
        for truth in sim.truths:
            a = by_area[truth.area]
            assert a.treatment_date.toordinal() == truth.treatment_date
            lo, hi = (d.toordinal() for d in a.wear_off_interval)
            rows.append((truth, a.wear_off_date.toordinal(), lo, hi))
            cut_at.append(as_of)

    # The best fixed interval per product and area: the median of the true wear-off days.
    true_days: dict[tuple[str, str], list[int]] = {}
    for truth, *_ in rows:
        true_days.setdefault((truth.product, truth.area), []).append(truth.wear_off_date - truth.treatment_date)
    best = {k: statistics.median_low(v) for k, v in true_days.items()}

    err_model, err_fixed, err_best, err_own, covered, widths = [], [], [], [], [], []
    groups: dict[str, list[tuple[int, int, int]]] = {}
    for (truth, mid, lo, hi), as_of in zip(rows, cut_at):
        e_model = abs(mid - truth.wear_off_date)
        e_fixed = abs(truth.treatment_date + math.ceil(truth.fixed_days) - truth.wear_off_date)
        e_best = abs(truth.treatment_date + best[truth.product, truth.area] - truth.wear_off_date)
        err_model.append(e_model)
        err_fixed.append(e_fixed)
        err_best.append(e_best)
        e_own = abs(truth.treatment_date + math.ceil(truth.own_median_days) - truth.wear_off_date)
        err_own.append(e_own)
        covered.append(lo <= truth.wear_off_date <= hi)
        widths.append(hi - lo)
        # How far into the cycle the history was cut, as a share of the true wear-off day
        # (areas other than the patient's first can be cut after theirs).
        share = min(int(5 * (as_of - truth.treatment_date) / (truth.wear_off_date - truth.treatment_date)), 5)
        cut = f"cut at: {20 * share}-{20 * share + 20}% of the cycle" if share < 5 else "cut at: after the wear-off"
        kind = "kind: cosmetic" if truth.area in COSMETIC else "kind: therapeutic"
        for g in (kind, f"area: {truth.area}", f"earlier cycles: {min(truth.cycles_before, 3)}{'+' if truth.cycles_before >= 3 else ''}",
                  cut):
            groups.setdefault(g, []).append((e_model, e_best, lo <= truth.wear_off_date <= hi, e_own))
    by_group = {
        g: (len(v), *(sum(x[i] for x in v) / len(v) for i in range(4)))
        for g, v in sorted(groups.items())
    }
    return Scores(len(rows), float(np.mean(err_model)), float(np.mean(err_fixed)), float(np.mean(err_best)),
                  float(np.mean(err_own)), float(np.mean(covered)), float(np.median(widths)), by_group)


def _checkin_counts(sims: list[Simulated]) -> tuple[float, float, float, float]:
    """Check-in answers per treatment cycle, the share of them that are "yes", the share
    of patient-area cycles with at least one "yes" (over all areas and cycles), and the
    photos the watch brought in per treatment cycle of a cosmetic treatment (the only ones
    it asks a photo of)."""
    answers = yes = cycles = cycles_with_yes = 0
    for sim in sims:
        starts = [t["date"] for t in sim.history["treatments"]]
        cycles += len(starts)
        seen = set()
        for o in sim.history["observations"]:
            if o["kind"] != "wearing_off_reported":
                continue
            answers += 1
            if o["value"]:
                yes += 1
                seen.add((o["area"], bisect_right(starts, o["date"])))
        cycles_with_yes += len(seen)
    areas_cycles = sum(len(sim.history["treatments"]) * len(sim.history["treatments"][0]["areas"]) for sim in sims)
    return (answers / cycles, yes / max(answers, 1), cycles_with_yes / areas_cycles,
            sum(sim.watch_photos for sim in sims) / max(1, sum(len(sim.cycles) for sim in sims if sim.photo_truth)))


# --- when the maintenance reminder goes ------------------------------------------------------

# What clinics do today (issue #3): a reminder "after 3 months", for every area.
FIXED_REMINDER_DAYS = 90
# More than this many days after the true wear-off is "late", before it "early" (the
# patient is asked to book while still fully treated).
OFF_BY_DAYS = 14
POLICIES = ("product", "90 days", "population median", "best fixed")


@dataclass(frozen=True)
class CycleTiming:
    """One treatment cycle, as day ordinals: the treatment, the true wear-off (the first
    day at or below half the peak, of the treatment's first area to get there), the
    earliest retreatment the product's rules allow (its earliest area), the simulated
    patient's own next treatment, and the day each policy's maintenance reminder goes."""

    start: int
    wear_off: int
    earliest_allowed: int
    next_start: int
    reminders: dict[str, int]
    kind: str = "cosmetic"  # or "therapeutic" (the treatment's first area)
    # The minimum interval the treatment-time safety check applies (touchup.core.rules:
    # the indication's when it has one, 84 days for the therapeutic ones, else the
    # product's); earliest_allowed above takes the product's (90 days) for every indication.
    label_allowed: int = 0


def _due(day: int, book_from: int, next_day: int | None) -> int | None:
    """The day the maintenance reminder goes if the forecast recomputed on `day` says the
    window opens on `book_from`, or None when the next recompute (on `next_day`) comes
    first. As the product: 10:00 on book_from, at once if the window is already open
    (reminders.sync_forecast_reminders); on the day of the next recompute it goes at 10:00,
    before that day's answer or photo."""
    due = max(book_from, day)
    return due if next_day is None or due <= next_day else None


def reminder_from_recomputes(steps: list[tuple[int, int]]) -> int:
    """The reminder day from a cycle's recomputes [(day, book_from after it)] in day order;
    after the last one the forecast stands."""
    for k, (day, book_from) in enumerate(steps):
        due = _due(day, book_from, steps[k + 1][0] if k + 1 < len(steps) else None)
        if due is not None:
            return due
    raise ValueError("no recomputes")


def reminder_timings(sims: list[Simulated]) -> list[CycleTiming]:
    """When each policy's maintenance reminder goes, for every cycle that ended in a next
    treatment (each history's last cycle is cut at a random day to score the forecast, not
    ended, so it is left out).

    The product's reminder: the forecast is recomputed on the treatment day and on every
    day the cycle has an observation (a photo, a grade, a diary, a check-in answer, "yes"
    included), from the history up to that day, as every signing and observation
    recomputes it in the product; the reminder goes on the leading area's book_from as
    forecast by the last recompute before it (_due). Recomputes are done round by round,
    all cycles of one round in one forecast_many call. A cycle's data end at the patient's
    own next treatment: when that came before the product's reminder, the reminder is the
    one the product would have sent from what it had by then."""
    parsed = [parse_history(s.history) for s in sims]
    readings, pending = [], []
    for i, (sim, h) in enumerate(zip(sims, parsed)):
        obs = tuple(sorted(h.observations, key=lambda o: o.date))
        dates = [o.date.toordinal() for o in obs]
        readings.append((obs, dates))
        for j in range(len(sim.cycles) - 1):
            start, next_start = sim.cycles[j][0], sim.cycles[j + 1][0]
            days = sorted({start, *dates[bisect_right(dates, start):bisect_left(dates, next_start)]})
            pending.append((i, j, days, 0))
    sent: dict[tuple[int, int], tuple[int, int]] = {}
    while pending:
        histories = []
        for i, j, days, k in pending:
            obs, dates = readings[i]
            histories.append(History(dt.date.fromordinal(days[k]), parsed[i].patient, parsed[i].treatments[:j + 1],
                                     obs[:bisect_right(dates, days[k])]))
        again = []
        for (i, j, days, k), result in zip(pending, forecast_many(histories)):
            book_from = min(a.book_from for a in result.areas).toordinal()
            due = _due(days[k], book_from, days[k + 1] if k + 1 < len(days) else None)
            if due is None:
                again.append((i, j, days, k + 1))
            else:
                sent[i, j] = (due, min(a.earliest_allowed for a in result.areas).toordinal())
        pending = again

    # The best fixed interval per product and area: the median of the true wear-off days.
    true_days: dict[tuple[str, str], list[int]] = {}
    for i, j in sent:
        product = parsed[i].treatments[j].product
        for area, D in sims[i].cycles[j][1].items():
            true_days.setdefault((product, area), []).append(math.ceil(D))
    best = {k: statistics.median_low(v) for k, v in true_days.items()}

    from touchup.core.catalogue import load_catalogue

    catalogue = load_catalogue()
    out = []
    for (i, j), (product_day, allowed) in sorted(sent.items()):
        start, Ds = sims[i].cycles[j]
        product = parsed[i].treatments[j].product
        interval = catalogue.min_retreatment_days(product, parsed[i].treatments[j].indication)
        out.append(CycleTiming(
            start, start + min(math.ceil(D) for D in Ds.values()), allowed, sims[i].cycles[j + 1][0],
            {"product": product_day,
             "90 days": start + FIXED_REMINDER_DAYS,
             "population median": start + min(math.ceil(PRIORS.areas[a].median_for(product)) for a in Ds),
             "best fixed": start + min(best[product, a] for a in Ds)},
            "cosmetic" if next(iter(Ds)) in COSMETIC else "therapeutic", start + interval))
    return out


def timing_stats(cycles: list[CycleTiming], policy: str) -> dict:
    """How one policy's reminders fall against the true wear-off: lateness (reminder day -
    wear-off day, negative when early), its median and mean absolute value, the shares
    more than OFF_BY_DAYS late and early, the share before the earliest allowed day, the
    days past the wear-off before the reminder (the late side only) per patient-year of
    the cycles, and the share of cycles in which the patient came back on their own on or
    before the reminder day."""
    late = [c.reminders[policy] - c.wear_off for c in cycles]
    years = sum(c.next_start - c.start for c in cycles) / 365.25
    n = len(cycles)
    return {
        "n": n,
        "median": statistics.median(late),
        "mean_abs": sum(abs(x) for x in late) / n,
        "late": sum(x > OFF_BY_DAYS for x in late) / n,
        "early": sum(x < -OFF_BY_DAYS for x in late) / n,
        "before_allowed": sum(c.reminders[policy] < c.earliest_allowed for c in cycles) / n,
        "before_label": sum(c.reminders[policy] < c.label_allowed for c in cycles) / n,
        "late_days_per_year": sum(max(0, x) for x in late) / years,
        "back_first": sum(c.next_start <= c.reminders[policy] for c in cycles) / n,
    }


def _timing_row(label: str, cycles: list[CycleTiming], policy: str) -> str:
    t = timing_stats(cycles, policy)
    return (f"| {label} | {policy} | {t['n']} | {t['median']:+.0f} | {t['mean_abs']:.1f} | {t['late']:.1%} | "
            f"{t['early']:.1%} | {t['before_allowed']:.2%} | {t['before_label']:.2%} | "
            f"{t['late_days_per_year']:.1f} | {t['back_first']:.1%} |")


def _report_timing(timings: dict[str, list[CycleTiming]]) -> None:
    print("\nWhen the maintenance reminder goes (every cycle that ended in a next treatment; "
          "late = reminder day - true wear-off day):\n")
    print(f"| variant | policy | cycles | median late (d) | mean abs (d) | > {OFF_BY_DAYS} d late "
          f"| > {OFF_BY_DAYS} d early | before earliest allowed | before the label's interval "
          "| days worn off before the reminder per patient-year | patient back first |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    shown = set()
    for name, cycles in timings.items():
        patients = VARIANTS[name].seed_as or name  # the fixed policies depend only on the patients
        for policy in POLICIES if patients not in shown else POLICIES[:1]:
            print(_timing_row(name, cycles, policy))
        shown.add(patients)
    print("\nThe same by the kind of treatment:\n")
    print(f"| variant, kind | policy | cycles | median late (d) | mean abs (d) | > {OFF_BY_DAYS} d late "
          f"| > {OFF_BY_DAYS} d early "
          "| before earliest allowed | before the label's interval | days worn off before the reminder per patient-year "
          "| patient back first |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    shown = set()
    for kind in ("cosmetic", "therapeutic"):
        for name, cycles in timings.items():
            patients = VARIANTS[name].seed_as or name
            of_kind = [c for c in cycles if c.kind == kind]
            for policy in POLICIES if (patients, kind) not in shown else POLICIES[:1]:
                print(_timing_row(f"{name}, {kind}", of_kind, policy))
            shown.add((patients, kind))


def speed(n: int, seed: int) -> dict:
    """Seconds for n histories: json.loads (the floor), parse+validate, forecast_many."""
    texts = [json.dumps(s.history) for s in simulate(n, seed, VARIANTS["base"])]
    n_obs = sum(t.count('"kind"') for t in texts)
    # Like timeit, time with the cyclic garbage collector off: building millions of small
    # objects otherwise triggers full collections whose cost grows with the heap and
    # would be charged to whichever step happens to run then.
    gc.collect()
    gc.disable()
    # Wall-clock and CPU time of this process: on a shared machine the CPU time is the
    # steadier of the two.
    clock = [(time.perf_counter(), time.process_time())]
    decoded = [json.loads(t) for t in texts]
    clock.append((time.perf_counter(), time.process_time()))
    histories = [parse_history(d) for d in decoded]
    clock.append((time.perf_counter(), time.process_time()))
    results = forecast_many(histories)
    clock.append((time.perf_counter(), time.process_time()))
    gc.enable()
    assert len(results) == n

    def spent(a, b):
        return clock[b][0] - clock[a][0], clock[b][1] - clock[a][1]

    return {"n": n, "observations": n_obs, "json_loads": spent(0, 1), "parse": spent(1, 2),
            "forecast_many": spent(2, 3), "total": spent(0, 3), "areas": sum(len(r.areas) for r in results)}


# --- recalibration ----------------------------------------------------------------------------

def _report_calibration(args, details) -> None:
    """Each variant again, forecast with the medians recalibrated (touchup.core.calibration)
    on other simulated patients of the same clinic (a different seed): what a clinic gets
    once it runs `touchup calibrate` on its own past."""
    from touchup.core.calibration import calibrate, shifts

    print("\nRecalibrated on", args.calibrate, "other histories of the same clinic:\n")
    print("| variant | median shifts found (true: shifted/all +20%) | MAE model (d) | model / best fixed "
          "| before | 80% coverage | before |")
    print("|---|---|---|---|---|---|---|")
    for name, before in details.items():
        past = [parse_history(s.history) for s in simulate(args.calibrate, args.seed + 1000, VARIANTS[name])]
        found = calibrate(past)
        priors = PRIORS.with_median_shifts(shifts(found))
        s = score(simulate(args.accuracy, args.seed, VARIANTS[name]), priors=priors)
        text = ", ".join(f"{a} {c.percent:+.0f}%" for a, c in found.items() if c.calibrated)
        print(f"| {name} | {text} | {s.mae_model:.1f} | {s.mae_model / s.mae_best_fixed:.2f} | "
              f"{before.mae_model / before.mae_best_fixed:.2f} | {s.coverage:.1%} | {before.coverage:.1%} |",
              flush=True)


# --- report --------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks forecast", description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy", type=int, default=20000, help="histories per variant (default 20000)")
    ap.add_argument("--speed", type=int, default=100000, help="histories for the speed run (default 100000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--calibrate", type=int, default=5000,
                    help="histories of the clinic's past to recalibrate the medians on (0: skip)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
    ap.add_argument("--timing", default="base,watch,watch_photo",
                    help="of those variants, the ones whose maintenance reminder days to score (default "
                         "base,watch,watch_photo; '' skips)")
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    if args.accuracy:  # 0: the speed run alone
        print(f"# touchup forecast benchmark (seed {args.seed}, {args.accuracy} histories per variant)\n")
        print("| variant | areas | MAE model (d) | MAE population median (d) | MAE best fixed (d) | model / best fixed "
              "| oracle own median / best fixed | 80% coverage | median width (d) |")
        print("|---|---|---|---|---|---|---|---|---|")
        details = {}
        asked = {}
        timings: dict[str, list[CycleTiming]] = {}
        for name in filter(None, args.variants.split(",")):
            sims = simulate(args.accuracy, args.seed, VARIANTS[name])
            asked[name] = _checkin_counts(sims)
            if name in args.timing.split(","):
                timings[name] = reminder_timings(sims)
            s = score(sims)
            del sims
            details[name] = s
            print(f"| {name} | {s.n} | {s.mae_model:.1f} | {s.mae_fixed:.1f} | {s.mae_best_fixed:.1f} | "
                  f"{s.mae_model / s.mae_best_fixed:.2f} | {s.mae_own_median / s.mae_best_fixed:.2f} | "
                  f"{s.coverage:.1%} | {s.width:.0f} |", flush=True)
        print("\nCheck-in answers in the histories (all cycles, before the cut):\n")
        print("| variant | answers per cycle | of them yes | cycles with a yes | watch photos per cosmetic cycle |")
        print("|---|---|---|---|---|")
        for name, (per_cycle, yes_share, with_yes, photos) in asked.items():
            print(f"| {name} | {per_cycle:.2f} | {yes_share:.1%} | {with_yes:.1%} | {photos:.2f} |")
        if timings:
            _report_timing(timings)
        if args.calibrate:
            _report_calibration(args, details)
        for name in ("base", "watch", "watch_photo", "watch_photo_all"):
            if name not in details:
                continue
            print(f"\n{name.capitalize()} variant by group:\n")
            print("| group | areas | MAE model (d) | MAE best fixed (d) | MAE oracle own median (d) | 80% coverage |")
            print("|---|---|---|---|---|---|")
            for g, (n, m, b, c, o) in details[name].by_group.items():
                print(f"| {g} | {n} | {m:.1f} | {b:.1f} | {o:.1f} | {c:.1%} |")
    if args.speed:
        sp = speed(args.speed, args.seed)
        print(f"\nSpeed, one core: {sp['n']} histories ({sp['areas']} area forecasts, {sp['observations']} observations)\n")
        print("| step | wall s | CPU s |")
        print("|---|---|---|")
        for key, label in (("json_loads", "floor: json.loads of the same texts"),
                           ("parse", "parse and validate (History dataclasses)"),
                           ("forecast_many", "forecast_many"),
                           ("total", "total, JSON text to forecasts")):
            print(f"| {label} | {sp[key][0]:.2f} | {sp[key][1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
