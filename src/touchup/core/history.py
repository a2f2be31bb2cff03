"""A patient's treatment history, as read by `touchup forecast` (DESIGN.md, "History").

`parse_history(data, source)` checks a decoded JSON object field by field and returns
frozen dataclasses; `load_history(path)` reads a file first. Every problem is raised as a
`HistoryError` naming the file and a JSON-pointer-like field path, e.g.
``h.json: treatments[2].areas[0].units: must be a positive number``.

The vocabulary (products, indications, areas and which areas an indication covers) comes
from the clinical catalogue; what each observation kind means is fixed by the format:

- ``wrinkle_index``: from photos, >= 0, larger = more visible lines; only its change
  against the same area's value on the treatment day means anything.
- ``fws_grade``: the clinician's facial wrinkle scale, an integer 0-3.
- ``wearing_off_reported``: the patient's check-in answer, true or false.
- ``headache_days``: headache days in the 30 days before the date, an integer 0-30.
- ``symptom_score``: dystonia severity, >= 0, larger is worse.

An observation dated on a treatment day was taken before the injections.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEXES = ("female", "male", "other")

COSMETIC_AREAS = frozenset({"glabella", "forehead", "crows_feet", "platysma"})

# Which areas each observation kind can describe: a headache diary says nothing about
# crow's feet, a photo nothing about a dystonic neck.
KIND_AREAS: dict[str, frozenset[str]] = {
    "wrinkle_index": COSMETIC_AREAS,
    "fws_grade": COSMETIC_AREAS,
    "wearing_off_reported": COSMETIC_AREAS | {"migraine", "cervical_dystonia"},
    "headache_days": frozenset({"migraine"}),
    "symptom_score": frozenset({"cervical_dystonia"}),
}
KINDS = tuple(KIND_AREAS)


class HistoryError(ValueError):
    """Bad input: `source` (the file), `path` (the field) and what is wrong with it."""

    def __init__(self, path: str, message: str, source: str | None = None):
        super().__init__(path, message, source)
        self.path = path
        self.message = message
        self.source = source

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.path) if p]
        return ": ".join([*parts, self.message])

    def in_file(self, source: str) -> HistoryError:
        return HistoryError(self.path, self.message, source)


@dataclass(frozen=True, slots=True)
class Patient:
    sex: str  # female | male | other
    birth_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class AreaDose:
    area: str
    units: float  # product-specific potency units (never converted between products)


@dataclass(frozen=True, slots=True)
class Treatment:
    date: dt.date
    product: str
    indication: str
    areas: tuple[AreaDose, ...]


@dataclass(frozen=True, slots=True)
class Observation:
    date: dt.date
    area: str
    kind: str
    value: float | bool  # bool for wearing_off_reported, a number for the others


@dataclass(frozen=True, slots=True)
class History:
    """Treatments in date order (ties keep file order); observations as given."""

    as_of: dt.date
    patient: Patient
    treatments: tuple[Treatment, ...]
    observations: tuple[Observation, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """The names a history may use, and the areas each indication covers."""

    products: frozenset[str]
    areas: frozenset[str]
    indication_areas: dict[str, frozenset[str]]


@functools.cache
def catalogue_vocabulary() -> Vocabulary:
    from touchup.core.catalogue import load_catalogue

    cat = load_catalogue()
    return Vocabulary(
        products=frozenset(cat.products),
        areas=frozenset(cat.areas),
        indication_areas={k: frozenset(v.areas) for k, v in cat.indications.items()},
    )


# --- field readers ------------------------------------------------------------------

@functools.lru_cache(maxsize=1 << 16)
def _date_or_none(text: str) -> dt.date | None:
    # Only the calendar form YYYY-MM-DD (fromisoformat would also take 20250901, weeks...).
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _date(value: Any, path: str) -> dt.date:
    if not isinstance(value, str) or (d := _date_or_none(value)) is None:
        raise HistoryError(path, f"must be a date as YYYY-MM-DD, got {_show(value)}")
    return d


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HistoryError(path, f"must be a number, got {_show(value)}")
    return float(value)


def _object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise HistoryError(path, f"must be an object, got {_show(value)}")
    return value


def _list(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise HistoryError(path, f"must be a list, got {_show(value)}")
    return value


def _field(obj: dict, key: str, path: str) -> Any:
    try:
        return obj[key]
    except KeyError:
        raise HistoryError(_join(path, key), "missing") from None


def _name(value: Any, path: str, allowed: frozenset[str] | tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise HistoryError(path, f"unknown {what} {_show(value)}; expected one of {', '.join(sorted(allowed))}")
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    text = json.dumps(value) if value is None or isinstance(value, (bool, int, float, str)) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


# --- observation values ---------------------------------------------------------------

def _wrinkle_index(value: Any, path: str) -> float:
    v = _number(value, path)
    if v < 0:
        raise HistoryError(path, f"must be a number >= 0, got {_show(value)}")
    return v


def _fws_grade(value: Any, path: str) -> float:
    v = _number(value, path)
    if v not in (0.0, 1.0, 2.0, 3.0):
        raise HistoryError(path, f"must be an integer grade 0-3, got {_show(value)}")
    return v


def _wearing_off(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise HistoryError(path, f"must be true or false, got {_show(value)}")
    return value


def _headache_days(value: Any, path: str) -> float:
    v = _number(value, path)
    if v != int(v) or not 0 <= v <= 30:
        raise HistoryError(path, f"must be a whole number of days 0-30, got {_show(value)}")
    return v


def _symptom_score(value: Any, path: str) -> float:
    v = _number(value, path)
    if v < 0:
        raise HistoryError(path, f"must be a number >= 0, got {_show(value)}")
    return v


_VALUE_READERS = {
    "wrinkle_index": _wrinkle_index,
    "fws_grade": _fws_grade,
    "wearing_off_reported": _wearing_off,
    "headache_days": _headache_days,
    "symptom_score": _symptom_score,
}


# --- the history ----------------------------------------------------------------------

def parse_history(data: Any, source: str | None = None, vocabulary: Vocabulary | None = None) -> History:
    """Check a decoded History JSON object and return it as dataclasses.

    Raises HistoryError (with `source` as the file name) on the first problem found.
    """
    try:
        return _parse(data, vocabulary or catalogue_vocabulary())
    except HistoryError as exc:
        if source is None:
            raise
        raise exc.in_file(source) from None


def load_history(path: str | Path, vocabulary: Vocabulary | None = None) -> History:
    """Read and check one History JSON file; errors name the file as it was given."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HistoryError("", "no such file", source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError("", f"cannot read the file ({exc.__class__.__name__}: {exc})", source) from None
    return parse_history(decode_json(text, source), source, vocabulary)


def decode_json(text: str, source: str | None = None) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise HistoryError("", f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", source) from None
    except ValueError as exc:  # NaN / Infinity
        raise HistoryError("", f"not valid JSON ({exc})", source) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(data: Any, vocab: Vocabulary) -> History:
    root = _object(data, "")
    as_of = _date(_field(root, "as_of", ""), "as_of")

    p = _object(_field(root, "patient", ""), "patient")
    sex = _name(_field(p, "sex", "patient"), "patient.sex", SEXES, "sex")
    birth = p.get("birth_date")
    birth_date = None if birth is None else _date(birth, "patient.birth_date")
    if birth_date is not None and birth_date > as_of:
        raise HistoryError("patient.birth_date", f"is after as_of ({as_of.isoformat()})")
    patient = Patient(sex, birth_date)

    raw_treatments = _list(_field(root, "treatments", ""), "treatments")
    if not raw_treatments:
        raise HistoryError("treatments", "must list at least one treatment")
    treatments = []
    previous: dt.date | None = None
    treated_on: dict[tuple[dt.date, str], int] = {}
    for i, raw in enumerate(raw_treatments):
        path = f"treatments[{i}]"
        t = _object(raw, path)
        date = _date(_field(t, "date", path), f"{path}.date")
        if date > as_of:
            raise HistoryError(f"{path}.date", f"{date.isoformat()} is after as_of ({as_of.isoformat()})")
        if previous is not None and date < previous:
            raise HistoryError(
                f"{path}.date",
                f"treatments out of order: {date.isoformat()} comes after {previous.isoformat()}",
            )
        previous = date
        product = _name(_field(t, "product", path), f"{path}.product", vocab.products, "product")
        indication = _name(
            _field(t, "indication", path), f"{path}.indication", frozenset(vocab.indication_areas), "indication"
        )
        raw_areas = _list(_field(t, "areas", path), f"{path}.areas")
        if not raw_areas:
            raise HistoryError(f"{path}.areas", "must list at least one area")
        doses = []
        for j, raw_area in enumerate(raw_areas):
            apath = f"{path}.areas[{j}]"
            a = _object(raw_area, apath)
            area = _name(_field(a, "area", apath), f"{apath}.area", vocab.areas, "area")
            if area not in vocab.indication_areas[indication]:
                raise HistoryError(
                    f"{apath}.area",
                    f"{area!r} is not an area of indication {indication!r} "
                    f"(expected one of {', '.join(sorted(vocab.indication_areas[indication]))})",
                )
            units = _field(a, "units", apath)
            if isinstance(units, bool) or not isinstance(units, (int, float)) or not (
                math.isfinite(units) and units > 0
            ):
                raise HistoryError(f"{apath}.units", f"must be a positive number, got {_show(units)}")
            if (date, area) in treated_on:
                raise HistoryError(
                    f"{apath}.area",
                    f"{area!r} is already treated on {date.isoformat()} in treatments[{treated_on[date, area]}]",
                )
            treated_on[date, area] = i
            doses.append(AreaDose(area, float(units)))
        treatments.append(Treatment(date, product, indication, tuple(doses)))

    first = treatments[0].date
    raw_obs = root.get("observations", [])
    raw_obs = [] if raw_obs is None else _list(raw_obs, "observations")
    observations = []
    areas = vocab.areas
    for i, o in enumerate(raw_obs):
        # Fast path for the common, valid observation (histories can hold hundreds); any
        # doubt goes to _observation(), which says exactly what is wrong.
        if type(o) is dict:
            date, area, kind, value = (_date_or_none(o.get("date", "")) if type(o.get("date")) is str else None,
                                       o.get("area"), o.get("kind"), o.get("value"))
            if (date is not None and first <= date <= as_of and area in areas
                    and area in KIND_AREAS.get(kind, ()) and _plain_value(kind, value)):
                observations.append(Observation(date, area, kind, value if kind == "wearing_off_reported"
                                                else float(value)))
                continue
        observations.append(_observation(o, f"observations[{i}]", vocab, first, as_of))

    return History(as_of, patient, tuple(treatments), tuple(observations))


def _plain_value(kind: str, value: Any) -> bool:
    """True when `value` is certainly valid for `kind` (the _VALUE_READERS' rules)."""
    t = type(value)
    if kind == "wearing_off_reported":
        return t is bool
    if t is not int and t is not float:
        return False
    if kind == "wrinkle_index" or kind == "symptom_score":
        return 0 <= value < math.inf
    if kind == "fws_grade":
        return value in (0, 1, 2, 3)
    return 0 <= value <= 30 and value == int(value)  # headache_days


def _observation(raw: Any, path: str, vocab: Vocabulary, first: dt.date, as_of: dt.date) -> Observation:
    o = _object(raw, path)
    date = _date(_field(o, "date", path), f"{path}.date")
    if date > as_of:
        raise HistoryError(f"{path}.date", f"{date.isoformat()} is after as_of ({as_of.isoformat()})")
    if date < first:
        raise HistoryError(
            f"{path}.date", f"{date.isoformat()} is before the first treatment ({first.isoformat()})"
        )
    area = _name(_field(o, "area", path), f"{path}.area", vocab.areas, "area")
    kind = _name(_field(o, "kind", path), f"{path}.kind", KINDS, "observation kind")
    if area not in KIND_AREAS[kind]:
        raise HistoryError(f"{path}.kind", f"{kind!r} does not apply to area {area!r}")
    value = _VALUE_READERS[kind](_field(o, "value", path), f"{path}.value")
    return Observation(date, area, kind, value)
