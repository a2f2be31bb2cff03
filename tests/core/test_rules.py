"""The safety check of a draft treatment: every finding code with the numbers a clinician
needs in its message, the refusals of input that is not a treatment, and property tests of
the dose and interval rules."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from touchup.core.catalogue import load_catalogue
from touchup.core.findings import Finding
from touchup.core.rules import (
    TOUCH_UP_DAYS,
    DraftInjection,
    DraftTreatment,
    InvalidDraft,
    PastTreatment,
    VialState,
    check_treatment,
    cumulative_units,
)
from touchup.core.screening import evaluate_screening

CAT = load_catalogue()
TODAY = dt.date(2026, 5, 1)
NOW = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.timezone.utc)
ONA, ABO, INCO, DAXI = "onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA", "daxibotulinumtoxinA"
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def protocol_points(key: str, units: float | None = None) -> tuple[DraftInjection, ...]:
    """The protocol's non-optional sites, at its units (or `units` at each)."""
    proto = CAT.protocols[key]
    return tuple(DraftInjection(s.key, s.area, units if units is not None else s.units)
                 for s in proto.sites if not s.optional)


def glabellar(product: str = ONA, *, date: dt.date = TODAY, **kw) -> DraftTreatment:
    key = next(p.key for p in CAT.protocols_for("glabellar_lines", product))
    return DraftTreatment(date=date, product=product, indication="glabellar_lines",
                          injections=protocol_points(key), **kw)


def past(days_ago: int, product: str = ONA, indication: str = "glabellar_lines", **units: float) -> PastTreatment:
    return PastTreatment(date=TODAY - dt.timedelta(days=days_ago), product=product, indication=indication,
                         units_by_area=units or {"glabella": 20.0})


def vial(product: str = ONA, *, expiry=dt.date(2027, 1, 1), reconstituted_hours_ago: float | None = 1,
         now: dt.datetime = NOW) -> VialState:
    rec = None if reconstituted_hours_ago is None else now - dt.timedelta(hours=reconstituted_hours_ago)
    return VialState(product=product, lot="LOT42", expiry=expiry, reconstituted_at=rec, now=now)


def check(draft, **kw) -> list[Finding]:
    return check_treatment(draft, today=kw.pop("today", TODAY), **kw)


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def only(findings, code) -> Finding:
    (f,) = [f for f in findings if f.code == code]
    return f


def no_answers(indication: str, **yes: str) -> dict:
    from touchup.core.screening import questions_for
    return {q.key: {"answer": q.key in yes, "details": yes.get(q.key, "")} for q in questions_for(indication)}


# --- a clean treatment ----------------------------------------------------------------


@pytest.mark.parametrize("product", sorted(p.product for p in CAT.protocols_for("glabellar_lines")))
def test_label_glabellar_treatment_with_a_fresh_vial_has_no_findings(product):
    draft = glabellar(product, vial=vial(product))
    screening = evaluate_screening(no_answers("glabellar_lines"), "glabellar_lines")
    assert check(draft, screening=screening) == []


@pytest.mark.parametrize("key", sorted(CAT.protocols))
def test_every_protocol_at_its_own_units_raises_no_dose_warning(key):
    proto = CAT.protocols[key]
    points = tuple(DraftInjection(s.key, s.area, s.units or 10) for s in proto.sites)
    draft = DraftTreatment(date=TODAY, product=proto.product, indication=proto.indication,
                           injections=points, doctor_signoff=True)
    assert [f for f in check(draft) if f.code.startswith("above_")] == []


# --- dose ------------------------------------------------------------------------------


def test_above_label_at_a_site_names_the_units_the_site_and_the_label():
    points = list(protocol_points("glabellar_ona_20"))
    points[0] = DraftInjection("procerus", "glabella", 6)
    f = only(check(DraftTreatment(TODAY, ONA, "glabellar_lines", tuple(points))), "above_label_site")
    assert f.severity == "warn" and f.site == "procerus"
    assert f.message == "6 U at Procerus is above the label's 4 U there."
    assert (f.rule, f.source) == ("label.units_per_site", "S2, S3")


def test_above_a_derived_split_says_the_label_gives_only_the_total():
    points = list(protocol_points("platysma_ona_26"))
    points[0] = DraftInjection("platysma_band_r1_1", "platysma", 3.5)
    f = only(check(DraftTreatment(TODAY, ONA, "platysma_bands", tuple(points))), "above_label_site")
    assert "3.5 U at Right inner band, point 1" in f.message
    assert "3 U the protocol suggests" in f.message and "label gives only the total" in f.message
    assert f.rule == "protocol.derived_units_per_site"


def test_above_the_label_total_names_session_units_label_and_product():
    points = protocol_points("glabellar_ona_20") + (DraftInjection(None, "glabella", 2),)
    f = only(check(DraftTreatment(TODAY, ONA, "glabellar_lines", points)), "above_label_total")
    assert f.severity == "warn"
    assert f.message == "22 U in this session is above the label's 20 U of onabotulinumtoxinA for glabellar (frown) lines."
    assert f.source == "S1, S2"


def test_above_the_per_site_maximum_for_cervical_dystonia():
    draft = DraftTreatment(TODAY, ONA, "cervical_dystonia", (
        DraftInjection("cd_scm_r", "cervical_dystonia", 60),
        DraftInjection(None, "cervical_dystonia", 55),
        DraftInjection("cd_splenius_l", "cervical_dystonia", 50),
    ), doctor_signoff=True)
    found = [f for f in check(draft) if f.code == "above_max_per_site"]
    assert [f.message for f in found] == [
        "60 U at Sternocleidomastoid, right: the label advises no more than 50 U per site.",
        "55 U at one point: the label advises no more than 50 U per site.",
    ]
    assert [f.site for f in found] == ["cd_scm_r", None]
    assert {f.source for f in found} == {"S10"}


def test_incobotulinumtoxinA_over_400_units_in_a_session_blocks():
    points = tuple(DraftInjection(s, "cervical_dystonia", 45) for s in
                   ("cd_scm_r", "cd_scm_l", "cd_splenius_l", "cd_splenius_r", "cd_levator_l",
                    "cd_levator_r", "cd_trapezius_l", "cd_trapezius_r", "cd_scalene_r"))  # 405 U
    found = check(DraftTreatment(TODAY, INCO, "cervical_dystonia", points, doctor_signoff=True))
    f = only(found, "over_session_maximum")
    assert f.severity == "block"
    assert f.message == "405 U of incobotulinumtoxinA in one session is above its maximum of 400 U."
    assert f.source == "S30"
    assert "above_label_total" in codes(found)  # the label's 400 U for cervical dystonia too
    at_limit = points[:-1] + (DraftInjection("cd_scalene_r", "cervical_dystonia", 40),)
    assert "over_session_maximum" not in codes(check(DraftTreatment(TODAY, INCO, "cervical_dystonia", at_limit,
                                                                    doctor_signoff=True)))


def test_off_label_product_warns():
    draft = DraftTreatment(TODAY, "prabotulinumtoxinA", "lateral_canthal_lines",
                           (DraftInjection("orbicularis_r_upper", "crows_feet", 4),))
    f = only(check(draft), "off_label_product")
    assert f.severity == "warn"
    assert f.message == "prabotulinumtoxinA is not labelled for crow's feet (lateral canthal lines): this is off-label use."


def test_forehead_without_glabella_warns_for_onabotulinumtoxinA():
    forehead = tuple(p for p in protocol_points("forehead_ona_40") if p.area == "forehead")
    f = only(check(DraftTreatment(TODAY, ONA, "forehead_lines", forehead)), "forehead_without_glabella")
    assert f.severity == "warn" and "frown lines" in f.message and f.source == "S2"
    with_glabella = protocol_points("forehead_ona_40")
    assert "forehead_without_glabella" not in codes(check(DraftTreatment(TODAY, ONA, "forehead_lines", with_glabella)))
    inco = tuple(p for p in protocol_points("forehead_inco_40") if p.area == "forehead")
    assert "forehead_without_glabella" not in codes(check(DraftTreatment(TODAY, INCO, "forehead_lines", inco)))


# --- cumulative dose -------------------------------------------------------------------


def test_cumulative_over_400_units_in_90_days_blocks_across_indications():
    history = [past(60, ONA, "cervical_dystonia", cervical_dystonia=250.0)]
    draft = DraftTreatment(TODAY, ONA, "chronic_migraine", protocol_points("chronic_migraine_ona_155"),
                           doctor_signoff=True)
    f = only(check(draft, history=history), "cumulative_over_limit")
    assert f.severity == "block"
    assert f.message == ("405 U of onabotulinumtoxinA within 90 days (155 U now + 250 U before, all indications) "
                         "is above the limit of 400 U.")
    assert f.source == "S2, S3, S14, S2"
    assert "cumulative_over_limit" not in codes(check(draft, history=[past(90, ONA, "cervical_dystonia",
                                                                           cervical_dystonia=250.0)]))


def test_cumulative_window_includes_day_one_and_the_day_itself():
    history = [past(0, ONA, cervical_dystonia=10.0), past(89, ONA, cervical_dystonia=20.0),
               past(90, ONA, cervical_dystonia=40.0), past(3, ABO, cervical_dystonia=80.0),
               past(-1, ONA, cervical_dystonia=160.0)]
    assert cumulative_units(ONA, TODAY, history, 90) == 30


def test_other_products_recently_is_information():
    history = [past(100, ABO, "cervical_dystonia", cervical_dystonia=500.0),
               past(30, DAXI, "cervical_dystonia", cervical_dystonia=100.0),
               past(200, INCO, "cervical_dystonia", cervical_dystonia=100.0),
               past(10, "rimabotulinumtoxinB", "cervical_dystonia", cervical_dystonia=5000.0)]
    f = only(check(glabellar(ONA), history=history), "other_products_recently")
    assert f.severity == "info"
    assert f.message == ("Other botulinum toxin products in the last 120 days (abobotulinumtoxinA, "
                         "daxibotulinumtoxinA): weigh the cumulative dose.")
    empty = DraftTreatment(TODAY, ONA, "glabellar_lines")
    assert "other_products_recently" not in codes(check(empty, history=history))


# --- intervals -------------------------------------------------------------------------


def test_retreatment_too_soon_blocks_with_the_dates():
    f = only(check(glabellar(ONA), history=[past(60, ONA)]), "retreatment_too_soon")
    assert f.severity == "block"
    assert f.message == ("Glabella (frown lines) was treated 60 days ago (2 Mar 2026); the minimum interval is "
                         "90 days, so not before 31 May 2026.")
    assert f.source == "S5, S2"
    assert "retreatment_too_soon" not in codes(check(glabellar(ONA), history=[past(90, ONA)]))


def test_therapeutic_interval_is_12_weeks_with_its_source():
    draft = DraftTreatment(TODAY, ONA, "chronic_migraine", protocol_points("chronic_migraine_ona_155"),
                           doctor_signoff=True)
    f = only(check(draft, history=[past(83, ONA, "chronic_migraine", migraine=155.0)]), "retreatment_too_soon")
    assert "minimum interval is 84 days" in f.message and f.source == "S19, S14"
    assert check(draft, history=[past(84, ONA, "chronic_migraine", migraine=155.0)]) == []


def test_touch_up_within_two_weeks_same_product_warns():
    f = only(check(glabellar(ONA), history=[past(TOUCH_UP_DAYS, ONA)]), "touch_up")
    assert f.severity == "warn"
    assert f.message == ("Glabella (frown lines) was treated 14 days ago: this is a touch-up of that cycle; its "
                         "units count toward the same session's dose.")
    assert "retreatment_too_soon" in codes(check(glabellar(ONA), history=[past(TOUCH_UP_DAYS + 1, ONA)]))


def test_touch_up_with_another_product_is_a_retreatment():
    found = check(glabellar(ONA), history=[past(7, ABO, glabella=50.0)])
    f = only(found, "retreatment_too_soon")
    assert "It is not a touch-up: that is the same product within 14 days of the cycle's first session." in f.message
    assert "touch_up" not in codes(found)
    changed = only(found, "product_changed")
    assert changed.message == ("Last time this patient had abobotulinumtoxinA (50 U). Units are not interchangeable "
                               "between products: never convert, dose onabotulinumtoxinA on its own label.")


def test_chained_touch_ups_cannot_step_past_the_interval():
    # Full treatment 20 days ago, touch-up 10 days ago: today is not a third session of that cycle.
    history = [past(20, ONA), past(10, ONA, glabella=4.0)]
    f = only(check(glabellar(ONA), history=history), "retreatment_too_soon")
    assert "treated 10 days ago (21 Apr 2026)" in f.message
    assert "not before 20 Jul 2026" in f.message
    assert "cycle's first session (11 Apr 2026)" in f.message


def test_interval_with_no_points_yet_checks_every_area_of_the_indication():
    empty = DraftTreatment(TODAY, ONA, "forehead_lines")
    found = check(empty, history=[past(30, ONA, "glabellar_lines")])
    assert codes(found) == ["retreatment_too_soon"]
    assert "Glabella" in found[0].message


def test_history_after_the_draft_is_ignored():
    draft = glabellar(ONA, date=TODAY - dt.timedelta(days=30))
    assert check(draft, history=[past(0, ONA), past(10, ABO)]) == []


# --- product change --------------------------------------------------------------------


def test_product_change_warns_even_when_the_interval_is_kept():
    f = only(check(glabellar(INCO), history=[past(200, ONA), past(120, ONA)]), "product_changed")
    assert f.severity == "warn"
    assert "Last time this patient had onabotulinumtoxinA (20 U)" in f.message
    assert "never convert" in f.message and "incobotulinumtoxinA on its own label" in f.message
    assert "product_changed" not in codes(check(glabellar(INCO), history=[past(300, ONA), past(120, INCO)]))
    assert "product_changed" not in codes(check(glabellar(INCO), history=[past(120, "unknown_toxin")]))


def test_product_change_names_every_product_of_the_last_session():
    history = [past(120, INCO), past(120, ABO, glabella=50.0), past(120, ONA)]
    f = only(check(glabellar(ONA), history=history), "product_changed")
    assert f.message.startswith("Last time this patient had abobotulinumtoxinA (50 U) and incobotulinumtoxinA (20 U).")


# --- vials -----------------------------------------------------------------------------


def test_vial_of_another_product_blocks_and_stops_the_vial_checks():
    found = check(glabellar(ONA, vial=vial(ABO, expiry=dt.date(2020, 1, 1))))
    assert codes(found) == ["vial_wrong_product"]
    assert found[0].message == "Vial lot LOT42 is abobotulinumtoxinA, not onabotulinumtoxinA."
    unknown = check(glabellar(ONA, vial=vial("mystery")))
    assert unknown[0].message == "Vial lot LOT42 is mystery, not onabotulinumtoxinA."


def test_expired_vial_blocks_and_the_expiry_day_itself_is_usable():
    f = only(check(glabellar(ONA, vial=vial(expiry=dt.date(2026, 4, 30)))), "vial_expired")
    assert f.severity == "block" and f.message == "Vial lot LOT42 expired on 30 Apr 2026."
    assert check(glabellar(ONA, vial=vial(expiry=dt.date(2026, 5, 1)))) == []
    # Dates read as every page writes them: "5 Apr", not "05 Apr".
    f = only(check(glabellar(ONA, vial=vial(expiry=dt.date(2026, 4, 5)))), "vial_expired")
    assert f.message == "Vial lot LOT42 expired on 5 Apr 2026."


def test_vial_not_reconstituted_blocks():
    f = only(check(glabellar(ONA, vial=vial(reconstituted_hours_ago=None))), "vial_not_reconstituted")
    assert f.severity == "block" and "record the diluent first" in f.message


@pytest.mark.parametrize("product,hours", [(ONA, 24), (ABO, 4), (DAXI, 24)])
def test_vial_over_its_use_by_time_blocks(product, hours):
    draft = glabellar(product, vial=vial(product, reconstituted_hours_ago=hours + 0.5))
    f = only(check(draft), "vial_over_age")
    assert f.severity == "block"
    assert f"reconstituted more than {hours} hours ago" in f.message
    use_by = NOW - dt.timedelta(hours=0.5)
    assert f"use by {use_by.day} {use_by:%b %H:%M}" in f.message
    assert check(glabellar(product, vial=vial(product, reconstituted_hours_ago=hours))) == []


# --- screening -------------------------------------------------------------------------


def test_screening_findings_pass_through_with_their_severity():
    screening = evaluate_screening(no_answers("glabellar_lines", toxin_allergy="Rash after Dysport",
                                              bleeding_risk=""), "glabellar_lines")
    found = check(glabellar(ONA), screening=screening)
    assert codes(found) == ["screening_toxin_allergy", "screening_bleeding_risk"]
    assert [f.severity for f in found] == ["block", "warn"]
    assert "Patient said: Rash after Dysport" in found[0].message


@pytest.mark.parametrize("indication,key", [("chronic_migraine", "chronic_migraine_ona_155"),
                                            ("cervical_dystonia", None)])
def test_therapeutic_treatment_needs_the_doctor_signoff(indication, key):
    points = protocol_points(key) if key else (DraftInjection("cd_scm_r", "cervical_dystonia", 30),)
    draft = DraftTreatment(TODAY, ONA, indication, points)
    screening = evaluate_screening(no_answers(indication), indication)
    found = check(draft, screening=screening)
    assert codes(found) == ["doctor_signoff_missing"]  # the screening's info note is not repeated
    assert found[0].severity == "block"
    assert found[0].message.endswith("needs a doctor's sign-off on the screening before treatment.")
    assert codes(check(draft)) == ["doctor_signoff_missing"]  # also without a screening on file
    signed = DraftTreatment(TODAY, ONA, indication, points, doctor_signoff=True)
    assert check(signed, screening=screening) == []


def test_findings_come_blocks_first():
    draft = glabellar(ONA, vial=vial(expiry=dt.date(2020, 1, 1)))
    found = check(draft, history=[past(100, ABO, glabella=50.0), past(30, DAXI, cervical_dystonia=100.0)])
    order = {"block": 0, "warn": 1, "info": 2}
    assert [order[f.severity] for f in found] == sorted(order[f.severity] for f in found)
    assert codes(found) == ["vial_expired", "product_changed", "other_products_recently"]


# --- input that is not a treatment -----------------------------------------------------


@pytest.mark.parametrize("draft,field,message", [
    (DraftTreatment(TODAY, "botox", "glabellar_lines"), "product", "unknown product 'botox'"),
    (DraftTreatment(TODAY, ONA, "frown"), "indication", "unknown indication 'frown'"),
    (DraftTreatment(TODAY + dt.timedelta(days=1), ONA, "glabellar_lines"), "treated_on", "is in the future"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("procerus", "glabella", 4),
                                                     DraftInjection("procerus", "glabella", 0))),
     "points[1].units", "must be a number more than 0"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("procerus", "glabella", -4),)),
     "points[0].units", "must be a number more than 0"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("procerus", "glabella", float("nan")),)),
     "points[0].units", "must be a number more than 0"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("procerus", "glabella", float("inf")),)),
     "points[0].units", "must be a number more than 0"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("procerus", "glabella", "4"),)),
     "points[0].units", "must be a number more than 0"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("procerus", "glabella", True),)),
     "points[0].units", "must be a number more than 0"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("cm_trapezius_l1", "migraine", 5),)),
     "points[0].area", "'migraine' is not an area of glabellar_lines"),
    (DraftTreatment(TODAY, ONA, "glabellar_lines", (DraftInjection("nose_tip", "glabella", 4),)),
     "points[0].site", "unknown site 'nose_tip'"),
])
def test_invalid_draft_names_the_field(draft, field, message):
    with pytest.raises(InvalidDraft) as exc:
        check(draft)
    assert (exc.value.field, exc.value.message) == (field, message)
    assert str(exc.value) == message


def test_a_finding_refuses_an_unknown_severity():
    with pytest.raises(ValueError, match="severity"):
        Finding("fatal", "x", "y", "z", "S1")


def test_catalogue_can_be_passed_in():
    assert check_treatment(glabellar(ONA), today=TODAY, catalogue=CAT) == []


# --- properties of the dose and interval rules -----------------------------------------

units_st = st.integers(min_value=1, max_value=400).map(float) | st.sampled_from([0.5, 2.5, 7.5, 12.25])
ona_history_st = st.lists(
    st.tuples(st.integers(min_value=0, max_value=200), units_st),
    max_size=6,
).map(lambda rows: [past(d, ONA, "cervical_dystonia", cervical_dystonia=u) for d, u in rows])


def migraine_draft(units: float, n: int = 4) -> DraftTreatment:
    sites = [s.key for s in CAT.protocols["chronic_migraine_ona_155"].sites][:n]
    return DraftTreatment(TODAY, ONA, "chronic_migraine",
                          tuple(DraftInjection(k, "migraine", units / n) for k in sites), doctor_signoff=True)


def blocked_cumulative(units: float, history) -> bool:
    return "cumulative_over_limit" in codes(check(migraine_draft(units), history=history))


@PROPS
@given(units=units_st, history=ona_history_st)
def test_cumulative_blocks_iff_the_window_total_is_above_the_limit(units, history):
    before = sum(p.total_units for p in history if (TODAY - p.date).days < 90)
    assert cumulative_units(ONA, TODAY, history, 90) == pytest.approx(before)
    assert blocked_cumulative(units, history) == (before + units > 400)


@PROPS
@given(a=units_st, b=units_st, history=ona_history_st)
def test_cumulative_block_is_monotone_in_the_units_added(a, b, history):
    low, high = sorted((a, b))
    if blocked_cumulative(low, history):
        assert blocked_cumulative(high, history)


@PROPS
@given(before=st.integers(min_value=0, max_value=400))
def test_cumulative_never_blocks_at_the_limit_and_always_just_above(before):
    history = [past(30, ONA, "cervical_dystonia", cervical_dystonia=float(before))] if before else []
    room = 400 - before
    if room > 0:
        assert not blocked_cumulative(room, history)
    assert blocked_cumulative(room + 0.5, history)


cosmetic_products = sorted(CAT.indications["glabellar_lines"].labelled_products)


@PROPS
@given(gap=st.integers(min_value=0, max_value=200), before=st.sampled_from(cosmetic_products),
       now=st.sampled_from(cosmetic_products))
def test_retreatment_blocks_iff_sooner_than_the_interval_outside_the_touch_up_window(gap, before, now):
    found = codes(check(glabellar(now), history=[past(gap, before, glabella=10.0)]))
    min_days = CAT.min_retreatment_days(now, "glabellar_lines")
    touch_up = gap <= TOUCH_UP_DAYS and before == now
    assert ("retreatment_too_soon" in found) == (gap < min_days and not touch_up)
    assert ("touch_up" in found) == touch_up


@PROPS
@given(gap=st.integers(min_value=0, max_value=150), product=st.sampled_from(
    sorted(CAT.indications["cervical_dystonia"].labelled_products)))
def test_therapeutic_retreatment_follows_the_indication_interval(gap, product):
    draft = DraftTreatment(TODAY, product, "cervical_dystonia",
                           (DraftInjection("cd_scm_r", "cervical_dystonia", 20),), doctor_signoff=True)
    found = codes(check(draft, history=[past(gap, product, "cervical_dystonia", cervical_dystonia=20.0)]))
    assert ("retreatment_too_soon" in found) == (TOUCH_UP_DAYS < gap < 84)


@PROPS
@given(gaps=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=5))
def test_touch_up_only_when_the_whole_cycle_is_within_the_touch_up_window(gaps):
    found = codes(check(glabellar(ONA), history=[past(g, ONA, glabella=4.0) for g in gaps]))
    in_interval = [g for g in gaps if g < 90]
    assert ("touch_up" in found) == (bool(in_interval) and max(in_interval) <= TOUCH_UP_DAYS)
    assert ("retreatment_too_soon" in found) == (bool(in_interval) and max(in_interval) > TOUCH_UP_DAYS)


@PROPS
@given(site_units=st.lists(st.sampled_from([1.0, 2.0, 3.5, 4.0, 4.5, 6.0, 10.0]), min_size=5, max_size=5),
       product=st.sampled_from(cosmetic_products))
def test_label_warnings_iff_above_the_label(site_units, product):
    (proto,) = CAT.protocols_for("glabellar_lines", product)
    scale = proto.sites[0].units / 4  # the product's own units: 4 U sites scale to 8 U or 10 U
    points = tuple(DraftInjection(s.key, s.area, u * scale) for s, u in zip(proto.sites, site_units))
    found = check(DraftTreatment(TODAY, product, "glabellar_lines", points))
    above_site = {f.site for f in found if f.code == "above_label_site"}
    assert above_site == {s.key for s, p in zip(proto.sites, points) if p.units > s.units}
    label = CAT.indications["glabellar_lines"].label_units[product]
    assert ("above_label_total" in codes(found)) == (sum(p.units for p in points) > label)
    assert all(f.severity == "warn" for f in found)


past_st = st.builds(
    lambda d, product, ind_area, u: past(d, product, ind_area[0], **{ind_area[1]: u}),
    # Few distinct days, so that sessions on the same day (ties) are common.
    st.sampled_from([-3, 0, 5, 14, 15, 30, 60, 89, 90, 100, 200]),
    st.sampled_from(sorted(CAT.products)),
    st.sampled_from([("glabellar_lines", "glabella"), ("forehead_lines", "forehead"),
                     ("cervical_dystonia", "cervical_dystonia"), ("chronic_migraine", "migraine")]),
    units_st,
)


@PROPS
@given(history=st.lists(past_st, max_size=8), seed=st.integers(), product=st.sampled_from(cosmetic_products))
def test_the_order_of_the_history_does_not_matter(history, seed, product):
    shuffled = list(history)
    random.Random(seed).shuffle(shuffled)
    draft = glabellar(product)
    assert check(draft, history=history) == check(draft, history=shuffled)
    assert check(draft, history=history) == check(draft, history=tuple(reversed(history)))


def test_every_finding_code_cites_a_known_source_and_a_rule():
    """One scenario per finding code; each finding's source keys must be in sources.toml
    (rules.py names a few keys itself) or be clinic_policy."""
    cd = lambda u, s="cd_scm_r": DraftInjection(s, "cervical_dystonia", u)  # noqa: E731
    screening = evaluate_screening(no_answers("glabellar_lines", infection_at_site="", recent_toxin=""),
                                   "glabellar_lines")
    forehead_only = tuple(p for p in protocol_points("forehead_ona_40") if p.area == "forehead")
    scenarios = [
        (glabellar(ONA, vial=vial(ABO)), [], None),
        (glabellar(ONA, vial=vial(expiry=dt.date(2020, 1, 1))), [], None),
        (glabellar(ONA, vial=vial(reconstituted_hours_ago=None)), [], None),
        (glabellar(ONA, vial=vial(reconstituted_hours_ago=30)), [], None),
        (glabellar(ONA), [past(60, ABO, glabella=50.0), past(10, DAXI, cervical_dystonia=100.0)], screening),
        (glabellar(ONA), [past(3, ONA)], None),
        (DraftTreatment(TODAY, ONA, "cervical_dystonia", (cd(60), cd(350, "cd_scm_l"))),
         [past(30, ONA, "chronic_migraine", migraine=155.0)], None),
        (DraftTreatment(TODAY, INCO, "cervical_dystonia", (cd(45),) * 9 + (cd(10),)), [], None),
        (DraftTreatment(TODAY, "prabotulinumtoxinA", "lateral_canthal_lines",
                        (DraftInjection("orbicularis_r_upper", "crows_feet", 4),)), [], None),
        (DraftTreatment(TODAY, ONA, "forehead_lines", forehead_only
                        + (DraftInjection("frontalis_central", "forehead", 30),)), [], None),
        (DraftTreatment(TODAY, ONA, "platysma_bands", (DraftInjection("platysma_band_r1_1", "platysma", 9),)),
         [], None),
    ]
    seen = set()
    for draft, history, scr in scenarios:
        for f in check(draft, history=history, screening=scr):
            seen.add(f.code)
            assert f.rule and f.message
            if f.source != "clinic_policy":
                assert set(f.source.split(", ")) <= set(CAT.sources), (f.code, f.source)
    assert seen == {
        "vial_wrong_product", "vial_expired", "vial_not_reconstituted", "vial_over_age", "cumulative_over_limit",
        "retreatment_too_soon", "touch_up", "product_changed", "other_products_recently", "above_label_site",
        "above_max_per_site", "above_label_total", "over_session_maximum", "off_label_product",
        "forehead_without_glabella", "doctor_signoff_missing", "screening_infection_at_site",
        "screening_recent_toxin", "above_muscle_limit",
    }


# --- units into one muscle (data/muscle_limits.toml) ------------------------------------


def _cd(product, **units):
    injections = tuple(DraftInjection(site, "cervical_dystonia", u) for site, u in units.items())
    return DraftTreatment(TODAY, product, "cervical_dystonia", injections, doctor_signoff=True)


def test_both_sternocleidomastoids_above_100_units_of_botox_warn_about_swallowing():
    f = only(check(_cd(ONA, cd_scm_r=60.0, cd_scm_l=50.0, cd_splenius_l=50.0)), "above_muscle_limit")
    assert f.severity == "warn" and f.source == "S11"
    assert "110 U into the sternocleidomastoid (both sides together), above 100 U" in f.message
    assert "swallowing" in f.message
    assert "above_muscle_limit" not in codes(check(_cd(ONA, cd_scm_r=50.0, cd_scm_l=50.0, cd_splenius_l=90.0)))


def test_one_sternocleidomastoid_above_150_units_of_dysport_warns_per_side():
    found = check(_cd(ABO, cd_scm_r=160.0, cd_scm_l=150.0))
    [f] = [f for f in found if f.code == "above_muscle_limit"]
    assert "160 U into the right sternocleidomastoid" in f.message and f.source == "S116"


def test_muscle_limits_are_per_product():
    assert "above_muscle_limit" not in codes(check(_cd(INCO, cd_scm_r=120.0, cd_scm_l=120.0)))


# --- a label total by pattern: the protocol chosen says which applies -------------------


def _platysma(protocol: str, extra: float = 0.0) -> DraftTreatment:
    points = protocol_points(protocol)
    if extra:
        points = points + (DraftInjection(None, "platysma", extra),)
    return DraftTreatment(TODAY, ONA, "platysma_bands", points, protocol=protocol)


def test_more_than_the_chosen_band_pattern_warns_even_under_the_largest_label_total():
    f = only(check(_platysma("platysma_ona_26", extra=5)), "above_protocol_total")
    assert f.severity == "warn" and f.source == "S1"
    assert "31 U in this session is above the 26 U of the protocol chosen" in f.message
    assert "above_label_total" not in codes(check(_platysma("platysma_ona_26", extra=5)))


def test_the_protocols_own_total_and_single_total_labels_do_not_warn_twice():
    assert "above_protocol_total" not in codes(check(_platysma("platysma_ona_26")))
    assert "above_protocol_total" not in codes(check(_platysma("platysma_ona_36", extra=2)))  # the label's own
    glab = DraftTreatment(TODAY, ONA, "glabellar_lines", protocol_points("glabellar_ona_20", 5),
                          protocol="glabellar_ona_20")
    assert "above_protocol_total" not in codes(check(glab)) and "above_label_total" in codes(check(glab))
    other = DraftTreatment(TODAY, ABO, "platysma_bands", (DraftInjection(None, "platysma", 40),),
                           protocol="platysma_ona_26")
    assert "above_protocol_total" not in codes(check(other))
