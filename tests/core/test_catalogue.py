"""The clinical catalogue: what it holds (checked against clinical-facts.md) and the
loader's refusal of a bad data file, one defect at a time, with the file and the place."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from touchup.core.catalogue import (
    CHART_HEIGHT,
    CHART_WIDTH,
    DATA_DIR,
    CatalogueError,
    load_catalogue,
    load_catalogue_from,
)

CAT = load_catalogue()

PRODUCTS = {
    "onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA",
    "prabotulinumtoxinA", "daxibotulinumtoxinA", "letibotulinumtoxinA",
}
INDICATIONS = {
    "glabellar_lines": "cosmetic", "forehead_lines": "cosmetic", "lateral_canthal_lines": "cosmetic",
    "upper_face_lines": "cosmetic", "platysma_bands": "cosmetic",
    "chronic_migraine": "therapeutic", "cervical_dystonia": "therapeutic",
}
AREAS = {"glabella", "forehead", "crows_feet", "platysma", "migraine", "cervical_dystonia"}


# --- what is in it ----------------------------------------------------------------------


def test_the_six_products_seven_indications_six_areas():
    assert set(CAT.products) == PRODUCTS
    assert {k: i.kind for k, i in CAT.indications.items()} == INDICATIONS
    assert set(CAT.areas) == AREAS
    # Every area is treated by some indication, and each therapeutic one needs a doctor.
    assert set().union(*(i.areas for i in CAT.indications.values())) == AREAS
    assert {k for k, i in CAT.indications.items() if i.requires_doctor} == {"chronic_migraine", "cervical_dystonia"}


def test_load_catalogue_is_cached_and_equal_to_a_fresh_load():
    assert load_catalogue() is CAT
    fresh = load_catalogue_from(DATA_DIR)
    assert fresh is not CAT
    assert fresh.products == dict(CAT.products)
    assert fresh.protocols == dict(CAT.protocols)


@pytest.mark.parametrize("product,label", [
    ("onabotulinumtoxinA", 20), ("abobotulinumtoxinA", 50), ("incobotulinumtoxinA", 20),
    ("prabotulinumtoxinA", 20), ("daxibotulinumtoxinA", 40), ("letibotulinumtoxinA", 20),
])
def test_glabellar_protocol_is_five_sites_two_corrugators_a_side_and_procerus(product, label):
    (proto,) = CAT.protocols_for("glabellar_lines", product)
    assert CAT.indications["glabellar_lines"].label_units[product] == label
    assert len(proto.sites) == 5
    assert {s.key for s in proto.sites} == {
        "procerus", "corrugator_r_medial", "corrugator_l_medial", "corrugator_r_lateral", "corrugator_l_lateral",
    }
    assert {s.units for s in proto.sites} == {label / 5}
    assert proto.total_units == proto.max_units == label
    assert all(s.area == "glabella" and not s.optional for s in proto.sites)


@pytest.mark.parametrize("product", ["onabotulinumtoxinA", "incobotulinumtoxinA"])
def test_crows_feet_is_three_sites_a_side_24_units(product):
    (proto,) = CAT.protocols_for("lateral_canthal_lines", product)
    # The chart shows the patient's right on the viewer's left.
    right = [s for s in proto.sites if s.x < CHART_WIDTH / 2]
    left = [s for s in proto.sites if s.x > CHART_WIDTH / 2]
    assert len(right) == len(left) == 3
    assert all("_r_" in s.key for s in right) and all("_l_" in s.key for s in left)
    assert proto.total_units == 24 == CAT.indications["lateral_canthal_lines"].label_units[product]


def test_forehead_is_treated_with_the_glabella_40_units():
    for proto in CAT.protocols_for("forehead_lines"):
        areas = Counter(s.area for s in proto.sites)
        assert areas == {"forehead": 5, "glabella": 5}
        assert proto.total_units == 40


def test_upper_face_is_frown_20_forehead_20_crows_feet_24():
    for proto in CAT.protocols_for("upper_face_lines"):
        by_area = Counter()
        for s in proto.sites:
            by_area[s.area] += s.units
        assert by_area == {"glabella": 20, "forehead": 20, "crows_feet": 24}
        assert proto.total_units == 64


def _bands(proto) -> set[str]:
    return {m.group(1) for s in proto.sites if (m := re.match(r"platysma_band_([rl]\d)_\d$", s.key))}


def test_platysma_dose_follows_the_band_count_26_31_36():
    protos = sorted(CAT.protocols_for("platysma_bands", "onabotulinumtoxinA"), key=lambda p: p.total_units)
    assert [p.total_units for p in protos] == [26, 31, 36]
    assert [len(_bands(p)) for p in protos] == [2, 3, 4]
    assert _bands(protos[0]) == {"r1", "l1"}  # one band each side
    assert _bands(protos[2]) == {"r1", "r2", "l1", "l2"}  # two each side
    sides = Counter(b[0] for b in _bands(protos[1]))
    assert sorted(sides.values()) == [1, 2]  # one band one side, two the other
    for p in protos:
        # The label gives only the totals (clinical-facts §8): the split is marked derived.
        assert p.split == "derived"
        assert all(s.area == "platysma" for s in p.sites)
        assert any(s.key.startswith("platysma_jaw_") for s in p.sites)  # jawline and bands
    assert CAT.indications["platysma_bands"].label_units["onabotulinumtoxinA"] == 36


def test_chronic_migraine_31_sites_155_units_in_7_groups_up_to_195_with_follow_the_pain():
    (proto,) = CAT.protocols_for("chronic_migraine")
    fixed = [s for s in proto.sites if not s.optional]
    ftp = [s for s in proto.sites if s.optional]
    assert len(fixed) == 31 and proto.total_units == 155
    assert all(s.units == 5 for s in proto.sites)
    groups = Counter(re.match(r"cm_([a-z]+)(_|$)", s.key).group(1) for s in fixed)
    assert groups == {"corrugator": 2, "procerus": 1, "frontalis": 4, "temporalis": 8,
                      "occipitalis": 6, "paraspinal": 4, "trapezius": 6}
    assert len(ftp) == 8 and sum(s.units for s in ftp) == 40
    assert {re.match(r"cm_ftp_([a-z]+)_", s.key).group(1) for s in ftp} == {"temporalis", "occipitalis", "trapezius"}
    assert proto.max_units == 195 == CAT.indications["chronic_migraine"].label_units["onabotulinumtoxinA"]
    assert {s.view for s in proto.sites} == {"front", "back"}
    assert CAT.min_retreatment_days("onabotulinumtoxinA", "chronic_migraine") == 84


def test_cervical_dystonia_lists_the_muscles_dosed_per_patient():
    protos = CAT.protocols_for("cervical_dystonia")
    assert {p.product for p in protos} == {
        "onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA", "daxibotulinumtoxinA"}
    for p in protos:
        muscles = {re.match(r"cd_([a-z]+)_[rl]$", s.key).group(1) for s in p.sites}
        assert muscles == {"scm", "splenius", "levator", "trapezius", "scalene"}
        assert all(s.units is None for s in p.sites)  # no label figure per muscle
        assert {s.key for s in p.sites if s.optional} == {"cd_scalene_r", "cd_scalene_l"}
        assert p.total_units == 0
    cd = CAT.indications["cervical_dystonia"]
    assert cd.max_units_per_site == {"onabotulinumtoxinA": 50}
    assert cd.label_units == {"abobotulinumtoxinA": 1000, "incobotulinumtoxinA": 400, "daxibotulinumtoxinA": 250}
    assert CAT.min_retreatment_days("abobotulinumtoxinA", "cervical_dystonia") == 84


def test_product_limits_intervals_and_use_by():
    ona = CAT.products["onabotulinumtoxinA"]
    assert (ona.cumulative_limit_units, ona.cumulative_window_days) == (400, 90)
    assert CAT.sources_of(ona, "cumulative_limit_units") == ("S2", "S3", "S14")
    assert CAT.products["incobotulinumtoxinA"].max_units_per_session == 400
    for p in CAT.products.values():
        assert p.min_retreatment_days == 90
        assert CAT.min_retreatment_days(p.key, "glabellar_lines") == 90
    assert CAT.products["abobotulinumtoxinA"].use_within_hours == 4  # the shorter of two conflicting sources
    assert CAT.sources_of(CAT.products["abobotulinumtoxinA"], "use_within_hours") == ("S25",)
    assert CAT.sources_of(CAT.products["daxibotulinumtoxinA"], "use_within_hours") == ("clinic_policy",)
    assert CAT.cite(("S5", "S2")) == "S5, S2"


def test_every_number_carries_known_sources():
    known = set(CAT.sources)
    for p in CAT.products.values():
        for attr in ("vial_sizes_units", "min_retreatment_days", "use_within_hours"):
            assert CAT.sources_of(p, attr)
        assert set().union(*p.sources.values()) <= known
        for d in p.standard_dilutions:
            assert d.sources and set(d.sources) <= known
    for i in CAT.indications.values():
        for product in i.label_units:
            assert set(i.sources[f"label_units.{product}"]) <= known
        for product in i.max_units_per_site:
            assert set(i.sources[f"max_units_per_site.{product}"]) <= known
        if i.min_retreatment_days is not None:
            assert set(i.sources["min_retreatment_days"]) <= known
    for proto in CAT.protocols.values():
        for s in proto.sites:
            assert s.sources and set(s.sources) <= known


def _numbers_outside_sourced_tables(node, path="", sourced=False):
    """Every int/float in the raw file, unless it sits in a table that carries `src`."""
    if isinstance(node, dict):
        sourced = sourced or "src" in node
        for k, v in node.items():
            yield from _numbers_outside_sourced_tables(v, f"{path}.{k}", sourced)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers_outside_sourced_tables(v, f"{path}[{i}]", sourced)
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and not sourced:
        yield path


@pytest.mark.parametrize("name", ["products.toml", "indications.toml", "protocols.toml"])
def test_no_bare_number_in_the_shipped_files(name):
    raw = tomllib.loads((DATA_DIR / name).read_text())
    assert list(_numbers_outside_sourced_tables(raw)) == []


def test_shipped_dilutions_add_up():
    for p in CAT.products.values():
        for d in p.standard_dilutions:
            assert d.vial_units / d.diluent_ml / 10 == pytest.approx(d.units_per_0_1ml, abs=0.1)
            assert d.vial_units in p.vial_sizes_units


def test_sites_are_on_the_chart_in_their_area():
    for s in CAT.sites.values():
        assert 0 <= s.x <= CHART_WIDTH and 0 <= s.y <= CHART_HEIGHT
        assert s.view in ("front", "back") and s.area in AREAS
    for proto in CAT.protocols.values():
        areas = CAT.indications[proto.indication].areas
        assert all(s.area in areas for s in proto.sites)
        assert proto.product in CAT.indications[proto.indication].labelled_products
        label = CAT.indications[proto.indication].label_units.get(proto.product)
        assert label is None or proto.max_units <= label


# --- what it refuses --------------------------------------------------------------------


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _edit(data_dir: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in the copy of `name` (it must be there)."""
    path = data_dir / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1))


GLABELLAR_FIRST_SITE = '{ site = "procerus", units = 4, src = ["S2", "S3"] },'

DEFECTS = [
    pytest.param("products.toml", 'min_retreatment_days = { v = 90, src = ["S5", "S2"] }',
                 "min_retreatment_days = 90",
                 "onabotulinumtoxinA.min_retreatment_days", "needs its source", id="bare-number"),
    pytest.param("products.toml", 'min_retreatment_days = { v = 90, src = ["S5", "S2"] }',
                 'min_retreatment_days = { v = 90, src = ["S5", "S999"] }',
                 "onabotulinumtoxinA.min_retreatment_days.src", "unknown source 'S999'", id="unknown-source"),
    pytest.param("products.toml", 'min_retreatment_days = { v = 90, src = ["S5", "S2"] }',
                 "min_retreatment_days = { v = 90, src = [] }",
                 "onabotulinumtoxinA.min_retreatment_days.src", "at least one source", id="empty-source"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE, '{ site = "procerus_typo", units = 4, src = ["S2"] },',
                 "glabellar_ona_20.sites[0].site", "unknown site 'procerus_typo'", id="unknown-site"),
    pytest.param("sites.toml", "x = 200\ny = 170", "x = 200\ny = 520",
                 "procerus", "outside the 400 x 500 chart", id="site-off-chart"),
    pytest.param("sites.toml", "x = 200\ny = 170", "x = -1\ny = 170",
                 "procerus", "outside the 400 x 500 chart", id="site-off-chart-left"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE, '{ site = "frontalis_central", units = 4, src = ["S2"] },',
                 "glabellar_ona_20.sites[0].site", "in forehead, not an area of glabellar_lines", id="site-wrong-area"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE, '{ site = "procerus", units = 8, src = ["S2", "S3"] },',
                 "glabellar_ona_20", "add up to 24 U, above the label's 20 U", id="protocol-over-label"),
    pytest.param("products.toml", "{ vial_units = 100, diluent_ml = 2.5, units_per_0_1ml = 4, src = [\"S4\"] }",
                 "{ vial_units = 100, diluent_ml = 2.5, units_per_0_1ml = 5, src = [\"S4\"] }",
                 "onabotulinumtoxinA.standard_dilutions[1]", "100 U in 2.5 mL is 4.00 U/0.1 mL, not 5",
                 id="dilution-arithmetic"),
    pytest.param("products.toml", "{ vial_units = 100, diluent_ml = 2.5, units_per_0_1ml = 4, src = [\"S4\"] }",
                 "{ vial_units = 150, diluent_ml = 2.5, units_per_0_1ml = 6, src = [\"S4\"] }",
                 "onabotulinumtoxinA.standard_dilutions[1].vial_units", "not one of the vial sizes",
                 id="dilution-unknown-vial"),
    pytest.param("products.toml", 'max_units_per_session = { v = 400, src = ["S30"] }',
                 'max_units_per_sesion = { v = 400, src = ["S30"] }',
                 "incobotulinumtoxinA.max_units_per_sesion", "unknown field", id="misspelt-limit"),
    pytest.param("products.toml", 'min_retreatment_days = { v = 90, src = ["S5", "S2"] }', "",
                 "onabotulinumtoxinA.min_retreatment_days", "is missing", id="missing-number"),
    pytest.param("products.toml", "[onabotulinumtoxinA]", "stray = 1\n[onabotulinumtoxinA]",
                 "stray", "must be a table", id="not-a-table"),
    pytest.param("products.toml", 'cumulative_window_days = { v = 90, src = ["S2"] }', "",
                 "onabotulinumtoxinA", "go together", id="limit-without-window"),
    pytest.param("products.toml", 'use_within_hours = { v = 24, src = ["S4", "S10"] }',
                 'use_within_hours = { v = 0, src = ["S4", "S10"] }',
                 "onabotulinumtoxinA.use_within_hours", "more than 0", id="zero"),
    pytest.param("products.toml", 'use_within_hours = { v = 24, src = ["S4", "S10"] }',
                 'use_within_hours = { v = true, src = ["S4", "S10"] }',
                 "onabotulinumtoxinA.use_within_hours", "must be a number", id="boolean"),
    pytest.param("products.toml", 'use_within_hours = { v = 24, src = ["S4", "S10"] }',
                 'use_within_hours = { v = "24", src = ["S4", "S10"] }',
                 "onabotulinumtoxinA.use_within_hours", "must be a number", id="text-number"),
    pytest.param("products.toml", 'use_within_hours = { v = 24, src = ["S4", "S10"] }',
                 'use_within_hours = { v = 24, src = ["S4", "S10"], note = "x" }',
                 "onabotulinumtoxinA.use_within_hours", "needs its source", id="extra-key"),
    pytest.param("products.toml", 'vial_sizes_units = { v = [50, 100, 200], src = ["S4", "S10"] }',
                 'vial_sizes_units = { v = [], src = ["S4", "S10"] }',
                 "onabotulinumtoxinA.vial_sizes_units", "must not be empty", id="empty-list"),
    pytest.param("products.toml", 'brands = "Dysport"', 'brands = ""',
                 "abobotulinumtoxinA.brands", "non-empty text", id="empty-text"),
    pytest.param("indications.toml", 'kind = "therapeutic"', 'kind = "medical"',
                 "indications.chronic_migraine.kind", "cosmetic, therapeutic", id="bad-kind"),
    pytest.param("indications.toml", 'areas = ["migraine"]', 'areas = ["head"]',
                 "indications.chronic_migraine.areas", "unknown area 'head'", id="unknown-area"),
    pytest.param("indications.toml", 'areas = ["migraine"]', "areas = []",
                 "indications.chronic_migraine.areas", "at least one area", id="no-area"),
    pytest.param("indications.toml", 'labelled_products = ["onabotulinumtoxinA"]\nname = "Chronic',
                 'labelled_products = ["botox"]\nname = "Chronic',
                 "indications.chronic_migraine.labelled_products", "unknown product 'botox'", id="unknown-product"),
    pytest.param("indications.toml", 'incobotulinumtoxinA = { v = 24, src = ["S28"] }',
                 'incobotulinumtoxinA = { v = 24, src = ["S28"] }\nprabotulinumtoxinA = { v = 24, src = ["S32"] }',
                 "indications.lateral_canthal_lines.label_units.prabotulinumtoxinA", "not among labelled_products",
                 id="label-for-unlabelled-product"),
    pytest.param("indications.toml", "[indications.platysma_bands]", "[indications.platysma_bands]\nlabel = 36",
                 "indications.platysma_bands.label", "unknown field", id="indication-unknown-field"),
    pytest.param("indications.toml", "[areas.glabella]", "[areas.nothing]\nnote = 1\n[areas.glabella]",
                 "areas.nothing.name", "non-empty text", id="area-without-name"),
    pytest.param("sites.toml", 'area = "glabella"', 'area = "nose"', "procerus.area", "unknown area 'nose'",
                 id="site-unknown-area"),
    pytest.param("sites.toml", 'view = "front"', 'view = "side"', "procerus.view", "front or back",
                 id="site-unknown-view"),
    pytest.param("sites.toml", "x = 200\ny = 170", "x = 200\ny = 170\nz = 3", "procerus.z", "unknown field",
                 id="site-unknown-field"),
    pytest.param("protocols.toml", 'indication = "glabellar_lines"', 'indication = "frown"',
                 "glabellar_ona_20.indication", "unknown indication 'frown'", id="protocol-unknown-indication"),
    pytest.param("protocols.toml", 'product = "onabotulinumtoxinA"', 'product = "botox"',
                 "glabellar_ona_20.product", "unknown product 'botox'", id="protocol-unknown-product"),
    pytest.param("protocols.toml", 'indication = "lateral_canthal_lines"\nproduct = "onabotulinumtoxinA"',
                 'indication = "lateral_canthal_lines"\nproduct = "prabotulinumtoxinA"',
                 "crows_feet_ona_24.product", "not labelled for lateral_canthal_lines", id="protocol-off-label"),
    pytest.param("protocols.toml", '[glabellar_ona_20]\nname = "Frown lines, onabotulinumtoxinA 20 U (5 x 4 U)"',
                 '[glabellar_ona_20]\nname = "x"\nsplit = "guessed"',
                 "glabellar_ona_20.split", "label or derived", id="protocol-bad-split"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE,
                 '{ site = "corrugator_r_medial", units = 4, src = ["S2", "S3"] },',
                 "glabellar_ona_20.sites[1].site", "listed twice", id="site-twice"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE, '{ site = "procerus", units = 4 },',
                 "glabellar_ona_20.sites[0].src", "at least one source", id="protocol-site-without-source"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE, '{ site = "procerus", units = -4, src = ["S2"] },',
                 "glabellar_ona_20.sites[0].units", "more than 0", id="protocol-negative-units"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE,
                 '{ site = "procerus", units = 4, src = ["S2"], optional = "no" },',
                 "glabellar_ona_20.sites[0].optional", "true or false", id="protocol-optional-not-bool"),
    pytest.param("protocols.toml", GLABELLAR_FIRST_SITE, '{ site = "procerus", unit = 4, src = ["S2"] },',
                 "glabellar_ona_20.sites[0].unit", "unknown field", id="protocol-site-unknown-field"),
    pytest.param("protocols.toml", "[glabellar_abo_50]", "[empty_one]\nname = \"x\"\nindication = \"glabellar_lines\""
                 "\nproduct = \"abobotulinumtoxinA\"\nsites = []\n[glabellar_abo_50]",
                 "empty_one.sites", "at least one site", id="protocol-no-sites"),
    pytest.param("sources.toml", '[S1]\ntitle = "', '[S1]\nurl = "x"\n[S1b]\ntitle = "',
                 "S1.title", "non-empty text", id="source-without-title"),
    pytest.param("sites.toml", "[procerus]", "[procerus", "file", "not valid TOML", id="invalid-toml"),
    pytest.param("muscle_limits.toml", 'sites = ["cd_scm_r", "cd_scm_l"]', 'sites = ["cd_scm_r", "cd_scm_x"]',
                 "limits[0].sites", "unknown site 'cd_scm_x'", id="muscle-limit-unknown-site"),
    pytest.param("muscle_limits.toml", 'sites = ["cd_scm_r", "cd_scm_l"]', 'sites = ["cd_scm_r", "procerus"]',
                 "limits[0].sites", "not in an area of cervical_dystonia", id="muscle-limit-wrong-area"),
    pytest.param("muscle_limits.toml", 'max_units = { v = 100, src = ["S11"] }', "max_units = 100",
                 "limits[0].max_units", "needs its source", id="muscle-limit-bare-number"),
    pytest.param("practice.toml", "portal_booking_after_window_days = { v = 28,",
                 "portal_booking_after_window_days = { v = -3,",
                 "practice.portal_booking_after_window_days", "a whole number of days, 0 or more", id="after-window-negative"),
    pytest.param("practice.toml", "portal_booking_after_window_days = { v = 28,",
                 "portal_booking_after_window_days = { v = 2.5,",
                 "practice.portal_booking_after_window_days", "a whole number of days, 0 or more", id="after-window-fraction"),
]


@pytest.mark.parametrize("name,old,new,where,message", DEFECTS)
def test_loader_refuses_a_defect_naming_file_and_place(data_copy, name, old, new, where, message):
    _edit(data_copy, name, old, new)
    with pytest.raises(CatalogueError) as exc:
        load_catalogue_from(data_copy)
    err = exc.value
    assert (err.file, err.where) == (name, where)
    assert message in str(err)
    assert str(err).startswith(f"{name}: {where}: ")


def test_loader_refuses_a_missing_file(data_copy):
    (data_copy / "sites.toml").unlink()
    with pytest.raises(CatalogueError) as exc:
        load_catalogue_from(str(data_copy))
    assert (exc.value.file, exc.value.where) == ("sites.toml", "file")
    assert "missing" in str(exc.value)


def test_untouched_copy_loads(data_copy):
    assert set(load_catalogue_from(data_copy).protocols) == set(CAT.protocols)


def test_the_shipped_catalogue_is_read_only():
    with pytest.raises(TypeError):
        CAT.products["x"] = CAT.products["onabotulinumtoxinA"]  # type: ignore[index]
