"""Quality problems: the measured sentence for staff, a code, and a patient's words."""

import json

from touchup.vision import quality


def test_each_problem_has_a_code_and_patient_words_without_the_numbers():
    problems = quality.problems_for(
        pose=(80.0, -80.0, 80.0), sharp=0.0, exposure_label="dark", clipped_hi=0.5, clipped_lo=0.5,
        source_iod=62.0, pose_change=(90.0, 0.0, 0.0),
    )
    codes = [p.code for p in problems]
    assert codes == ["head_turned", "chin_tilted", "head_tilted", "face_too_small", "blurred", "too_dark",
                     "highlights_clipped", "shadows_crushed", "pose_differs"]
    small = problems[codes.index("face_too_small")]
    assert "eye corners 62 px apart, at least 192 needed" in small  # the staff page keeps the measure
    assert small.for_patient == ("Your face is too small in the photo: move closer, so your face fills "
                                 "most of the frame.")
    for p in problems:
        assert not any(ch.isdigit() for ch in p.for_patient), p.for_patient
    # Still sentences where they are stored and sent as JSON.
    assert json.loads(json.dumps(problems)) == [str(p) for p in problems]
