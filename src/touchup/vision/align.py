"""Alignment: from a photo to the canonical frame, and from a follow-up to its baseline.

The canonical frame is upright, centred between the eyes, and has a fixed physical scale:
the outer eye corners are `CANONICAL_IOD` pixels apart (about 88 mm in adults, so one pixel
is about 0.34 mm). Wrinkle filters run in this frame, so their scale is tied to the face,
not to the camera's resolution or distance.

Without a baseline a photo is placed by its eye axis. With a baseline the follow-up is
fitted to the baseline's *stable* landmarks (canthi, nasal bridge, alar base; never brows,
forehead or mouth, which treatment and expression move) by a least-squares similarity
transform, and then shares the baseline's frame: the same patch of skin is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .landmarks import (
    LEFT_EYE_INNER, LEFT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER, STABLE, Landmarks,
)

CANONICAL_IOD = 256.0
# Canvas in units of the outer-canthal distance around the eye centre: wide enough for the
# crow's feet, tall enough for the forehead above and the neck below the chin.
CANVAS_X = (-1.25, 1.25)
CANVAS_Y = (-1.0, 2.75)
CANVAS_W = round((CANVAS_X[1] - CANVAS_X[0]) * CANONICAL_IOD)
CANVAS_H = round((CANVAS_Y[1] - CANVAS_Y[0]) * CANONICAL_IOD)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, shift) taking src onto dst
    (Umeyama 1991); a 2x3 matrix."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / (s ** 2).sum(axis=1).mean()
    m = np.empty((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ m[:, :2].T + m[:, 2]


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The 2x3 transform doing `inner` first, then `outer`."""
    m = np.empty((2, 3))
    m[:, :2] = outer[:, :2] @ inner[:, :2]
    m[:, 2] = outer[:, :2] @ inner[:, 2] + outer[:, 2]
    return m


def scale_of(m: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(m[:, :2]))))


def canonical_transform(lm: Landmarks) -> np.ndarray:
    """Image -> canonical canvas, from the eye axis: the midpoints of each eye's two corners
    fix position and angle, the outer-corner distance fixes the scale."""
    right = (lm.xy[RIGHT_EYE_OUTER] + lm.xy[RIGHT_EYE_INNER]) / 2
    left = (lm.xy[LEFT_EYE_OUTER] + lm.xy[LEFT_EYE_INNER]) / 2
    centre = (right + left) / 2
    axis = left - right
    angle = np.arctan2(axis[1], axis[0])
    s = CANONICAL_IOD / lm.outer_canthal_px
    c, si = np.cos(-angle) * s, np.sin(-angle) * s
    rot = np.array([[c, -si], [si, c]])
    origin = np.array([-CANVAS_X[0], -CANVAS_Y[0]]) * CANONICAL_IOD
    m = np.empty((2, 3))
    m[:, :2] = rot
    m[:, 2] = origin - rot @ centre
    return m


def to_baseline(follow: Landmarks, baseline: Landmarks) -> np.ndarray:
    """Follow-up image -> baseline image, fitted on the stable landmarks only."""
    idx = list(STABLE)
    return similarity(follow.xy[idx], baseline.xy[idx])


@dataclass(frozen=True)
class Canvas:
    """A photo warped into the canonical frame."""

    rgb: np.ndarray  # CANVAS_H x CANVAS_W x 3 uint8
    inside: np.ndarray  # bool mask: the pixel came from inside the photo
    matrix: np.ndarray  # 2x3, photo pixel -> canvas pixel
    source_iod: float  # outer-canthal distance in the photo's own pixels


def warp(rgb: np.ndarray, m: np.ndarray, source_iod: float) -> Canvas:
    """Warp into the canvas. When the photo has more pixels per millimetre than the canvas,
    the face is first low-passed to the canvas's resolution (a whole-factor area average,
    then a Gaussian for the rest), so the result does not alias and does not depend on the
    camera's resolution. Whole factors and a small Gaussian keep to OpenCV's fast paths: an
    area resize by an arbitrary factor is several times slower."""
    h, w = rgb.shape[:2]
    s = scale_of(m)
    if s >= 0.95:
        return _warp_plain(rgb, m, m, source_iod)
    # Crop what the canvas can see (with a margin for the filters).
    corners = np.array([[0, 0], [CANVAS_W, 0], [0, CANVAS_H], [CANVAS_W, CANVAS_H]], float)
    src = apply(cv2.invertAffineTransform(m), corners)
    x0, y0 = np.floor(src.min(axis=0)).astype(int) - 8
    x1, y1 = np.ceil(src.max(axis=0)).astype(int) + 8
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return _empty(m, source_iod)
    factor = 1.0 / s  # source pixels per canvas pixel
    k = int(factor) if factor >= 2 else 1
    cw, ch = (x1 - x0) // k * k, (y1 - y0) // k * k
    crop = rgb[y0:y0 + ch, x0:x0 + cw]
    if k > 1:
        crop = cv2.resize(crop, (cw // k, ch // k), interpolation=cv2.INTER_AREA)
    rest = factor / k
    if rest > 1.05:
        crop = cv2.GaussianBlur(crop, (0, 0), 0.5 * np.sqrt(rest * rest - 1.0))
    pre = np.array([[1.0 / k, 0, -x0 / k], [0, 1.0 / k, -y0 / k]])
    residual = compose(m, cv2.invertAffineTransform(pre))
    return _warp_plain(crop, residual, m, source_iod)


def _warp_plain(img: np.ndarray, m_img: np.ndarray, m_full: np.ndarray, iod: float) -> Canvas:
    out = cv2.warpAffine(img, m_img, (CANVAS_W, CANVAS_H), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    # The photo's outline lands on the canvas as a parallelogram; a pixel is "inside" when
    # it lies in it (half a pixel in from the edge, where replicated border starts).
    h, w = img.shape[:2]
    corners = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], float)
    quad = apply(m_img, corners)
    centre = quad.mean(axis=0)
    quad = centre + (quad - centre) * (1 - 1.0 / max(np.linalg.norm(quad - centre, axis=1).min(), 1.0))
    inside = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    cv2.fillConvexPoly(inside, np.round(quad * 16).astype(np.int32), 1, cv2.LINE_8, 4)
    return Canvas(out, inside.astype(bool), m_full, iod)


def _empty(m: np.ndarray, iod: float) -> Canvas:
    return Canvas(np.zeros((CANVAS_H, CANVAS_W, 3), np.uint8),
                  np.zeros((CANVAS_H, CANVAS_W), bool), m, iod)


# Dense refinement against the baseline: the landmark fit leaves the detector's own jitter
# (MediaPipe's mesh scale alone varies by ~0.7 % between re-shoots), which slides the regions
# over the skin. ECC (Evangelidis & Psarakis 2008) on a patch that treatment does not change
# - eyes, nasal bridge, upper cheeks; not the brows, forehead or glabella - removes it.
_ECC_ROWS = (0.95, 1.75)  # canvas rows in units of u from the top (the eye line is at 1.0)
_ECC_COLS = (0.55, 1.95)
_ECC_MAX_SHIFT = 0.05  # of u; a larger correction means ECC locked onto something else
_ECC_MAX_SCALE = 0.05


def refine_to_baseline(base_rgb: np.ndarray, photo_rgb: np.ndarray) -> np.ndarray | None:
    """An affine correction (2x3, photo canvas -> baseline canvas) that lines up the stable
    patch of two canvases, or None when ECC does not converge or asks for an implausibly
    large move."""
    u = CANONICAL_IOD
    y0, y1 = int(_ECC_ROWS[0] * u), int(_ECC_ROWS[1] * u)
    x0, x1 = int(_ECC_COLS[0] * u), int(_ECC_COLS[1] * u)
    tpl = cv2.cvtColor(np.ascontiguousarray(base_rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    img = cv2.cvtColor(np.ascontiguousarray(photo_rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    wm = np.eye(2, 3, dtype=np.float32)
    try:
        _, wm = cv2.findTransformECC(tpl.astype(np.float32), img.astype(np.float32), wm,
                                     cv2.MOTION_AFFINE,
                                     (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4),
                                     None, 5)
    except cv2.error:
        return None
    lin = wm[:, :2].astype(float)
    sv = np.linalg.svd(lin, compute_uv=False)
    if np.abs(wm[:, 2]).max() > _ECC_MAX_SHIFT * u or np.abs(sv - 1).max() > _ECC_MAX_SCALE:
        return None
    # wm takes baseline-patch coordinates to photo-patch coordinates.
    to_patch = np.array([[1.0, 0, -x0], [0, 1.0, -y0]])
    from_patch = np.array([[1.0, 0, x0], [0, 1.0, y0]])
    base_to_photo = compose(from_patch, compose(wm.astype(float), to_patch))
    return cv2.invertAffineTransform(base_to_photo)
