"""Treatment regions as polygons in the canonical frame, and which of their pixels are skin.

All distances are in units of the outer-canthal distance `u` (the canvas has a fixed
physical scale, see align.py), so the regions cover the same anatomy on every face.
"Left" and "right" are the patient's own sides (crows_feet_left is on the right of a
frontal photo), as a clinician charts them.

A region that is not visible - out of the picture, under hair, a cap, glasses or a collar -
is reported as not visible rather than measured: its skin fraction is below
`MIN_VISIBLE_FRACTION`. Skin is judged against the patient's own cheeks (colour and
brightness), not against a population skin-colour range.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .align import CANONICAL_IOD, CANVAS_H, CANVAS_W, Canvas
from .landmarks import CHIN

REGION_NAMES = ("forehead", "glabella", "crows_feet_left", "crows_feet_right", "platysma")

# Below this share of skin pixels a region is "not visible" (null), never guessed.
MIN_VISIBLE_FRACTION = 0.80

# Expected line direction (degrees, 0 = horizontal in the canvas, positive = clockwise on
# screen) and half-width of the band of directions searched, per region.
LINE_BANDS = {
    "forehead": (0.0, 30.0),
    "glabella": (90.0, 30.0),
    "crows_feet_left": (0.0, 45.0),
    "crows_feet_right": (0.0, 45.0),
    "platysma": (90.0, 30.0),
}

_BROW_TOP_RIGHT = (70, 63, 105, 66, 107)  # patient's right brow, lateral -> medial
_BROW_TOP_LEFT = (336, 296, 334, 293, 300)  # patient's left brow, medial -> lateral
_FOREHEAD_TOP = (103, 67, 109, 10, 338, 297, 332)  # the mesh's upper edge, right -> left
_CHEEK_RIGHT, _CHEEK_LEFT = 50, 280


@dataclass(frozen=True)
class Region:
    name: str
    polygon: np.ndarray  # (k, 2) canvas pixels
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the canvas, clipped to it
    mask: np.ndarray  # bool, the box's shape: inside the polygon

    @property
    def area(self) -> int:
        return int(self.mask.sum())


def region_polygons(lm_canvas: np.ndarray) -> dict[str, np.ndarray]:
    """Polygons from landmarks already mapped into the canvas."""
    p = lm_canvas
    u = CANONICAL_IOD
    up = np.array([0.0, -1.0])

    brows = np.array([p[i] for i in _BROW_TOP_RIGHT + _BROW_TOP_LEFT])
    lower = brows + up * 0.06 * u  # clear of the brow hairs
    top = np.array([p[i] for i in _FOREHEAD_TOP])
    forehead = np.vstack([top, lower[::-1]])

    right_inner, left_inner = p[107], p[336]
    g_top = min(right_inner[1], left_inner[1]) - 0.15 * u
    g_bottom = p[168][1]
    g_x0, g_x1 = right_inner[0] + 0.02 * u, left_inner[0] - 0.02 * u
    glabella = np.array([[g_x0, g_top], [g_x1, g_top], [g_x1, g_bottom], [g_x0, g_bottom]])

    def crows(canthus: np.ndarray, contour: np.ndarray, side: float) -> np.ndarray:
        near = canthus[0] + side * 0.08 * u
        far = canthus[0] + side * 0.42 * u
        # Stop short of the face outline (temple hair, ear).
        limit = contour[0] - side * 0.03 * u
        far = min(far, limit) if side > 0 else max(far, limit)
        y0, y1 = canthus[1] - 0.15 * u, canthus[1] + 0.28 * u
        return np.array([[near, y0], [far, y0 - 0.05 * u], [far, y1 + 0.05 * u], [near, y1]])

    # Patient's left eye is on the image right (x grows), outer corner 263, outline 356.
    crows_left = crows(p[263], p[356], +1.0)
    crows_right = crows(p[33], p[127], -1.0)

    # Upper anterior neck under the chin, where the bands stand out when the platysma
    # contracts (and which a collar covers last).
    chin = p[CHIN]
    platysma = np.array([
        [chin[0] - 0.30 * u, chin[1] + 0.10 * u], [chin[0] + 0.30 * u, chin[1] + 0.10 * u],
        [chin[0] + 0.30 * u, chin[1] + 0.50 * u], [chin[0] - 0.30 * u, chin[1] + 0.50 * u],
    ])
    return {"forehead": forehead, "glabella": glabella, "crows_feet_left": crows_left,
            "crows_feet_right": crows_right, "platysma": platysma}


def make_regions(lm_canvas: np.ndarray) -> dict[str, Region]:
    out = {}
    for name, poly in region_polygons(lm_canvas).items():
        lo = np.floor(poly.min(axis=0)).astype(int)
        hi = np.ceil(poly.max(axis=0)).astype(int) + 1
        x0, y0 = max(lo[0], 0), max(lo[1], 0)
        x1, y1 = min(hi[0], CANVAS_W), min(hi[1], CANVAS_H)
        if x1 - x0 < 2 or y1 - y0 < 2 or _area(poly) < 16:
            out[name] = Region(name, poly, (0, 0, 0, 0), np.zeros((0, 0), bool))
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(poly - (x0, y0)).astype(np.int32)], 1)
        out[name] = Region(name, poly, (int(x0), int(y0), int(x1), int(y1)), mask.astype(bool))
    return out


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


@dataclass(frozen=True)
class SkinModel:
    mean_ab: np.ndarray
    inv_cov: np.ndarray
    median_l: float


def cheek_pixels(canvas: Canvas, lm_canvas: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 RGB pixels of two round cheek patches (inside the photo only)."""
    r = round(0.08 * CANONICAL_IOD)
    out = []
    for i in (_CHEEK_RIGHT, _CHEEK_LEFT):
        cx, cy = np.round(lm_canvas[i]).astype(int)
        x0, y0, x1, y1 = max(cx - r, 0), max(cy - r, 0), min(cx + r + 1, CANVAS_W), min(cy + r + 1, CANVAS_H)
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & canvas.inside[y0:y1, x0:x1]
        out.append(canvas.rgb[y0:y1, x0:x1][disc])
    return np.concatenate(out) if out else np.zeros((0, 3), np.uint8)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE Lab (L 0..100) of uint8 RGB of any shape (..., 3), float32."""
    flat = rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2LAB).reshape(rgb.shape)


def skin_model(cheek_rgb: np.ndarray) -> SkinModel | None:
    if len(cheek_rgb) < 50:
        return None
    px = to_lab(cheek_rgb).astype(np.float64)
    ab = px[:, 1:3]
    # A floor on the spread: make-up-free skin is very uniform, and a too-tight model would
    # call shaded skin "not skin".
    cov = np.cov(ab.T) + np.eye(2) * 9.0
    (a, b), (c, d) = cov
    inv = np.array([[d, -b], [-c, a]]) / (a * d - b * c)  # 2x2: cheaper than LAPACK
    return SkinModel(ab.mean(axis=0), inv, float(np.median(px[:, 0])))


def skin_mask(rgb: np.ndarray, model: SkinModel) -> np.ndarray:
    """Which pixels of an RGB crop are skin: chroma close to the cheeks' (Mahalanobis
    distance < 4) and brightness from 45% to 160% of the cheeks' (hair and dark fabric fall
    below; white fabric and specular glare above)."""
    lab = to_lab(rgb)
    d = lab[..., 1:3] - model.mean_ab.astype(np.float32)
    ic = model.inv_cov.astype(np.float32)
    maha = ic[0, 0] * d[..., 0] ** 2 + 2 * ic[0, 1] * d[..., 0] * d[..., 1] + ic[1, 1] * d[..., 1] ** 2
    lum = lab[..., 0]
    return (maha < 16.0) & (lum > 0.45 * model.median_l) & (lum < 1.6 * model.median_l + 5)
