"""The expression check (touchup.vision.expression) on real portraits with the real
MediaPipe models: the astronaut smiles broadly, Grace Hopper does not. Nothing the toxin
causes (brows that do not lift or pull together) may ever be flagged."""

import numpy as np
import pytest

from touchup.vision import expression as ex
from touchup.vision.analyze import analyze, prepare
from touchup.vision.landmarks import default_detector

from .expressions import lower_brows, shut_eyes, smile
from .photos import astronaut, grace_hopper

SMILING = "The mouth is smiling; for this view relax the mouth (no smile)."
NOT_SMILING = "The face is not smiling; for this view smile broadly and squint."
CLOSED = "Both eyes are closed; take the photo again with the eyes open."
EXPRESSION = {SMILING, NOT_SMILING, CLOSED}


def expression_problems(result):
    return [p for p in result["quality"]["problems"] if p in EXPRESSION]


@pytest.fixture(scope="module")
def collins():
    return prepare(astronaut())


@pytest.fixture(scope="module")
def hopper():
    return prepare(grace_hopper())


@pytest.fixture(scope="module")
def hopper_smiling():
    rgb = grace_hopper()
    return prepare(smile(rgb, default_detector().detect(rgb), 0.12))


@pytest.mark.parametrize("view", ["at_rest", "frown", "brows_raised"])
def test_a_smile_is_flagged_where_the_view_asks_for_a_still_mouth(view):
    r = analyze(astronaut(), view=view)
    assert expression_problems(r) == [SMILING]
    assert r["quality"]["usable"] is False
    assert expression_problems(analyze(grace_hopper(), view=view)) == []


def test_smile_and_squint_needs_a_smile():
    assert expression_problems(analyze(astronaut(), view="smile_squint")) == []
    r = analyze(grace_hopper(), view="smile_squint")
    assert expression_problems(r) == [NOT_SMILING] and r["quality"]["usable"] is False


def test_the_tensed_neck_view_never_judges_the_mouth():
    # Platysma contraction pulls the corners down and wide: neither face is flagged.
    for rgb in (astronaut(), grace_hopper()):
        assert expression_problems(analyze(rgb, view="neck_tensed")) == []


def test_without_a_view_the_result_is_exactly_the_old_one():
    for rgb in (astronaut(), grace_hopper()):
        plain = analyze(rgb)
        assert not any(p in EXPRESSION for p in plain["quality"]["problems"])
        with_view = analyze(rgb, view="frown")
        # Same numbers; the view only adds the expression sentence to the problems.
        assert with_view["regions"] == plain["regions"]
        def measured(q):
            return {k: v for k, v in q.items() if k not in ("usable", "problems")}

        assert measured(with_view["quality"]) == measured(plain["quality"])
        before = plain["quality"]["problems"]
        assert with_view["quality"]["problems"][:len(before)] == before


def test_an_unknown_view_is_refused():
    with pytest.raises(ValueError, match="unknown view"):
        analyze(grace_hopper(), view="pout")


def test_measured_mouths(collins, hopper):
    smiling, still = ex.mouth(collins.landmarks), ex.mouth(hopper.landmarks)
    assert smiling.width > ex.SMILE_MIN_WIDTH + 0.03 and smiling.lift_low > ex.SMILE_MIN_LIFT + 0.02
    assert still.width < ex.REST_MAX_WIDTH - 0.04 and still.lift_high < ex.REST_MAX_LIFT - 0.015


def test_a_smile_warped_onto_a_still_face_is_flagged(hopper, hopper_smiling):
    m = ex.mouth(hopper_smiling.landmarks)
    assert m.width > ex.mouth(hopper.landmarks).width * 1.2
    for view in ("at_rest", "frown", "brows_raised"):
        assert ex.problems_for(view, m, hopper_smiling.eye_openings) == [SMILING]
    assert ex.problems_for("smile_squint", m, hopper_smiling.eye_openings) == []


def test_the_baseline_can_take_a_flag_back_but_never_adds_one(hopper, hopper_smiling):
    smiling = ex.mouth(hopper_smiling.landmarks)
    still = ex.mouth(hopper.landmarks)
    # This face smiles as much in its own baseline: not flagged.
    assert ex.problems_for("frown", smiling, None, base_mouth=smiling) == []
    # It smiles more than in the baseline: flagged, as without a baseline.
    assert ex.problems_for("frown", smiling, None, base_mouth=still) == [SMILING]
    # A still mouth is never flagged in a still view, whatever the baseline.
    assert ex.problems_for("frown", still, None, base_mouth=smiling) == []
    # Smile-and-squint: a patient who does not smile more than in their own baseline.
    assert ex.problems_for("smile_squint", still, None, base_mouth=still) == []
    assert ex.problems_for("smile_squint", still, None, base_mouth=smiling) == [NOT_SMILING]


def test_against_a_baseline_of_the_same_expression_nothing_is_flagged():
    r = analyze(grace_hopper(), baseline=grace_hopper(), view="smile_squint")
    assert expression_problems(r) == []
    r = analyze(astronaut(), baseline=grace_hopper(), view="at_rest")
    assert SMILING in expression_problems(r)


@pytest.mark.parametrize("view", ["frown", "brows_raised"])
def test_brows_that_do_not_move_are_never_flagged(view):
    # What a treated forehead or glabella looks like in its dynamic view: the brows stay
    # low and close together. That is the toxin working, not a wrong expression.
    from .expressions import BROWS

    for rgb, expected in ((grace_hopper(), []), (astronaut(), [SMILING])):
        lm = default_detector().detect(rgb)
        treated = lower_brows(rgb, lm, 0.06)
        moved = default_detector().detect(treated)
        # The landmark model does read the lowered brows (so the check really saw them).
        drop = (moved.xy[list(BROWS), 1] - lm.xy[list(BROWS), 1]).mean() / lm.outer_canthal_px
        assert drop > 0.015
        assert expression_problems(analyze(treated, view=view)) == expected


def test_both_eyes_closed_is_flagged_one_eye_is_not():
    rgb = astronaut()
    lm = default_detector().detect(rgb)
    both = prepare(shut_eyes(rgb, lm, "both"))
    one = prepare(shut_eyes(rgb, lm, "right"))
    assert max(both.eye_openings) < ex.CLOSED_EYE
    assert ex.problems_for("neck_tensed", ex.mouth(both.landmarks), both.eye_openings) == [CLOSED]
    assert CLOSED in ex.problems_for("at_rest", ex.mouth(both.landmarks), both.eye_openings)
    # A squint narrows the eyes: the smile-and-squint view has no blink check.
    assert ex.problems_for("smile_squint", ex.mouth(both.landmarks), both.eye_openings) == []
    # One closed eye (or one drooping lid, the toxin's rare complication) is not a blink.
    assert CLOSED not in ex.problems_for("at_rest", ex.mouth(one.landmarks), one.eye_openings)
    # Open eyes in the real portraits.
    for p in (prepare(astronaut()), prepare(grace_hopper())):
        assert min(p.eye_openings) > 2 * ex.CLOSED_EYE


def test_a_closed_eye_in_the_baseline_too_is_this_patients_normal():
    eyes = (0.05, 0.06)
    assert ex.eyes_closed(eyes)
    assert not ex.eyes_closed(eyes, base=(0.06, 0.07))
    assert ex.eyes_closed(eyes, base=(0.30, 0.29))


@pytest.mark.parametrize("width,lift,smiles,still", [
    (0.70, 0.08, True, False),
    (0.70, 0.05, False, False),   # wide but the corners are not up: neither
    (0.62, 0.08, False, False),   # corners up but not wide (an open mouth): neither
    (0.60, 0.03, False, True),
    (0.65, 0.03, False, False),   # the band between says nothing
])
def test_the_limits(width, lift, smiles, still):
    m = ex.Mouth(width, lift, lift)
    assert ex.smiling(m) is smiles and ex.not_smiling(m) is still


def test_views_match_the_clinic_and_the_command():
    from touchup.commands.photo import VIEWS

    assert VIEWS == ex.VIEWS
    assert np.all([v in ex.EYES_OPEN | ex.SMILE_NEEDED for v in ex.VIEWS])
