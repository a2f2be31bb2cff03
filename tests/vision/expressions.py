"""Changed expressions of the real portraits, for the expression check's tests: warped
mouth corners (a smile made on a face that is not smiling), painted-shut eyes (lid skin
filled in over the eye, a lash line where the lids meet) and lowered brows (what a treated
forehead looks like when asked to raise them). docs/photos.md, "Expression", says which of
these the landmark model reads."""

import cv2
import numpy as np
from skimage.transform import PiecewiseAffineTransform, warp

from touchup.vision.landmarks import Landmarks

# Upper and lower lid contours of each eye, corner to corner (face-mesh numbering).
EYES = (
    (33, (246, 161, 160, 159, 158, 157, 173), (7, 163, 144, 145, 153, 154, 155), 133),
    (263, (466, 388, 387, 386, 385, 384, 398), (249, 390, 373, 374, 380, 381, 382), 362),
)
BROWS = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283, 276)


def _warp(rgb: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    frame = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [w / 2, 0], [w / 2, h - 1],
                      [0, h / 2], [w - 1, h / 2]])
    # warp() maps output pixels back to input pixels: the transform goes dst -> src.
    t = PiecewiseAffineTransform.from_estimate(np.vstack([dst, frame]), np.vstack([src, frame]))
    assert t, "the warp could not be fitted"
    return np.clip(warp(rgb, t, order=1, preserve_range=True), 0, 255).astype(np.uint8)


def smile(rgb: np.ndarray, lm: Landmarks, amount: float) -> np.ndarray:
    """Mouth corners pulled out and up by `amount` outer eye-corner distances, the skin
    around them following (Gaussian fall-off, sigma 0.12)."""
    p, u = lm.xy, lm.outer_canthal_px
    ex = (p[263] - p[33]) / np.linalg.norm(p[263] - p[33])
    down = np.array([-ex[1], ex[0]])
    dst = p.copy()
    for corner, side in ((61, -1), (291, 1)):
        d = np.linalg.norm(p - p[corner], axis=1) / u
        dst += np.exp(-0.5 * (d / 0.12) ** 2)[:, None] * (amount * u * (side * ex - down))
    return _warp(rgb, p, dst)


def lower_brows(rgb: np.ndarray, lm: Landmarks, amount: float) -> np.ndarray:
    """Brows moved down by `amount` outer eye-corner distances and towards each other by
    half that: a forehead that cannot lift, a glabella that cannot pull apart."""
    p, u = lm.xy, lm.outer_canthal_px
    ex = (p[263] - p[33]) / np.linalg.norm(p[263] - p[33])
    down = np.array([-ex[1], ex[0]])
    mid = (p[33] + p[263]) / 2
    dst = p.copy()
    for i in BROWS:
        inward = -np.sign(np.dot(p[i] - mid, ex)) * ex
        dst[i] = p[i] + amount * u * (down + 0.5 * inward)
    return _warp(rgb, p, dst)


def shut_eyes(rgb: np.ndarray, lm: Landmarks, which: str = "both") -> np.ndarray:
    """The eye openings filled with the lid skin around them, a dark lash line where the
    lids meet (a third of the way up from the lower lid)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    p, u = lm.xy, lm.outer_canthal_px
    mask = np.zeros(bgr.shape[:2], np.uint8)
    lines = []
    for outer, upper, lower, inner in (EYES if which == "both" else EYES[:1]):
        poly = np.vstack([p[[outer]], p[list(upper)], p[[inner]], p[list(lower)][::-1]])
        centre = poly.mean(axis=0)
        cv2.fillPoly(mask, [np.round(centre + 1.25 * (poly - centre)).astype(np.int32)], 255)
        meet = 0.7 * p[list(lower)] + 0.3 * p[list(upper)]
        lines.append(np.vstack([p[[outer]], meet, p[[inner]]]))
    filled = cv2.inpaint(bgr, mask, max(3, int(0.02 * u)), cv2.INPAINT_TELEA)
    lashes = filled.copy()
    for line in lines:
        cv2.polylines(lashes, [np.round(line).astype(np.int32)], False, (30, 25, 25),
                      max(2, int(0.012 * u)), cv2.LINE_AA)
    lashes = cv2.GaussianBlur(lashes, (0, 0), 0.004 * u + 0.5)
    soft = cv2.GaussianBlur(mask, (0, 0), 2).astype(np.float32)[..., None] / 255
    weight = np.clip(soft * 1.5, 0, 1)
    out = (lashes * weight + filled * (1 - weight)).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
