"""The rules for a kept photo's consents, removal and baseline (no database)."""

import datetime as dt

import pytest

from touchup.core import photo_rules as rules
from touchup.core.photo_rules import BaselineCandidate as C


def test_withdrawing_clinical_consent_stops_measuring_and_frees_the_baseline():
    e = rules.consent_effects("clinical", False, is_baseline=True)
    assert e.stop_measuring and e.leave_baseline and not e.measure_again
    e = rules.consent_effects("clinical", False, is_baseline=False)
    assert e.stop_measuring and not e.leave_baseline


def test_giving_clinical_consent_again_measures_again():
    e = rules.consent_effects("clinical", True, is_baseline=False)
    assert e.measure_again and not e.stop_measuring and not e.leave_baseline


@pytest.mark.parametrize("given", [True, False])
def test_marketing_consent_changes_nothing_clinical(given):
    assert rules.consent_effects("marketing", given, is_baseline=True) == rules.ConsentEffects()


def test_an_unknown_consent_is_refused():
    with pytest.raises(ValueError):
        rules.consent_effects("research", True, is_baseline=False)


def test_the_next_baseline_is_the_earliest_measurable_photo():
    d = dt.date
    candidates = [
        C("late", d(2026, 3, 1), 1, True),
        C("withdrawn", d(2026, 1, 1), 2, False),
        C("same-day-second", d(2026, 2, 1), 9, True),
        C("same-day-first", d(2026, 2, 1), 4, True),
    ]
    assert rules.next_baseline(candidates) == "same-day-first"
    assert rules.next_baseline([C("x", d(2026, 1, 1), 1, False)]) is None
    assert rules.next_baseline([]) is None


def test_only_other_needs_a_note():
    assert [k for k, r in rules.REMOVAL_REASONS.items() if r.needs_note] == ["other"]
    assert {"wrong_patient", "wrong_view", "duplicate", "erasure_request"} <= set(rules.REMOVAL_REASONS)
    assert rules.PATIENT_CHANNEL in rules.CHANNELS and rules.PATIENT_CHANNEL not in rules.STAFF_CHANNELS


def test_every_view_is_known_and_each_measured_area_has_exactly_one_view():
    # One table for the view <-> area relation: the worker writes an area's index only
    # from its view, and the watch asks for that same view; two copies drifted before.
    from touchup.core.catalogue import load_catalogue
    from touchup.vision.expression import VIEWS

    assert tuple(rules.VIEW_AREAS) == VIEWS
    measured = [a for areas in rules.VIEW_AREAS.values() for a in areas]
    assert len(measured) == len(set(measured)) == len(rules.AREA_VIEW)
    assert all(rules.VIEW_AREAS[view] == (area,) for area, view in rules.AREA_VIEW.items())
    assert set(rules.AREA_VIEW) <= set(load_catalogue().areas)


def test_the_watch_asks_for_the_view_of_every_treated_area_a_photo_measures_leading_first():
    assert rules.watch_views("glabella", ["glabella"]) == ("frown",)
    # Three areas, one request: the leading area's view first, the rest in a fixed order.
    assert rules.watch_views("forehead", ["glabella", "forehead", "crows_feet"]) == (
        "brows_raised", "frown", "smile_squint")
    assert rules.watch_views("glabella", ["crows_feet", "forehead", "glabella", "glabella"]) == (
        "frown", "brows_raised", "smile_squint")
    # Areas measured by symptom diaries ask for no photo, leading or not.
    assert rules.watch_views("migraine", ["migraine"]) == ()
    assert rules.watch_views("cervical_dystonia", ["cervical_dystonia", "platysma"]) == ("neck_tensed",)
    assert rules.watch_views("migraine", ["migraine", "glabella"]) == ("frown",)
    # The leading area counts even when the list leaves it out.
    assert rules.watch_views("platysma", []) == ("neck_tensed",)
