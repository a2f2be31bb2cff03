"""The clinical catalogue: products, indications, areas, sites and protocols, read from
the TOML files in touchup/core/data and checked as they load.

    from touchup.core.catalogue import load_catalogue
    cat = load_catalogue()
    cat.products["onabotulinumtoxinA"].min_retreatment_days      -> 90
    cat.sources_of(cat.products["onabotulinumtoxinA"], "min_retreatment_days") -> ("S5", "S2")
    cat.protocols_for("glabellar_lines")                          -> (Protocol, ...)

Every clinical number is written `{ v = NUMBER, src = ["S.."] }` in the files, so a number
cannot lose its source: a bare number, an unknown source key, a protocol naming a site
that does not exist, a site outside the chart or in an area its indication does not treat
all stop the load with a CatalogueError naming the file and the place.
"""

from __future__ import annotations

import functools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

DATA_DIR = Path(__file__).with_name("data")
CHART_WIDTH, CHART_HEIGHT = 400, 500
VIEWS = ("front", "back")
KINDS = ("cosmetic", "therapeutic")


class CatalogueError(ValueError):
    """A data file is wrong; the message names the file and the place in it."""

    def __init__(self, file: str, where: str, message: str):
        self.file, self.where = file, where
        super().__init__(f"{file}: {where}: {message}")


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Dilution:
    vial_units: int
    diluent_ml: float
    units_per_0_1ml: float
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Product:
    key: str
    name: str
    brands: str
    vial_sizes_units: tuple[int, ...]
    min_retreatment_days: int
    use_within_hours: float
    standard_dilutions: tuple[Dilution, ...]
    cumulative_limit_units: float | None = None
    cumulative_window_days: int | None = None
    max_units_per_session: float | None = None
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Area:
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Indication:
    key: str
    name: str
    kind: str  # cosmetic | therapeutic
    areas: tuple[str, ...]
    labelled_products: tuple[str, ...]
    label_units: Mapping[str, float]
    max_units_per_site: Mapping[str, float]
    min_retreatment_days: int | None = None  # overrides the product's when set
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def therapeutic(self) -> bool:
        return self.kind == "therapeutic"

    @property
    def requires_doctor(self) -> bool:
        """Therapeutic uses need a doctor's sign-off on the screening."""
        return self.therapeutic


@dataclass(frozen=True, slots=True)
class Site:
    key: str
    name: str
    area: str
    view: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class ProtocolSite:
    """A site as a protocol uses it: the site's place plus this protocol's units."""

    key: str
    name: str
    area: str
    view: str
    x: float
    y: float
    units: float | None  # None: dosed per patient (no label figure per site)
    optional: bool
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Protocol:
    key: str
    name: str
    indication: str
    product: str
    sites: tuple[ProtocolSite, ...]
    split: str = "label"  # "derived": only the total is in the label (see protocols.toml)

    @property
    def total_units(self) -> float:
        """The pre-filled total: the non-optional sites that carry units."""
        return sum(s.units or 0 for s in self.sites if not s.optional)

    @property
    def max_units(self) -> float:
        return sum(s.units or 0 for s in self.sites)


@dataclass(frozen=True, slots=True)
class MuscleLimit:
    """At most `max_units` in one session into `sites` (one muscle), for one product and
    indication (data/muscle_limits.toml)."""

    indication: str
    product: str
    muscle: str
    sites: tuple[str, ...]
    max_units: float
    why: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Practice:
    """Practice numbers the rules use beyond the labels (data/practice.toml)."""

    touch_up_days: int
    other_products_window_days: int
    min_booking_window_days: int = 7
    expiry_warning_days: int = 30
    portal_booking_after_window_days: int = 28
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Catalogue:
    sources: Mapping[str, Source]
    products: Mapping[str, Product]
    areas: Mapping[str, Area]
    indications: Mapping[str, Indication]
    sites: Mapping[str, Site]
    protocols: Mapping[str, Protocol]
    practice: Practice = Practice(touch_up_days=14, other_products_window_days=120)
    muscle_limits: tuple[MuscleLimit, ...] = ()

    def protocols_for(self, indication: str, product: str | None = None) -> tuple[Protocol, ...]:
        return tuple(
            p for p in self.protocols.values()
            if p.indication == indication and (product is None or p.product == product)
        )

    def min_retreatment_days(self, product: str, indication: str) -> int:
        ind = self.indications[indication]
        return ind.min_retreatment_days or self.products[product].min_retreatment_days

    def sources_of(self, obj: Any, attribute: str) -> tuple[str, ...]:
        return tuple(getattr(obj, "sources", {}).get(attribute, ()))

    def cite(self, keys: tuple[str, ...] | list[str]) -> str:
        """"S5, S2" for findings and pages; the titles are in self.sources."""
        return ", ".join(keys)


# --- reading -------------------------------------------------------------------------

_PRODUCT_FIELDS = {
    "name", "brands", "vial_sizes_units", "min_retreatment_days", "cumulative_limit_units",
    "cumulative_window_days", "use_within_hours", "standard_dilutions", "max_units_per_session",
}
_INDICATION_FIELDS = {
    "name", "kind", "areas", "labelled_products", "label_units", "max_units_per_site", "min_retreatment_days",
}


class _Reader:
    """Reads one file's tables with the checks every field needs, naming the place."""

    def __init__(self, file: str, sources: Mapping[str, Source] | None):
        self.file = file
        self.known_sources = sources

    def fail(self, where: str, message: str) -> CatalogueError:
        return CatalogueError(self.file, where, message)

    def table(self, data: Any, where: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, "must be a table")
        return data

    def fields(self, data: dict[str, Any], allowed: set[str], where: str) -> None:
        """A misspelt key would silently drop its value (a missing limit is no limit)."""
        for key in data:
            if key not in allowed:
                raise self.fail(f"{where}.{key}", f"unknown field (expected one of {', '.join(sorted(allowed))})")

    def text(self, data: dict[str, Any], key: str, where: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "must be non-empty text")
        return value

    def src(self, value: Any, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
            raise self.fail(where, "must list at least one source key")
        if self.known_sources is not None:
            for s in value:
                if s not in self.known_sources:
                    raise self.fail(where, f"unknown source {s!r} (not in sources.toml)")
        return tuple(value)

    def number(self, value: Any, where: str, *, positive: bool = True) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"must be a number, got {value!r}")
        if positive and value <= 0:
            raise self.fail(where, f"must be more than 0, got {value!r}")
        return value

    def sourced(self, data: dict[str, Any], key: str, where: str, sources: dict[str, tuple[str, ...]],
                *, required: bool = True, positive: bool = True) -> Any:
        """A `{ v = ..., src = [...] }` value; records its sources under `key`."""
        if key not in data:
            if required:
                raise self.fail(f"{where}.{key}", "is missing")
            return None
        item = data[key]
        if not isinstance(item, dict) or set(item) != {"v", "src"}:
            raise self.fail(f"{where}.{key}", "must be written { v = ..., src = [\"S..\"] } (a number needs its source)")
        sources[key] = self.src(item["src"], f"{where}.{key}.src")
        value = item["v"]
        if isinstance(value, list):
            if not value:
                raise self.fail(f"{where}.{key}", "must not be empty")
            return tuple(self.number(v, f"{where}.{key}[{i}]", positive=positive) for i, v in enumerate(value))
        return self.number(value, f"{where}.{key}", positive=positive)


def _load(data_dir: Path, name: str) -> dict[str, Any]:
    path = data_dir / name
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CatalogueError(name, "file", f"is missing from {data_dir}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(name, "file", f"is not valid TOML: {exc}") from None


def _read_sources(data_dir: Path) -> dict[str, Source]:
    r = _Reader("sources.toml", None)
    return {
        key: Source(key, r.text(r.table(v, key), "title", key), str(v.get("url", "")))
        for key, v in _load(data_dir, "sources.toml").items()
    }


def _read_products(data_dir: Path, sources: Mapping[str, Source]) -> dict[str, Product]:
    r = _Reader("products.toml", sources)
    products = {}
    for key, raw in _load(data_dir, "products.toml").items():
        raw = r.table(raw, key)
        r.fields(raw, _PRODUCT_FIELDS, key)
        src: dict[str, tuple[str, ...]] = {}
        dilutions = []
        for i, d in enumerate(raw.get("standard_dilutions", [])):
            w = f"{key}.standard_dilutions[{i}]"
            d = r.table(d, w)
            r.fields(d, {"vial_units", "diluent_ml", "units_per_0_1ml", "src"}, w)
            dilutions.append(Dilution(
                vial_units=int(r.number(d.get("vial_units"), f"{w}.vial_units")),
                diluent_ml=r.number(d.get("diluent_ml"), f"{w}.diluent_ml"),
                units_per_0_1ml=r.number(d.get("units_per_0_1ml"), f"{w}.units_per_0_1ml"),
                sources=r.src(d.get("src"), f"{w}.src"),
            ))
            expected = d["vial_units"] / d["diluent_ml"] / 10
            if abs(expected - d["units_per_0_1ml"]) > 0.1:
                raise r.fail(w, f"{d['vial_units']} U in {d['diluent_ml']} mL is {expected:.2f} U/0.1 mL, "
                                f"not {d['units_per_0_1ml']}")
        window = r.sourced(raw, "cumulative_window_days", key, src, required=False)
        limit = r.sourced(raw, "cumulative_limit_units", key, src, required=False)
        if (window is None) != (limit is None):
            raise r.fail(key, "cumulative_limit_units and cumulative_window_days go together")
        vial_sizes = tuple(int(v) for v in r.sourced(raw, "vial_sizes_units", key, src))
        for i, d in enumerate(dilutions):
            if d.vial_units not in vial_sizes:
                raise r.fail(f"{key}.standard_dilutions[{i}].vial_units",
                             f"{d.vial_units} U is not one of the vial sizes {list(vial_sizes)}")
        products[key] = Product(
            key=key,
            name=r.text(raw, "name", key),
            brands=r.text(raw, "brands", key),
            vial_sizes_units=vial_sizes,
            min_retreatment_days=int(r.sourced(raw, "min_retreatment_days", key, src)),
            use_within_hours=r.sourced(raw, "use_within_hours", key, src),
            standard_dilutions=tuple(dilutions),
            cumulative_limit_units=limit,
            cumulative_window_days=None if window is None else int(window),
            max_units_per_session=r.sourced(raw, "max_units_per_session", key, src, required=False),
            sources=dict(src),
        )
    return products


def _read_indications(data_dir: Path, sources: Mapping[str, Source], products: Mapping[str, Product]):
    r = _Reader("indications.toml", sources)
    raw = _load(data_dir, "indications.toml")
    areas = {k: Area(k, r.text(r.table(v, f"areas.{k}"), "name", f"areas.{k}"))
             for k, v in r.table(raw.get("areas"), "areas").items()}
    indications = {}
    for key, data in r.table(raw.get("indications"), "indications").items():
        w = f"indications.{key}"
        data = r.table(data, w)
        r.fields(data, _INDICATION_FIELDS, w)
        kind = r.text(data, "kind", w)
        if kind not in KINDS:
            raise r.fail(f"{w}.kind", f"must be one of {', '.join(KINDS)}")
        ind_areas = tuple(data.get("areas") or ())
        if not ind_areas:
            raise r.fail(f"{w}.areas", "must name at least one area")
        for a in ind_areas:
            if a not in areas:
                raise r.fail(f"{w}.areas", f"unknown area {a!r}")
        labelled = tuple(data.get("labelled_products") or ())
        for p in labelled:
            if p not in products:
                raise r.fail(f"{w}.labelled_products", f"unknown product {p!r}")
        src: dict[str, tuple[str, ...]] = {}
        per_product = {}
        for table in ("label_units", "max_units_per_site"):
            values, tsrc = {}, {}
            for product in r.table(data.get(table, {}), f"{w}.{table}"):
                if product not in labelled:
                    raise r.fail(f"{w}.{table}.{product}", "is not among labelled_products")
                values[product] = r.sourced(data[table], product, f"{w}.{table}", tsrc)
            per_product[table] = values
            src.update({f"{table}.{p}": s for p, s in tsrc.items()})
        min_days = r.sourced(data, "min_retreatment_days", w, src, required=False)
        indications[key] = Indication(
            key=key, name=r.text(data, "name", w), kind=kind, areas=ind_areas, labelled_products=labelled,
            label_units=per_product["label_units"], max_units_per_site=per_product["max_units_per_site"],
            min_retreatment_days=None if min_days is None else int(min_days), sources=dict(src),
        )
    return areas, indications


def _read_sites(data_dir: Path, areas: Mapping[str, Area]) -> dict[str, Site]:
    r = _Reader("sites.toml", None)
    sites = {}
    for key, data in _load(data_dir, "sites.toml").items():
        data = r.table(data, key)
        r.fields(data, {"name", "area", "view", "x", "y"}, key)
        area = r.text(data, "area", key)
        if area not in areas:
            raise r.fail(f"{key}.area", f"unknown area {area!r}")
        view = r.text(data, "view", key)
        if view not in VIEWS:
            raise r.fail(f"{key}.view", "must be front or back")
        x = r.number(data.get("x"), f"{key}.x", positive=False)
        y = r.number(data.get("y"), f"{key}.y", positive=False)
        if not (0 <= x <= CHART_WIDTH and 0 <= y <= CHART_HEIGHT):
            raise r.fail(key, f"({x}, {y}) is outside the {CHART_WIDTH} x {CHART_HEIGHT} chart")
        sites[key] = Site(key, r.text(data, "name", key), area, view, float(x), float(y))
    return sites


def _read_protocols(data_dir: Path, sources, products, indications, sites) -> dict[str, Protocol]:
    r = _Reader("protocols.toml", sources)
    protocols = {}
    for key, data in _load(data_dir, "protocols.toml").items():
        data = r.table(data, key)
        r.fields(data, {"name", "indication", "product", "split", "sites"}, key)
        indication, product = r.text(data, "indication", key), r.text(data, "product", key)
        if indication not in indications:
            raise r.fail(f"{key}.indication", f"unknown indication {indication!r}")
        if product not in products:
            raise r.fail(f"{key}.product", f"unknown product {product!r}")
        if product not in indications[indication].labelled_products:
            # A protocol pre-fills the label's units: an off-label product has none.
            raise r.fail(f"{key}.product", f"{product} is not labelled for {indication}")
        split = data.get("split", "label")
        if split not in ("label", "derived"):
            raise r.fail(f"{key}.split", "must be label or derived")
        entries = data.get("sites") or []
        if not entries:
            raise r.fail(f"{key}.sites", "must list at least one site")
        seen = set()
        chosen = []
        for i, e in enumerate(entries):
            w = f"{key}.sites[{i}]"
            e = r.table(e, w)
            r.fields(e, {"site", "units", "optional", "src"}, w)
            site = sites.get(e.get("site"))
            if site is None:
                raise r.fail(f"{w}.site", f"unknown site {e.get('site')!r} (not in sites.toml)")
            if site.key in seen:
                raise r.fail(f"{w}.site", f"{site.key!r} is listed twice")
            seen.add(site.key)
            if site.area not in indications[indication].areas:
                raise r.fail(f"{w}.site", f"{site.key} is in {site.area}, not an area of {indication}")
            units = e.get("units")
            if units is not None:
                units = r.number(units, f"{w}.units")
            optional = e.get("optional", False)
            if not isinstance(optional, bool):
                raise r.fail(f"{w}.optional", "must be true or false")
            chosen.append(ProtocolSite(
                key=site.key, name=site.name, area=site.area, view=site.view, x=site.x, y=site.y,
                units=units, optional=optional, sources=r.src(e.get("src"), f"{w}.src"),
            ))
        proto = Protocol(key=key, name=r.text(data, "name", key), indication=indication, product=product,
                         sites=tuple(chosen), split=split)
        label = indications[indication].label_units.get(product)
        if label is not None and proto.max_units > label + 1e-9:
            raise r.fail(key, f"its sites add up to {proto.max_units:g} U, above the label's {label:g} U")
        protocols[key] = proto
    return protocols


@functools.cache
def load_catalogue() -> Catalogue:
    """The catalogue, loaded and checked once per process."""
    return load_catalogue_from(DATA_DIR)


def load_catalogue_from(data_dir: Path | str) -> Catalogue:
    """Load and check the catalogue files in `data_dir` (uncached: for tests and tools
    that check a copy of the data before it replaces the shipped files)."""
    data_dir = Path(data_dir)
    sources = _read_sources(data_dir)
    products = _read_products(data_dir, sources)
    areas, indications = _read_indications(data_dir, sources, products)
    sites = _read_sites(data_dir, areas)
    protocols = _read_protocols(data_dir, sources, products, indications, sites)
    return Catalogue(
        sources=MappingProxyType(sources), products=MappingProxyType(products), areas=MappingProxyType(areas),
        indications=MappingProxyType(indications), sites=MappingProxyType(sites),
        protocols=MappingProxyType(protocols), practice=_read_practice(data_dir, sources),
        muscle_limits=_read_muscle_limits(data_dir, sources, indications, sites),
    )


def _read_muscle_limits(data_dir, sources, indications, sites) -> tuple[MuscleLimit, ...]:
    r = _Reader("muscle_limits.toml", sources)
    raw = _load(data_dir, "muscle_limits.toml")
    r.fields(raw, {"limits"}, "file")
    limits = []
    for i, item in enumerate(raw.get("limits", [])):
        w = f"limits[{i}]"
        item = r.table(item, w)
        r.fields(item, {"indication", "product", "muscle", "sites", "max_units", "why"}, w)
        indication, product = r.text(item, "indication", w), r.text(item, "product", w)
        if indication not in indications:
            raise r.fail(f"{w}.indication", f"unknown indication {indication!r}")
        if product not in indications[indication].labelled_products:
            raise r.fail(f"{w}.product", f"{product!r} is not labelled for {indication}")
        keys = item.get("sites")
        if not isinstance(keys, list) or not keys:
            raise r.fail(f"{w}.sites", "must list at least one site")
        for k in keys:
            if k not in sites:
                raise r.fail(f"{w}.sites", f"unknown site {k!r} (not in sites.toml)")
            if sites[k].area not in indications[indication].areas:
                raise r.fail(f"{w}.sites", f"{k} is not in an area of {indication}")
        src: dict[str, tuple[str, ...]] = {}
        limits.append(MuscleLimit(
            indication=indication, product=product, muscle=r.text(item, "muscle", w), sites=tuple(keys),
            max_units=r.sourced(item, "max_units", w, src), why=r.text(item, "why", w), sources=src["max_units"],
        ))
    return tuple(limits)


def _whole_days(r: _Reader, raw: dict[str, Any], key: str, src: dict[str, tuple[str, ...]]) -> int:
    """A whole number of days, 0 allowed (0 turns the policy off)."""
    value = r.sourced(raw, key, "practice", src, positive=False)
    if value < 0 or value != int(value):
        raise r.fail(f"practice.{key}", f"must be a whole number of days, 0 or more, got {value!r}")
    return int(value)


def _read_practice(data_dir: Path, sources: Mapping[str, Source]) -> Practice:
    path = data_dir / "practice.toml"
    r = _Reader("practice.toml", sources)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise r.fail("file", "is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise r.fail("file", f"is not valid TOML: {exc}") from None
    known = {"touch_up_days", "other_products_window_days", "min_booking_window_days", "expiry_warning_days",
             "portal_booking_after_window_days"}
    for key in raw:
        if key not in known:
            raise r.fail(key, f"unknown field (expected one of {', '.join(sorted(known))})")
    src: dict[str, tuple[str, ...]] = {}
    return Practice(
        touch_up_days=int(r.sourced(raw, "touch_up_days", "practice", src)),
        other_products_window_days=int(r.sourced(raw, "other_products_window_days", "practice", src)),
        min_booking_window_days=int(r.sourced(raw, "min_booking_window_days", "practice", src)),
        expiry_warning_days=int(r.sourced(raw, "expiry_warning_days", "practice", src)),
        portal_booking_after_window_days=_whole_days(r, raw, "portal_booking_after_window_days", src),
        sources=dict(src),
    )
