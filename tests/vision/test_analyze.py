"""analyze() on real face photos: the DESIGN.md result, visibility, and an index that moves
with painted lines and stays put under re-shooting. These run the real MediaPipe model."""

import cv2
import numpy as np
import pytest

from touchup.vision.analyze import analyze, analyze_bytes, prepare, prepare_bytes
from touchup.vision.landmarks import default_detector
from touchup.vision.synthetic import paint_lines, reshoot
from touchup.vision.wrinkles import GRADE_CUTS, grade

from .photos import astronaut, grace_hopper, jpeg_bytes, no_face

REGION_KEYS = ["forehead", "glabella", "crows_feet_left", "crows_feet_right", "crows_feet",
               "platysma"]


def idx(result, region):
    value = result["regions"][region]
    return None if value is None else value["wrinkle_index"]


@pytest.fixture(scope="module")
def hopper():
    return grace_hopper(), analyze(grace_hopper())


@pytest.fixture(scope="module")
def collins():
    return astronaut(), analyze(astronaut())


def test_result_has_exactly_the_contract_shape(hopper):
    _, r = hopper
    assert list(r) == ["face_found", "quality", "regions"]
    assert r["face_found"] is True
    q = r["quality"]
    assert list(q) == ["sharpness", "exposure", "pose_deg", "usable", "problems"]
    assert 0 <= q["sharpness"] <= 1
    assert q["exposure"] in ("ok", "dark", "bright")
    assert len(q["pose_deg"]) == 3 and all(isinstance(v, float) for v in q["pose_deg"])
    assert isinstance(q["usable"], bool) and isinstance(q["problems"], list)
    assert q["usable"] == (not q["problems"])
    assert list(r["regions"]) == REGION_KEYS
    for value in r["regions"].values():
        assert value is None or (set(value) == {"wrinkle_index", "grade"}
                                 and value["grade"] in (0, 1, 2, 3))


def test_frontal_portraits_read_as_frontal(hopper, collins):
    for _, r in (hopper, collins):
        yaw, pitch, roll = r["quality"]["pose_deg"]
        assert abs(yaw) < 6 and abs(pitch) < 10 and abs(roll) < 6


def test_covered_regions_are_null_not_guessed(hopper, collins):
    _, gh = hopper
    _, ec = collins
    # Grace Hopper: glasses over the crow's feet; forehead, glabella and upper neck visible.
    assert gh["regions"]["crows_feet_left"] is None and gh["regions"]["crows_feet_right"] is None
    assert gh["regions"]["crows_feet"] is None
    for region in ("forehead", "glabella", "platysma"):
        assert gh["regions"][region] is not None, region
    # Eileen Collins: bangs over the forehead, the suit's collar over the neck.
    assert ec["regions"]["forehead"] is None and ec["regions"]["platysma"] is None
    for region in ("glabella", "crows_feet_left", "crows_feet_right", "crows_feet"):
        assert ec["regions"][region] is not None, region


def test_older_skin_scores_higher_than_young_skin(hopper, collins):
    assert idx(hopper[1], "glabella") > 2 * idx(collins[1], "glabella")


def test_no_face():
    r = analyze(no_face())
    assert r["face_found"] is False
    assert r["quality"]["usable"] is False and r["quality"]["problems"]
    assert all(v is None for v in r["regions"].values())
    assert list(r["regions"]) == REGION_KEYS


@pytest.mark.parametrize("photo,regions,depths", [
    (grace_hopper, ("forehead", "glabella"), (0.0, 0.08, 0.16, 0.30)),
    (astronaut, ("glabella", "crows_feet_left", "crows_feet_right"), (0.0, 0.08, 0.16, 0.30)),
    # Her neck already has deep folds: a thin line is a smaller share of what is there.
    (grace_hopper, ("platysma",), (0.0, 0.2, 0.35, 0.5)),
])
def test_painted_lines_raise_the_index_step_by_step(photo, regions, depths):
    rgb = photo()
    lm = default_detector().detect(rgb)
    previous = None
    for depth in depths:
        r = analyze(paint_lines(rgb, lm, {name: depth for name in regions}))
        values = [idx(r, name) for name in regions]
        if previous is not None:
            for name, before, after in zip(regions, previous, values):
                assert after > before, (name, depth, before, after)
        previous = values


def test_lines_in_one_region_do_not_move_the_others(hopper):
    rgb, base = hopper
    lm = default_detector().detect(rgb)
    r = analyze(paint_lines(rgb, lm, {"glabella": 0.3}))
    assert idx(r, "glabella") > idx(base, "glabella") * 1.2
    assert idx(r, "platysma") == pytest.approx(idx(base, "platysma"), rel=0.01)


def test_index_is_stable_when_reencoded_and_reexposed(hopper):
    rgb, base = hopper
    for variant in (
        cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg_bytes(rgb, 80), np.uint8), cv2.IMREAD_COLOR),
                     cv2.COLOR_BGR2RGB),
        np.clip(rgb.astype(np.float32) * 0.9, 0, 255).astype(np.uint8),  # 10 % less light
    ):
        r = analyze(variant)
        for region in ("forehead", "glabella", "platysma"):
            assert idx(r, region) == pytest.approx(idx(base, region), rel=0.05), region


def test_reshoots_vary_less_than_a_painted_line_changes_it():
    rgb = grace_hopper()
    lm = default_detector().detect(rgb)
    rng = np.random.default_rng(7)
    painted = paint_lines(rgb, lm, {"glabella": 0.10})
    shots = [idx(analyze(reshoot(painted, rng)), "glabella") for _ in range(5)]
    deeper = idx(analyze(paint_lines(rgb, lm, {"glabella": 0.20})), "glabella")
    assert np.std(shots) / np.mean(shots) < 0.05
    assert deeper - np.mean(shots) > 4 * np.std(shots)


def test_baseline_alignment_measures_the_same_skin(hopper):
    rgb, base = hopper
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 0.93)
    m[:, 2] += (25, -18)
    moved = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    r = analyze(moved, baseline=prepare(rgb))
    assert r["quality"]["pose_change_deg"][0] == pytest.approx(0, abs=3)
    # OpenCV's +4 degrees turns the picture anticlockwise: roll -4 in our convention.
    assert r["quality"]["pose_change_deg"][2] == pytest.approx(-4, abs=1.5)
    for region in ("forehead", "glabella"):
        assert idx(r, region) == pytest.approx(idx(base, region), rel=0.06), region


def test_a_distorted_face_does_not_line_up_with_the_baseline(hopper):
    # The face squeezed to 75 % of its width: the stable landmarks no longer fit the
    # baseline's by any similarity (as with a strongly turned head).
    rgb, _ = hopper
    r = analyze(cv2.resize(rgb, None, fx=0.75, fy=1.0), baseline=prepare(rgb))
    assert r["face_found"] and not r["quality"]["usable"]
    assert any("line up with the baseline" in p for p in r["quality"]["problems"])


def test_pose_limits_become_plain_sentences():
    from touchup.vision import quality

    problems = quality.problems_for(pose=(22.0, -17.0, 3.0), sharp=0.9, exposure_label="ok",
                                    clipped_hi=0.0, clipped_lo=0.0, source_iod=400,
                                    pose_change=(11.0, 0.0, 0.0))
    assert any("turned 22°" in p for p in problems)
    assert any("17° down" in p for p in problems)
    assert any("differs from the baseline" in p for p in problems)
    assert quality.problems_for(pose=(2.0, 1.0, 3.0), sharp=0.9, exposure_label="ok",
                                clipped_hi=0.0, clipped_lo=0.0, source_iod=400) == []


def test_dark_and_blurred_photos_are_flagged(hopper):
    rgb, base = hopper
    dark = analyze((rgb * 0.2).astype(np.uint8))
    if dark["face_found"]:
        assert dark["quality"]["exposure"] == "dark" and not dark["quality"]["usable"]
        assert any("dark" in p for p in dark["quality"]["problems"])
    blurred = analyze(cv2.GaussianBlur(rgb, (0, 0), 3))
    assert blurred["quality"]["sharpness"] < base["quality"]["sharpness"] - 0.1
    assert not blurred["quality"]["usable"]
    assert any("sharp" in p for p in blurred["quality"]["problems"])


def test_small_face_is_flagged():
    r = analyze(cv2.resize(grace_hopper(), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA))
    assert any("too small" in p for p in r["quality"]["problems"])


def test_bytes_path_applies_exif_orientation_and_matches_pixels(hopper):
    from PIL import Image
    import io

    rgb, base = hopper
    # Store the picture rotated on its side with an EXIF tag saying "rotate back".
    sideways = np.ascontiguousarray(np.rot90(rgb, k=1))  # counter-clockwise
    ex = Image.Exif()
    ex[0x0112] = 6  # display rotated 90 degrees clockwise
    buf = io.BytesIO()
    Image.fromarray(sideways).save(buf, "JPEG", quality=95, exif=ex)
    r = analyze_bytes(buf.getvalue())
    assert r["face_found"]
    assert abs(r["quality"]["pose_deg"][2]) < 6
    assert idx(r, "glabella") == pytest.approx(idx(base, "glabella"), rel=0.05)


@pytest.mark.parametrize("factor", [2.5, 4.0])
def test_large_jpeg_is_decoded_reduced_with_the_same_result(hopper, factor):
    # 2.5x: 3000 x 2560, decoded at half size, eye corners ~310 px (plain warp);
    # 4x: 4800 x 4096, half size, ~500 px (low-passed to the canvas scale first).
    rgb, base = hopper
    big = cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    r = analyze_bytes(jpeg_bytes(big, 95))
    assert r["quality"]["pose_deg"] == pytest.approx(base["quality"]["pose_deg"], abs=1.5)
    for region in ("forehead", "glabella", "platysma"):
        assert idx(r, region) == pytest.approx(idx(base, region), rel=0.08), region


def test_custom_detector_that_finds_nothing():
    class Blind:
        def detect(self, rgb):
            return None

    assert analyze(grace_hopper(), detector=Blind())["face_found"] is False


def test_grade_cut_points():
    assert [grade(v) for v in (0.0, GRADE_CUTS[0] - 1e-6, GRADE_CUTS[0], GRADE_CUTS[1],
                               GRADE_CUTS[2], 5.0)] == [0, 0, 1, 2, 3, 3]


def test_dense_refinement_recovers_a_small_misalignment(hopper):
    from touchup.vision.align import canonical_transform, refine_to_baseline, warp

    rgb, _ = hopper
    lm = default_detector().detect(rgb)
    m = canonical_transform(lm)
    base = warp(rgb, m, lm.outer_canthal_px)
    nudged = m.copy()
    nudged[:, 2] += (2.5, -1.5)  # what landmark jitter does
    moved = warp(rgb, nudged, lm.outer_canthal_px)
    correction = refine_to_baseline(base.rgb, moved.rgb)
    assert correction is not None
    assert correction[:, 2] == pytest.approx([-2.5, 1.5], abs=0.3)
    assert correction[:, :2] == pytest.approx(np.eye(2), abs=0.01)


def test_exif_preview_picks_the_decode_size_in_one_pass(hopper):
    from touchup.vision.synthetic import with_exif_preview

    rgb, base = hopper
    # The portrait in the middle of a 4096 x 3600 frame (eye corners ~250 px apart): the size
    # rule alone picks a quarter-size decode (eye corners ~62 px, too few), finds the face and
    # decodes again at full size; the EXIF preview shows the face size before any decode.
    big = cv2.copyMakeBorder(rgb, 1200, 1200, 1536, 1536, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    data = jpeg_bytes(big, 90)
    calls = []
    import touchup.vision.analyze as A

    real = A.decode_bgr

    def counting(data, **kw):
        calls.append(kw.get("reduce", 1))
        return real(data, **kw)

    A.decode_bgr = counting
    try:
        plain = A.prepare_bytes(data)
        without = list(calls)
        calls.clear()
        prepared = A.prepare_bytes(with_exif_preview(data, width=320))
        with_preview = list(calls)
    finally:
        A.decode_bgr = real
    assert without == [2, 1]
    assert with_preview == [1]
    assert prepared.reduce == plain.reduce == 1
    assert prepared.landmarks.outer_canthal_px == pytest.approx(plain.landmarks.outer_canthal_px, rel=0.02)


def _regions(result, names=("forehead", "glabella", "platysma")):
    return {n: idx(result, n) for n in names}


def test_small_face_without_preview_half_then_full_decode_matches_the_full_pixels(hopper):
    # A 4096 x 3600 frame with the face small in it and no EXIF preview: decoded at half
    # size to find the face (eye corners ~125 px there, too few), then in full once; the
    # landmarks of the first pass are reused. The result is that of the full-size pixels.
    rgb, _ = hopper
    big = cv2.copyMakeBorder(rgb, 1200, 1200, 1536, 1536, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    data = jpeg_bytes(big, 90)
    prepared = prepare_bytes(data)
    assert prepared.reduce == 1 and prepared.image.shape == big.shape
    full = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)
    assert np.array_equal(prepared.rgb, full)
    r, direct = analyze_bytes(data), analyze(full)
    assert r["quality"]["usable"] and direct["quality"]["usable"]
    assert r["quality"]["pose_deg"] == pytest.approx(direct["quality"]["pose_deg"], abs=2.5)
    for region, value in _regions(direct).items():
        assert idx(r, region) == pytest.approx(value, rel=0.06), region


@pytest.mark.parametrize("orientation,turns", [(6, 1), (8, 3), (3, 2)])
def test_exif_orientation_is_applied_to_a_half_size_decode_of_an_odd_size(hopper, orientation,
                                                                           turns):
    from PIL import Image
    import io

    rgb, _ = hopper
    # 2557 x 2999 (odd: the half-size decode rounds up), stored turned with an EXIF tag
    # saying how to turn it back; big enough to be decoded at half size.
    big = np.ascontiguousarray(
        cv2.resize(rgb, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC)[:2999, :2557])
    upright = analyze_bytes(jpeg_bytes(big, 95))
    ex = Image.Exif()
    ex[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.rot90(big, k=turns))).save(buf, "JPEG", quality=95,
                                                                        exif=ex)
    prepared = prepare_bytes(buf.getvalue())
    assert prepared.image.shape == (1500, 1279, 3)  # upright, half size, rounded up
    assert prepared.reduce == pytest.approx(2, abs=0.01)
    r = analyze_bytes(buf.getvalue())
    assert r["quality"]["pose_deg"] == pytest.approx(upright["quality"]["pose_deg"], abs=1.0)
    for region, value in _regions(upright).items():
        assert idx(r, region) == pytest.approx(value, rel=0.06), region
