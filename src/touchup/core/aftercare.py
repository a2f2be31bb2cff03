"""The patient's aftercare for one treatment: what to do and avoid, from when until when,
and the warning signs that need urgent care. The words and times are in
data/aftercare.toml with their sources."""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from touchup.core.catalogue import DATA_DIR, KINDS, CatalogueError, load_catalogue, load_catalogue_from


@dataclass(frozen=True, slots=True)
class AftercareStep:
    instruction: str
    why: str
    source: str
    starts_at: dt.datetime
    until: dt.datetime | None  # None: from then on


@dataclass(frozen=True, slots=True)
class AftercarePlan:
    treated_at: dt.datetime
    steps: tuple[AftercareStep, ...]
    warning_signs: tuple[str, ...]  # urgent first, then the ones to call the clinic about
    urgent_signs: tuple[str, ...]
    contact_clinic_signs: tuple[str, ...]
    urgent_text: str
    source: str


_STEP_FIELDS = {"instruction", "why", "from_hours", "until_hours", "until_day", "kinds", "areas", "src"}


def read_aftercare(data_dir: Path = DATA_DIR) -> dict:
    """aftercare.toml in `data_dir`, checked: a misspelt area or kind would silently drop
    a step from every plan, a misspelt time would make it last forever."""
    with (Path(data_dir) / "aftercare.toml").open("rb") as fh:
        data = tomllib.load(fh)
    cat = load_catalogue() if Path(data_dir) == DATA_DIR else load_catalogue_from(data_dir)

    def fail(where: str, message: str) -> CatalogueError:
        return CatalogueError("aftercare.toml", where, message)

    def sources(value: object, where: str) -> None:
        if not isinstance(value, list) or not value:
            raise fail(where, "must list at least one source key")
        for s in value:
            if s not in cat.sources:
                raise fail(where, f"unknown source {s!r} (not in sources.toml)")

    def hours(value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise fail(where, f"must be a number of hours, 0 or more, got {value!r}")
        return value

    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise fail("steps", "must list at least one [[steps]]")
    for i, step in enumerate(steps):
        w = f"steps[{i}]"
        for k in step:
            if k not in _STEP_FIELDS:
                raise fail(f"{w}.{k}", "unknown field")
        for k in ("instruction", "why"):
            if not isinstance(step.get(k), str) or not step[k].strip():
                raise fail(f"{w}.{k}", "must be non-empty text")
        sources(step.get("src"), f"{w}.src")
        if ("until_hours" in step) and ("until_day" in step):
            raise fail(w, "give until_hours or until_day, not both")
        start = hours(step.get("from_hours", 0), f"{w}.from_hours")
        if "until_hours" in step and hours(step["until_hours"], f"{w}.until_hours") <= start:
            raise fail(f"{w}.until_hours", "must be after from_hours")
        if "until_day" in step and (not isinstance(step["until_day"], int) or isinstance(step["until_day"], bool)
                                    or step["until_day"] < 1):
            raise fail(f"{w}.until_day", "must be a whole number of days, 1 or more")
        for k, known in (("kinds", KINDS), ("areas", tuple(cat.areas))):
            if k in step:
                if not isinstance(step[k], list) or not step[k]:
                    raise fail(f"{w}.{k}", "must list at least one")
                for v in step[k]:
                    if v not in known:
                        raise fail(f"{w}.{k}", f"unknown {k[:-1]} {v!r}")
    signs = data.get("warning_signs")
    if not isinstance(signs, dict):
        raise fail("warning_signs", "is missing")
    for k in ("urgent", "contact_clinic"):
        if not isinstance(signs.get(k), list) or not signs[k] or not all(isinstance(x, str) for x in signs[k]):
            raise fail(f"warning_signs.{k}", "must list at least one sign")
    if not isinstance(signs.get("urgent_text"), str) or not signs["urgent_text"].strip():
        raise fail("warning_signs.urgent_text", "must be non-empty text")
    sources(signs.get("src"), "warning_signs.src")
    return data


@functools.cache
def _data() -> dict:
    return read_aftercare()


def _until(step: dict, treated_at: dt.datetime) -> dt.datetime | None:
    if "until_hours" in step:
        return treated_at + dt.timedelta(hours=step["until_hours"])
    if "until_day" in step:
        day = treated_at.date() + dt.timedelta(days=step["until_day"])
        return dt.datetime.combine(day, dt.time.min, tzinfo=treated_at.tzinfo)
    return None


def aftercare_plan(*, treated_at: dt.datetime, indication: str, areas: Iterable[str]) -> AftercarePlan:
    """The steps that apply to this treatment, in the order they start; of those that start
    together (most start at once), the one that ends soonest first, so the sheet reads as
    a timeline ("for 4 hours", "until tomorrow", "for a week"), open-ended ones last."""
    cat = load_catalogue()
    kind = cat.indications[indication].kind
    areas = set(areas) or set(cat.indications[indication].areas)
    data = _data()
    steps = []
    for step in data["steps"]:
        if "kinds" in step and kind not in step["kinds"]:
            continue
        if "areas" in step and not areas & set(step["areas"]):
            continue
        steps.append(AftercareStep(
            instruction=step["instruction"], why=step["why"], source=", ".join(step["src"]),
            starts_at=treated_at + dt.timedelta(hours=step.get("from_hours", 0)),
            until=_until(step, treated_at),
        ))
    steps.sort(key=lambda s: (s.starts_at, s.until is None, s.until or s.starts_at))
    signs = data["warning_signs"]
    return AftercarePlan(
        treated_at=treated_at, steps=tuple(steps),
        warning_signs=tuple(signs["urgent"]) + tuple(signs["contact_clinic"]),
        urgent_signs=tuple(signs["urgent"]), contact_clinic_signs=tuple(signs["contact_clinic"]),
        urgent_text=signs["urgent_text"], source=", ".join(signs["src"]),
    )
