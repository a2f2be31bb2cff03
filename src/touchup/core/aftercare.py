"""The patient's aftercare for one treatment: what to do and avoid, from when until when,
and the warning signs that need urgent care. The words and times are in
data/aftercare.toml with their sources."""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from dataclasses import dataclass
from typing import Iterable

from touchup.core.catalogue import DATA_DIR, load_catalogue


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


@functools.cache
def _data() -> dict:
    with (DATA_DIR / "aftercare.toml").open("rb") as fh:
        data = tomllib.load(fh)
    known = load_catalogue().sources
    for i, step in enumerate(data["steps"]):
        for s in step["src"]:
            if s not in known:
                raise ValueError(f"aftercare.toml: steps[{i}]: unknown source {s!r}")
        if ("until_hours" in step) and ("until_day" in step):
            raise ValueError(f"aftercare.toml: steps[{i}]: give until_hours or until_day, not both")
    return data


def _until(step: dict, treated_at: dt.datetime) -> dt.datetime | None:
    if "until_hours" in step:
        return treated_at + dt.timedelta(hours=step["until_hours"])
    if "until_day" in step:
        day = treated_at.date() + dt.timedelta(days=step["until_day"])
        return dt.datetime.combine(day, dt.time.min, tzinfo=treated_at.tzinfo)
    return None


def aftercare_plan(*, treated_at: dt.datetime, indication: str, areas: Iterable[str]) -> AftercarePlan:
    """The steps that apply to this treatment, in the order they start."""
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
    steps.sort(key=lambda s: s.starts_at)
    signs = data["warning_signs"]
    return AftercarePlan(
        treated_at=treated_at, steps=tuple(steps),
        warning_signs=tuple(signs["urgent"]) + tuple(signs["contact_clinic"]),
        urgent_signs=tuple(signs["urgent"]), contact_clinic_signs=tuple(signs["contact_clinic"]),
        urgent_text=signs["urgent_text"], source=", ".join(signs["src"]),
    )
