"""Synthetic wrinkles and re-shoots for validating the measurement (tests, benchmarks).

Real graded photos of the same patient are not available offline, so accuracy is checked
the way photo-analysis.md (3.1) did: lines of known depth are painted into each region of a
real face photo, anatomically oriented, and the photo is re-shot by simulation (shift,
scale, tilt, exposure, JPEG quality). A line is a multiplicative darkening with a Gaussian
cross-section (sigma 0.5 mm) and tapered ends; "depth" is the darkening at its centre
(0.10 = 10 % darker).
"""

from __future__ import annotations

import cv2
import numpy as np

from .align import CANONICAL_IOD, CANVAS_H, CANVAS_W, apply, canonical_transform
from .landmarks import Landmarks
from .regions import region_polygons

LINE_SIGMA = 1.5  # canvas pixels, about 0.5 mm
_SUPER = 4  # supersampling of the drawn lines


def _segments(name: str, poly: np.ndarray, count: int) -> list[np.ndarray]:
    """Polylines (canvas pixels) for `count` lines inside a region polygon."""
    x0, y0 = poly.min(axis=0)
    x1, y1 = poly.max(axis=0)
    u = CANONICAL_IOD
    lines = []
    if name == "forehead":
        # Gently arched horizontal lines across the middle 80 % of the band.
        for i in range(count):
            y = y0 + (y1 - y0) * (0.3 + 0.5 * (i + 0.5) / count)
            xs = np.linspace(x0 + 0.1 * (x1 - x0), x1 - 0.1 * (x1 - x0), 40)
            xc = (x0 + x1) / 2
            ys = y + 0.08 * u * ((xs - xc) / (x1 - x0)) ** 2 * 4
            lines.append(np.column_stack([xs, ys]))
    elif name in ("glabella", "platysma"):
        for i in range(count):
            x = x0 + (x1 - x0) * (0.25 + 0.5 * (i + 0.5) / count)
            ys = np.linspace(y0 + 0.15 * (y1 - y0), y1 - 0.15 * (y1 - y0), 30)
            xs = x + 0.02 * u * np.sin(np.linspace(0, np.pi, len(ys)))
            lines.append(np.column_stack([xs, ys]))
    else:  # crow's feet: a fan opening away from the eye
        left = name == "crows_feet_left"  # patient's left = image right
        near = x0 if left else x1
        far = x1 if left else x0
        cy = (y0 + y1) / 2
        for i in range(count):
            ang = np.deg2rad(-25 + 50 * (i + 0.5) / count)
            t = np.linspace(0.15, 0.9, 30)
            xs = near + (far - near) * t
            ys = cy + (far - near) * t * np.tan(ang) * (1 if left else -1)
            lines.append(np.column_stack([xs, ys]))
    return lines


def line_map(landmarks: Landmarks, regions: dict[str, float], count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Darkening profile in the canvas (0..1 times each region's depth) and the matrix
    photo -> canvas. `regions` maps region name -> depth."""
    m = canonical_transform(landmarks)
    polys = region_polygons(apply(m, landmarks.xy))
    big = np.zeros((CANVAS_H * _SUPER, CANVAS_W * _SUPER), np.float32)
    for name, depth in regions.items():
        if depth <= 0:
            continue
        for line in _segments(name, polys[name], count):
            n = len(line)
            taper = np.sin(np.linspace(0, np.pi, n - 1)) ** 0.5  # tapered ends
            pts = np.round(line * _SUPER).astype(np.int32)
            for k in range(n - 1):
                cv2.line(big, tuple(map(int, pts[k])), tuple(map(int, pts[k + 1])),
                         float(depth * taper[k]), 1, cv2.LINE_AA)
    small = cv2.resize(big, (CANVAS_W, CANVAS_H), interpolation=cv2.INTER_AREA) * _SUPER
    # A 1-px line blurred with sigma s peaks at 1/(sqrt(2 pi) s): rescale to peak = depth.
    prof = cv2.GaussianBlur(small, (0, 0), LINE_SIGMA) * (np.sqrt(2 * np.pi) * LINE_SIGMA)
    return prof, m


def paint_lines(rgb: np.ndarray, landmarks: Landmarks, regions: dict[str, float],
                count: int = 3) -> np.ndarray:
    """The photo with lines painted into the named regions at the given depths."""
    prof, m = line_map(landmarks, regions, count)
    h, w = rgb.shape[:2]
    back = cv2.warpAffine(prof, m, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = rgb.astype(np.float32) * (1.0 - np.clip(back, 0, 0.95))[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def reshoot(rgb: np.ndarray, rng: np.random.Generator, **kw) -> np.ndarray:
    """A simulated second capture: random shift (fraction of the width), scale, in-plane
    tilt, exposure gain, sensor noise (sigma in 0..255) and a JPEG round trip (see
    `reshoot_jpeg` for the settings)."""
    enc = np.frombuffer(reshoot_jpeg(rgb, rng, **kw), np.uint8)
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def reshoot_jpeg(rgb: np.ndarray, rng: np.random.Generator, *, shift_px: float = 0.02,
                 scale: float = 0.05, tilt_deg: float = 3.0, exposure: float = 0.05,
                 noise: float = 2.0, jpeg_quality: tuple[int, int] = (85, 95)) -> bytes:
    """`reshoot` as the JPEG file the camera would write (same random draws, same bytes)."""
    h, w = rgb.shape[:2]
    ang = rng.uniform(-tilt_deg, tilt_deg)
    s = 1 + rng.uniform(-scale, scale)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), ang, s)
    m[:, 2] += rng.uniform(-shift_px, shift_px, 2) * w
    out = cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    gain = 1 + rng.uniform(-exposure, exposure)
    out = out.astype(np.float32) * gain + rng.normal(0, noise, out.shape).astype(np.float32)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    q = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:  # pragma: no cover - only on out-of-memory
        raise RuntimeError("JPEG encoding failed")
    return enc.tobytes()


def with_exif_preview(jpeg: bytes, width: int = 160, orientation: int = 1) -> bytes:
    """The JPEG with an EXIF block holding an orientation tag and a small JPEG preview in
    IFD1, as phones and cameras write it (for testing the preview-guided decode)."""
    import struct

    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    small = cv2.resize(img, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, enc = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
    thumb = enc.tobytes()
    # Big-endian TIFF: header, IFD0 (Orientation), IFD1 (Compression, offset, length), data.
    ifd0 = 8
    ifd0_size = 2 + 12 * 1 + 4
    ifd1 = ifd0 + ifd0_size
    ifd1_size = 2 + 12 * 3 + 4
    data_at = ifd1 + ifd1_size
    tiff = b"MM\x00*" + struct.pack(">I", ifd0)
    tiff += struct.pack(">H", 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(">I", ifd1)
    tiff += struct.pack(">H", 3)
    tiff += struct.pack(">HHIHH", 0x0103, 3, 1, 6, 0)
    tiff += struct.pack(">HHII", 0x0201, 4, 1, data_at)
    tiff += struct.pack(">HHII", 0x0202, 4, 1, len(thumb))
    tiff += struct.pack(">I", 0) + thumb
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]
