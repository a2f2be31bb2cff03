"""The safety check of a draft treatment: dose, interval, product, vial and screening.

    check_treatment(draft, history=[...], screening=ScreeningResult | None, today=date)
        -> [Finding, ...]   (block / warn / info; see touchup.core.findings)

Pure: everything it needs comes in as arguments, every number from the catalogue with
its source. Blocks are what the label or the patient's safety forbids (cumulative dose
over the limit, retreatment before the minimum interval, an expired or over-age vial, a
contraindication, a missing doctor's sign-off); warnings are what a clinician may do
knowingly (above the label's dose at a site, off-label product, a change of product).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from touchup.core.catalogue import Catalogue, load_catalogue
from touchup.core.dates import day_text, day_time_text
from touchup.core.findings import Finding
from touchup.core.screening import ScreeningResult

# A second session within this many days of the first, same product and area, is a
# touch-up of the same cycle, not a retreatment (data/practice.toml, with its sources).
TOUCH_UP_DAYS = load_catalogue().practice.touch_up_days


class InvalidDraft(ValueError):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class DraftInjection:
    site: str | None  # catalogue site key; None for a point placed by hand
    area: str
    units: float


@dataclass(frozen=True, slots=True)
class VialState:
    product: str
    lot: str
    expiry: dt.date
    reconstituted_at: dt.datetime | None
    now: dt.datetime


@dataclass(frozen=True, slots=True)
class DraftTreatment:
    date: dt.date
    product: str
    indication: str
    injections: tuple[DraftInjection, ...] = ()
    vial: VialState | None = None
    doctor_signoff: bool = False
    protocol: str | None = None  # the catalogue protocol the chart started from, if any

    @property
    def total_units(self) -> float:
        return sum(i.units for i in self.injections)

    def units_by_area(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i in self.injections:
            out[i.area] = out.get(i.area, 0.0) + i.units
        return out


@dataclass(frozen=True, slots=True)
class PastTreatment:
    """A signed treatment of the same patient."""

    date: dt.date
    product: str
    indication: str
    units_by_area: dict[str, float] = field(default_factory=dict)

    @property
    def total_units(self) -> float:
        return sum(self.units_by_area.values())


def _u(x: float) -> str:
    return f"{x:g}"


def _validate(draft: DraftTreatment, cat: Catalogue, today: dt.date) -> None:
    if draft.product not in cat.products:
        raise InvalidDraft("product", f"unknown product {draft.product!r}")
    if draft.indication not in cat.indications:
        raise InvalidDraft("indication", f"unknown indication {draft.indication!r}")
    if draft.date > today:
        raise InvalidDraft("treated_on", "is in the future")
    areas = cat.indications[draft.indication].areas
    for n, inj in enumerate(draft.injections):
        if (isinstance(inj.units, bool) or not isinstance(inj.units, (int, float))
                or not math.isfinite(inj.units) or inj.units <= 0):
            raise InvalidDraft(f"points[{n}].units", "must be a number more than 0")
        if inj.area not in areas:
            raise InvalidDraft(f"points[{n}].area", f"{inj.area!r} is not an area of {draft.indication}")
        if inj.site is not None and inj.site not in cat.sites:
            raise InvalidDraft(f"points[{n}].site", f"unknown site {inj.site!r}")


def _label_checks(draft: DraftTreatment, cat: Catalogue) -> Iterable[Finding]:
    ind = cat.indications[draft.indication]
    product = cat.products[draft.product]
    if draft.product not in ind.labelled_products:
        yield Finding("warn", "off_label_product",
                      f"{product.name} is not labelled for {ind.name.lower()}: this is off-label use.",
                      "label.indication", "S9")
    # Per site: the most any of this product's protocols for the indication gives there
    # (a label split wins a tie with a derived one, so the message says which it is).
    site_label: dict[str, tuple[float, bool, tuple[str, ...]]] = {}
    for proto in cat.protocols_for(draft.indication, draft.product):
        for s in proto.sites:
            if s.units is None:
                continue
            entry = (s.units, proto.split == "label", s.sources)
            if entry[:2] > site_label.get(s.key, (0.0, False, ()))[:2]:
                site_label[s.key] = entry
    site_max = ind.max_units_per_site.get(draft.product)
    for inj in draft.injections:
        if inj.site in site_label and inj.units > site_label[inj.site][0] + 1e-9:
            label, from_label, src = site_label[inj.site]
            if from_label:
                text, rule = f"is above the label's {_u(label)} U there.", "label.units_per_site"
            else:
                # The label gives only the total here (clinical-facts §8): don't call the split the label's.
                text = (f"is above the {_u(label)} U the protocol suggests there (the label gives only the "
                        f"total; this split is derived from it).")
                rule = "protocol.derived_units_per_site"
            yield Finding("warn", "above_label_site", f"{_u(inj.units)} U at {cat.sites[inj.site].name} {text}",
                          rule, cat.cite(src), site=inj.site)
        if site_max is not None and inj.units > site_max + 1e-9:
            where = cat.sites[inj.site].name if inj.site else "one point"
            yield Finding("warn", "above_max_per_site",
                          f"{_u(inj.units)} U at {where}: the label advises no more than {_u(site_max)} U per site.",
                          "label.max_units_per_site",
                          cat.cite(ind.sources[f"max_units_per_site.{draft.product}"]), site=inj.site)
    for limit in cat.muscle_limits:
        if limit.indication != draft.indication or limit.product != draft.product:
            continue
        units = sum(i.units for i in draft.injections if i.site in limit.sites)
        if units > limit.max_units + 1e-9:
            yield Finding("warn", "above_muscle_limit",
                          f"{_u(units)} U into the {limit.muscle}, above {_u(limit.max_units)} U. {limit.why}",
                          "source.max_units_per_muscle", cat.cite(limit.sources))
    label_total = ind.label_units.get(draft.product)
    proto = cat.protocols.get(draft.protocol or "")
    if (proto is not None and proto.product == draft.product and 0 < proto.max_units
            and (label_total is None or proto.max_units < label_total - 1e-9)
            and draft.total_units > proto.max_units + 1e-9):
        # The label gives several totals by pattern (platysma by band count): the protocol
        # chosen says which one applies, so 31 U on a one-band-each-side chart is above it.
        src = tuple(dict.fromkeys(k for site in proto.sites for k in site.sources))
        yield Finding("warn", "above_protocol_total",
                      f"{_u(draft.total_units)} U in this session is above the {_u(proto.max_units)} U of the "
                      f"protocol chosen ({proto.name}).",
                      "label.units_per_pattern", cat.cite(src))
    if label_total is not None and draft.total_units > label_total + 1e-9:
        yield Finding("warn", "above_label_total",
                      f"{_u(draft.total_units)} U in this session is above the label's {_u(label_total)} U of "
                      f"{product.name} for {ind.name.lower()}.",
                      "label.units_per_session", cat.cite(ind.sources[f"label_units.{draft.product}"]))
    if product.max_units_per_session is not None and draft.total_units > product.max_units_per_session + 1e-9:
        yield Finding("block", "over_session_maximum",
                      f"{_u(draft.total_units)} U of {product.name} in one session is above its maximum of "
                      f"{_u(product.max_units_per_session)} U.",
                      "label.max_units_per_session", cat.cite(product.sources["max_units_per_session"]))
    areas = draft.units_by_area()
    if ("forehead" in areas and "glabella" not in areas and draft.product == "onabotulinumtoxinA"
            and "glabella" in ind.areas):
        yield Finding("warn", "forehead_without_glabella",
                      "The label treats forehead lines together with the frown lines, to keep the brows from dropping.",
                      "label.forehead_with_glabella", "S2")


def cumulative_units(product: str, day: dt.date, history: Sequence[PastTreatment], window_days: int) -> float:
    """Units of `product` given in the window of `window_days` days ending on `day`
    (the day itself included), over all indications."""
    start = day - dt.timedelta(days=window_days - 1)
    return sum(p.total_units for p in history if p.product == product and start <= p.date <= day)


def _cumulative_checks(draft: DraftTreatment, history: Sequence[PastTreatment], cat: Catalogue) -> Iterable[Finding]:
    product = cat.products[draft.product]
    if product.cumulative_limit_units is not None and draft.injections:
        window = product.cumulative_window_days
        before = cumulative_units(draft.product, draft.date, history, window)
        total = before + draft.total_units
        if total > product.cumulative_limit_units + 1e-9:
            yield Finding("block", "cumulative_over_limit",
                          f"{_u(total)} U of {product.name} within {window} days ({_u(draft.total_units)} U now + "
                          f"{_u(before)} U before, all indications) is above the limit of "
                          f"{_u(product.cumulative_limit_units)} U.",
                          "label.cumulative_limit",
                          cat.cite(product.sources["cumulative_limit_units"] + product.sources["cumulative_window_days"]))
    window = cat.practice.other_products_window_days
    recent_other = [p for p in history if p.product != draft.product and 0 <= (draft.date - p.date).days < window]
    if recent_other and draft.injections:
        names = ", ".join(sorted({cat.products[p.product].name for p in recent_other if p.product in cat.products}))
        yield Finding("info", "other_products_recently",
                      f"Other botulinum toxin products in the last {window} days ({names}): weigh the cumulative dose.",
                      "label.cumulative_across_products", cat.cite(cat.practice.sources["other_products_window_days"]))


def _interval_checks(draft: DraftTreatment, history: Sequence[PastTreatment], cat: Catalogue) -> Iterable[Finding]:
    min_days = cat.min_retreatment_days(draft.product, draft.indication)
    ind = cat.indications[draft.indication]
    src = ind.sources.get("min_retreatment_days") or cat.products[draft.product].sources["min_retreatment_days"]
    touch_up_days = cat.practice.touch_up_days
    for area in draft.units_by_area() or dict.fromkeys(ind.areas, 0.0):
        # Every session in this area within the minimum interval: a touch-up only when all
        # of them are within TOUCH_UP_DAYS with the same product, so that touch-ups chained
        # two weeks apart cannot step past the interval.
        recent = [p for p in history if p.units_by_area.get(area, 0) > 0
                  and 0 <= (draft.date - p.date).days < min_days]
        if not recent:
            continue
        last = max(p.date for p in recent)
        first = min(p.date for p in recent)
        gap = (draft.date - last).days
        area_name = cat.areas[area].name
        same_product = all(p.product == draft.product for p in recent)
        if (draft.date - first).days <= touch_up_days and same_product:
            yield Finding("warn", "touch_up",
                          f"{area_name} was treated {gap} days ago: this is a touch-up of that cycle; its units "
                          f"count toward the same session's dose.",
                          "practice.touch_up", cat.cite(cat.practice.sources["touch_up_days"]))
            continue
        why_not = ""
        if gap <= touch_up_days:
            why_not = (" It is not a touch-up: that is the same product within "
                       f"{touch_up_days} days of the cycle's first session"
                       + (f" ({day_text(first)})." if same_product else "."))
        allowed = last + dt.timedelta(days=min_days)
        yield Finding("block", "retreatment_too_soon",
                      f"{area_name} was treated {gap} days ago ({day_text(last)}); the minimum interval is "
                      f"{min_days} days, so not before {day_text(allowed)}.{why_not}",
                      "label.min_retreatment_interval", cat.cite(src))


def _product_change(draft: DraftTreatment, history: Sequence[PastTreatment], cat: Catalogue) -> Iterable[Finding]:
    areas = set(draft.units_by_area()) or set(cat.indications[draft.indication].areas)
    earlier = [p for p in history if areas & set(p.units_by_area) and p.date <= draft.date]
    if not earlier:
        return
    last_date = max(p.date for p in earlier)
    # All sessions of that day, summed per product: the history's order must not matter.
    units: dict[str, float] = {}
    for p in earlier:
        if p.date == last_date and p.product != draft.product and p.product in cat.products:
            units[p.product] = units.get(p.product, 0.0) + p.total_units
    if units:
        before = " and ".join(f"{cat.products[k].name} ({_u(units[k])} U)" for k in sorted(units))
        yield Finding("warn", "product_changed",
                      f"Last time this patient had {before}. "
                      f"Units are not interchangeable between products: never convert, dose "
                      f"{cat.products[draft.product].name} on its own label.",
                      "label.units_not_interchangeable", "S1, S21, S30, S32, S35")


def _vial_checks(draft: DraftTreatment, cat: Catalogue) -> Iterable[Finding]:
    vial = draft.vial
    if vial is None:
        return
    if vial.product != draft.product:
        yield Finding("block", "vial_wrong_product",
                      f"Vial lot {vial.lot} is {cat.products[vial.product].name if vial.product in cat.products else vial.product}, "
                      f"not {cat.products[draft.product].name}.",
                      "vial.product", "S1")
        return
    product = cat.products[vial.product]
    if vial.expiry < vial.now.date():
        yield Finding("block", "vial_expired", f"Vial lot {vial.lot} expired on {day_text(vial.expiry)}.",
                      "vial.expiry", "clinic_policy")
    if vial.reconstituted_at is None:
        yield Finding("block", "vial_not_reconstituted",
                      f"Vial lot {vial.lot} has not been reconstituted: record the diluent first.",
                      "vial.reconstitution", cat.cite(product.sources["use_within_hours"]))
        return
    use_by = vial.reconstituted_at + dt.timedelta(hours=product.use_within_hours)
    if vial.now > use_by:
        yield Finding("block", "vial_over_age",
                      f"Vial lot {vial.lot} was reconstituted more than {_u(product.use_within_hours)} hours ago "
                      f"(use by {day_time_text(use_by)}).",
                      "vial.use_within_hours", cat.cite(product.sources["use_within_hours"]))


def _screening_checks(draft: DraftTreatment, screening: ScreeningResult | None, cat: Catalogue) -> Iterable[Finding]:
    if screening is not None:
        yield from (f for f in screening.findings if f.code != "doctor_signoff_required")
    ind = cat.indications[draft.indication]
    needs_doctor = ind.requires_doctor or bool(screening and screening.requires_doctor)
    if needs_doctor and not draft.doctor_signoff:
        yield Finding("block", "doctor_signoff_missing",
                      f"{ind.name} needs a doctor's sign-off on the screening before treatment.",
                      "screening.doctor_signoff", "clinic_policy")


def check_treatment(
    draft: DraftTreatment,
    *,
    history: Sequence[PastTreatment] = (),
    screening: ScreeningResult | None = None,
    today: dt.date,
    catalogue: Catalogue | None = None,
) -> list[Finding]:
    """All findings for the draft, blocks first. Raises InvalidDraft for input that is not
    a treatment at all (unknown product, a future date, units that are not a dose)."""
    cat = catalogue or load_catalogue()
    _validate(draft, cat, today)
    history = [p for p in history if p.date <= draft.date]
    findings = [
        *_screening_checks(draft, screening, cat),
        *_vial_checks(draft, cat),
        *_cumulative_checks(draft, history, cat),
        *_interval_checks(draft, history, cat),
        *_label_checks(draft, cat),
        *_product_change(draft, history, cat),
    ]
    order = {"block": 0, "warn": 1, "info": 2}
    return sorted(findings, key=lambda f: order[f.severity])
