"""One photo in, the `touchup photo analyze` result out (DESIGN.md, without "file").

    analyze(rgb, baseline=None, *, view=None) -> dict         # pixels already decoded
    analyze_bytes(data, baseline=None, *, view=None) -> dict  # file bytes, decoded as needed

`baseline` is the patient's own baseline photo (RGB array, or bytes for analyze_bytes, or a
`Prepared` from `prepare`): the photo is then aligned to it on stable landmarks, its
regions are the baseline's regions, and the pose change is checked.

`view` is the view the photo was taken for (expression.VIEWS): with it, the expression
that view asks for is checked too (expression.py; only what the toxin cannot cause), and a
wrong one is one more problem. Without it nothing about the expression is said, and the
result is exactly what it was before the check existed. The baseline, when given, is
taken to be of the same view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import cv2
import numpy as np

from . import expression, quality, wrinkles
from .align import (
    CANONICAL_IOD, CANVAS_H, CANVAS_W, Canvas, apply, canonical_transform, compose,
    refine_to_baseline, to_baseline, warp,
)
from .decode import decode_bgr, exif_thumbnail, probe
from .landmarks import (
    DETECT_MAX_SIDE, STABLE, LandmarkDetector, Landmarks, default_detector, default_eye_detector,
)
from .regions import (
    LINE_BANDS, MIN_VISIBLE_FRACTION, REGION_NAMES, cheek_pixels, make_regions, skin_mask,
    skin_model,
)

# The shading blur is computed over whole canvas rows reaching this far past the regions;
# the Gabor kernels then see real skin this far (half a kernel) past each region's edge.
_PAD = int(3 * wrinkles.SHADING_SIGMA)
_MARGIN = wrinkles.kernel_margin()
# Decode (JPEG) at a reduced size when the picture is at least this many pixels on its short
# side after reduction; re-decode larger if the face turns out to be smaller than
# _DECODE_MIN_IOD there. Below 1 source pixel per canvas pixel is accepted down to 0.7:
# a camera's full-size pixels are softer than its half-size ones (demosaicing, lens, JPEG),
# and a second, full-size decode costs more than the whole analysis.
_DECODE_MIN_SIDE = 1000
_DECODE_MIN_IOD = 0.7 * CANONICAL_IOD
# Baseline fit: stable points on average further than this (in eye-corner distances) from
# where the baseline has them mean a different head position or expression, or a bad
# detection. Re-shooting the same pose leaves about 0.4 %; squeezing the face to 80 % of its
# width (a strongly turned head) gives 2.2 %.
_MAX_FIT_RESIDUAL = 0.02


@dataclass(frozen=True)
class Prepared:
    """A photo with its landmarks found (reusable as a baseline for many follow-ups)."""

    image: np.ndarray  # H x W x 3 uint8, RGB (or BGR when `bgr`)
    landmarks: Landmarks | None
    # Original pixels per pixel of `image` (a JPEG decoded at reduced size): the face-size
    # check is about the photo as taken.
    reduce: float = 1.0
    # Decoded files stay in OpenCV's order: a 12-megapixel colour conversion costs more
    # than a sixth of the decode, and only the canvas needs RGB.
    bgr: bool = False

    @cached_property
    def rgb(self) -> np.ndarray:
        return cv2.cvtColor(self.image, cv2.COLOR_BGR2RGB) if self.bgr else self.image

    @cached_property
    def canvas(self) -> Canvas | None:
        """This photo in its own canonical frame (RGB), kept for use as a baseline."""
        if self.landmarks is None:
            return None
        c = warp(self.image, canonical_transform(self.landmarks), self.landmarks.outer_canthal_px)
        return replace(c, rgb=cv2.cvtColor(c.rgb, cv2.COLOR_BGR2RGB)) if self.bgr else c

    @cached_property
    def eye_openings(self) -> tuple[float, float] | None:
        """(right, left) eye opening from the attention mesh, for the blink check (kept, so
        a baseline reused for many photos runs it once); None when it finds no face."""
        detector = default_eye_detector()
        lm = _detect_bgr(self.image, detector) if self.bgr else detector.detect(self.image)
        return None if lm is None else expression.eye_openings(lm)


def prepare(rgb: np.ndarray, detector: LandmarkDetector | None = None) -> Prepared:
    detector = detector or default_detector()
    return Prepared(rgb, detector.detect(rgb))


def analyze(rgb: np.ndarray, baseline: np.ndarray | Prepared | None = None, *,
            view: str | None = None, detector: LandmarkDetector | None = None) -> dict:
    _check_view(view)
    detector = detector or default_detector()
    photo = prepare(rgb, detector)
    base = None
    if baseline is not None:
        base = baseline if isinstance(baseline, Prepared) else prepare(baseline, detector)
    return _measure(photo, base, view)


def analyze_bytes(data: bytes, baseline: bytes | Prepared | None = None, *,
                  view: str | None = None, detector: LandmarkDetector | None = None) -> dict:
    """Like `analyze`, from file bytes; raises decode.ImageRejected for unreadable files."""
    _check_view(view)
    detector = detector or default_detector()
    photo = prepare_bytes(data, detector)
    base = None
    if baseline is not None:
        base = baseline if isinstance(baseline, Prepared) else prepare_bytes(baseline, detector)
    return _measure(photo, base, view)


def _check_view(view: str | None) -> None:
    if view is not None and view not in expression.VIEWS:
        raise ValueError(f"unknown view {view!r}; one of {', '.join(expression.VIEWS)}")


def prepare_bytes(data: bytes, detector: LandmarkDetector | None = None) -> Prepared:
    """Decode at the smallest JPEG scale that still gives the canvas enough detail.

    The scale is chosen from the picture's size, or better from the face's size in the EXIF
    preview when there is one (phones and cameras store one), so one decode is usually
    enough; if the face then turns out too small for that scale, the photo is decoded again
    larger."""
    detector = detector or default_detector()
    header = probe(data)
    short = min(header.width, header.height)
    reduce = 1
    if header.format == "jpeg":
        reduce = next((r for r in (8, 4, 2) if short / r >= _DECODE_MIN_SIDE), 1)
        if reduce > 1:
            reduce = _reduce_from_preview(data, header, reduce, detector)
    bgr, _header, (full_w, _full_h) = decode_bgr(data, reduce=reduce)
    lm = _detect_bgr(bgr, detector)
    if lm is not None and reduce > 1 and lm.outer_canthal_px < _DECODE_MIN_IOD:
        full_iod = lm.outer_canthal_px * full_w / bgr.shape[1]
        finer = max((r for r in (1, 2, 4) if r < reduce and full_iod / r >= _DECODE_MIN_IOD),
                    default=1)
        finer_bgr = decode_bgr(data, reduce=finer)[0]
        lm = lm.scaled(finer_bgr.shape[1] / bgr.shape[1])
        bgr = finer_bgr
    return Prepared(bgr, lm, full_w / bgr.shape[1], bgr=True)


def _reduce_from_preview(data: bytes, header, reduce: int, detector: LandmarkDetector) -> int:
    """A smaller reduction than `reduce` when the EXIF preview shows a face too small for it
    (with 15 % to spare: a preview's landmarks are coarse)."""
    thumb = exif_thumbnail(data)
    if thumb is None or min(thumb.shape[:2]) < 64:
        return reduce
    lm = detector.detect(cv2.cvtColor(thumb, cv2.COLOR_BGR2RGB))
    if lm is None:
        return reduce
    full_w = header.height if header.orientation in (5, 6, 7, 8) else header.width
    full_iod = lm.outer_canthal_px * full_w / thumb.shape[1]
    for r in (8, 4, 2, 1):
        if r <= reduce and full_iod / r >= 1.15 * _DECODE_MIN_IOD:
            return r
    return 1


def _detect_bgr(bgr: np.ndarray, detector: LandmarkDetector) -> Landmarks | None:
    """Landmarks of a BGR picture: shrunk by a whole factor first (see landmarks.py), so
    only the small copy needs converting to RGB."""
    h, w = bgr.shape[:2]
    k = -(-max(h, w) // DETECT_MAX_SIDE)
    small = bgr
    if k > 1:
        small = cv2.resize(bgr[: h // k * k, : w // k * k], (w // k, h // k),
                           interpolation=cv2.INTER_AREA)
    lm = detector.detect(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
    return lm.scaled(k) if lm is not None and k > 1 else lm


def _null_result(problem: str, photo: Prepared) -> dict:
    img = photo.image
    sample = np.ascontiguousarray(img[:: max(1, img.shape[0] // 256), :: max(1, img.shape[1] // 256)])
    if photo.bgr:
        sample = cv2.cvtColor(sample, cv2.COLOR_BGR2RGB)
    sample = sample.reshape(-1, 3)
    label, *_ = quality.exposure(sample)
    return {
        "face_found": False,
        "quality": {"sharpness": None, "exposure": label, "pose_deg": None, "usable": False,
                    "problems": [problem]},
        "regions": {name: None for name in (*REGION_NAMES[:4], "crows_feet", "platysma")},
    }


def _measure(photo: Prepared, base: Prepared | None, view: str | None = None) -> dict:
    if photo.landmarks is None:
        return _null_result("No face was found in the photo.", photo)
    lm = photo.landmarks
    extra_problems = []
    if base is not None and base.landmarks is None:
        extra_problems.append("No face was found in the baseline photo, so this photo was not "
                              "aligned to it.")
        base = None

    if base is not None:
        m_base = canonical_transform(base.landmarks)
        fit = to_baseline(lm, base.landmarks)
        matrix = compose(m_base, fit)
        region_lm = apply(m_base, base.landmarks.xy)
        stable = list(STABLE)
        resid = np.linalg.norm(apply(fit, lm.xy[stable]) - base.landmarks.xy[stable], axis=1)
        if resid.mean() / base.landmarks.outer_canthal_px > _MAX_FIT_RESIDUAL:
            extra_problems.append("The face does not line up with the baseline photo (different "
                                  "expression or head position); retake it matching the baseline.")
    else:
        matrix = canonical_transform(lm)
        region_lm = apply(matrix, lm.xy)

    canvas = warp(photo.image, matrix, lm.outer_canthal_px)
    if photo.bgr:
        canvas = replace(canvas, rgb=cv2.cvtColor(canvas.rgb, cv2.COLOR_BGR2RGB))
    if base is not None:
        # Dense refinement on the stable patch: re-shoot CV against a baseline fell from
        # 1.6-2.3 % to 0.3-1.9 % per region (docs/photos.md, "Accuracy").
        correction = refine_to_baseline(base.canvas.rgb, canvas.rgb)
        if correction is not None:
            matrix = compose(correction, matrix)
            canvas = warp(photo.image, matrix, lm.outer_canthal_px)
            if photo.bgr:
                canvas = replace(canvas, rgb=cv2.cvtColor(canvas.rgb, cv2.COLOR_BGR2RGB))
    own_lm = apply(matrix, lm.xy)
    regions = make_regions(region_lm)

    # Skin, judged against this photo's own cheeks.
    model = skin_model(cheek_pixels(canvas, own_lm))
    flat, flat_y0 = _flat_rows(canvas, regions)

    results: dict[str, dict | None] = {}
    for name in REGION_NAMES:
        results[name] = _region_result(canvas, flat, flat_y0, model, regions[name],
                                       LINE_BANDS[name])
    left, right = results["crows_feet_left"], results["crows_feet_right"]
    combined = None
    if left is not None and right is not None:
        idx = (left["wrinkle_index"] + right["wrinkle_index"]) / 2
        combined = {"wrinkle_index": round(idx, 4), "grade": wrinkles.grade(idx)}
    ordered = {n: results[n] for n in ("forehead", "glabella", "crows_feet_left",
                                       "crows_feet_right")}
    ordered["crows_feet"] = combined
    ordered["platysma"] = results["platysma"]

    # Quality.
    pose = quality.pose_deg(lm)
    eyes = _eye_area(own_lm)
    gray = cv2.cvtColor(canvas.rgb[eyes], cv2.COLOR_RGB2GRAY)
    sharp = quality.sharpness(gray)
    face, (fy, fx) = _face_mask(own_lm)
    face &= canvas.inside[fy, fx]
    label, _med, hi, lo = quality.exposure(canvas.rgb[fy, fx], face)
    pose_change = None
    if base is not None:
        bpose = quality.pose_deg(base.landmarks)
        pose_change = tuple(a - b for a, b in zip(pose, bpose))
    problems = quality.problems_for(pose=pose, sharp=sharp, exposure_label=label, clipped_hi=hi,
                                    clipped_lo=lo, source_iod=lm.outer_canthal_px * photo.reduce,
                                    pose_change=pose_change) + extra_problems
    if view is not None:
        problems += _expression_problems(photo, base, view)
    q = {"sharpness": round(sharp, 2), "exposure": label,
         "pose_deg": [round(v, 1) for v in pose], "usable": not problems, "problems": problems}
    if pose_change is not None:
        q["pose_change_deg"] = [round(v, 1) for v in pose_change]
    return {"face_found": True, "quality": q, "regions": ordered}


def _expression_problems(photo: Prepared, base: Prepared | None, view: str) -> list[str]:
    """The expression check (expression.py), against the baseline's own expression when
    there is a baseline. The attention mesh runs only for views with a blink check."""
    eyes = base_eyes = None
    if view in expression.EYES_OPEN:
        eyes = photo.eye_openings
        if base is not None and eyes is not None:
            base_eyes = base.eye_openings
    return expression.problems_for(
        view, expression.mouth(photo.landmarks),
        eyes, base_mouth=expression.mouth(base.landmarks) if base is not None else None,
        base_eyes=base_eyes,
    )


def _flat_rows(canvas: Canvas, regions) -> tuple[np.ndarray, int]:
    """Flattened luminance of the canvas rows any region's padded crop needs."""
    boxes = [r.box for r in regions.values() if r.mask.size]
    if not boxes:
        return np.zeros((0, CANVAS_W), np.float32), 0
    y0 = max(0, min(b[1] for b in boxes) - _PAD)
    y1 = min(CANVAS_H, max(b[3] for b in boxes) + _PAD)
    return wrinkles.flat_luminance(canvas.rgb[y0:y1]), y0


def _region_result(canvas: Canvas, flat, flat_y0, model, region, band) -> dict | None:
    total = region.area
    if total < 100 or model is None:
        return None
    x0, y0, x1, y1 = region.box
    visible = region.mask & canvas.inside[y0:y1, x0:x1]
    skin = visible & skin_mask(canvas.rgb[y0:y1, x0:x1], model)
    if skin.sum() < MIN_VISIBLE_FRACTION * total:
        return None
    m = _MARGIN
    fy0, fy1 = y0 - flat_y0 - m, y1 - flat_y0 + m
    cx0, cy0 = max(0, x0 - m), max(0, fy0)
    cx1, cy1 = min(flat.shape[1], x1 + m), min(flat.shape[0], fy1)
    crop = flat[cy0:cy1, cx0:cx1]
    crop = cv2.copyMakeBorder(crop, cy0 - fy0, fy1 - cy1, cx0 - (x0 - m), (x1 + m) - cx1,
                              cv2.BORDER_REFLECT)
    response = wrinkles.line_response(crop, band, m)
    index = wrinkles.wrinkle_index(response, skin)
    return {"wrinkle_index": round(index, 4), "grade": wrinkles.grade(index)}


def _eye_area(p: np.ndarray) -> tuple[slice, slice]:
    u = CANONICAL_IOD
    xs = [p[33][0], p[263][0]]
    y = (p[33][1] + p[263][1]) / 2
    x0, x1 = int(max(0, min(xs) - 0.1 * u)), int(min(CANVAS_W, max(xs) + 0.1 * u))
    y0, y1 = int(max(0, y - 0.2 * u)), int(min(CANVAS_H, y + 0.15 * u))
    return slice(y0, y1), slice(x0, x1)


_FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
              400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
              103, 67, 109)


def _face_mask(p: np.ndarray) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The face oval shrunk by 15% towards its centre: skin, not the hairline or the ears."""
    oval = p[list(_FACE_OVAL)]
    centre = oval.mean(axis=0)
    inner = centre + 0.85 * (oval - centre)
    x0, y0 = np.clip(np.floor(inner.min(axis=0)).astype(int), 0, (CANVAS_W, CANVAS_H))
    x1, y1 = np.clip(np.ceil(inner.max(axis=0)).astype(int) + 1, 0, (CANVAS_W, CANVAS_H))
    mask = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    cv2.fillPoly(mask, [np.round(inner - (x0, y0)).astype(np.int32)], 1)
    return mask.astype(bool), (slice(y0, y1), slice(x0, x1))
