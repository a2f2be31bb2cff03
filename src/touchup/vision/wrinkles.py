"""The wrinkle index: how much dark, line-shaped structure a region holds, at a fixed
physical scale, in the region's expected line direction.

Method (photo-analysis.md, 3.1; chosen there for the best re-shoot repeatability):
1. Luminance = log(luma + 1) in the canonical frame (0.34 mm per pixel). The log makes a
   change of exposure an additive constant, which step 2 removes. Luma, not the green
   channel of the prototype: JPEG keeps luma at full resolution but halves the colour
   resolution, and green mixes that in; with luma the re-shoot variation dropped (e.g.
   forehead CV 2.0 -> 1.1 %, benchmarks/photo_accuracy.py).
2. Shading removed: minus a Gaussian blur of itself (sigma 0.06 of the eye-corner
   distance, about 5 mm). Nothing else: no per-image contrast stretch, no CLAHE, no filter
   that rescales itself to the image, because those make the same skin score differently
   from one photo to the next.
3. An even (cosine) Gabor bank, zero-mean, L1-normalised, wavelengths 6 and 10 px
   (2 and 3.4 mm), elongated along the line (aspect 0.5), orientations every 15 degrees
   inside the region's expected band (forehead and crow's feet around horizontal, glabella
   and neck bands around vertical).
4. Dark-line response max(0, -R), maximum over the bank, averaged over the region's skin
   pixels, times INDEX_SCALE. So the index is in units of log-luminance: 0.1 means the
   lines darken the skin by about 10 % averaged over the region's area times the filter's
   gain; 0 means no dark lines at all.
"""

from __future__ import annotations

import cv2
import numpy as np

from .align import CANONICAL_IOD

WAVELENGTHS = (6.0, 10.0)
ORIENTATION_STEP = 15.0
SHADING_SIGMA = 0.06 * CANONICAL_IOD
# Brings the index into a 0..1-ish range for the faces and lines seen so far.
INDEX_SCALE = 20.0

# Grade cut points on the index (0 none, 1 mild, 2 moderate, 3 severe; the Facial Wrinkle
# Scale's four steps). PROVISIONAL: placed on synthetic lines (docs/photos.md, "Grades")
# until clinician-graded photos exist to fit them; only the index is used for trends.
GRADE_CUTS = (0.15, 0.30, 0.50)


def grade(index: float) -> int:
    return int(np.searchsorted(GRADE_CUTS, index, side="right"))


_kernels: dict[tuple[float, float], np.ndarray] = {}


def gabor_kernel(wavelength: float, line_deg: float) -> np.ndarray:
    key = (wavelength, line_deg)
    k = _kernels.get(key)
    if k is None:
        sigma = 0.56 * wavelength
        # OpenCV's theta is the direction of the carrier (across the line).
        theta = np.deg2rad(line_deg + 90.0)
        half = int(np.ceil(2.5 * sigma / 0.5))
        k = cv2.getGaborKernel((2 * half + 1, 2 * half + 1), sigma, theta, wavelength, 0.5, 0.0,
                               ktype=cv2.CV_32F)
        k -= k.mean()
        k /= np.abs(k).sum()
        _kernels[key] = k
    return k


def orientations(centre: float, half_width: float) -> list[float]:
    n = int(half_width // ORIENTATION_STEP)
    return [centre + ORIENTATION_STEP * i for i in range(-n, n + 1)]


def flat_luminance(rgb: np.ndarray) -> np.ndarray:
    """log(Y+1) minus its own large-scale shading (float32). The shading blur runs at a
    quarter of the resolution: it only has to follow light falling across the face."""
    luma = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    lum = np.log1p(luma.astype(np.float32))
    h, w = lum.shape
    small = cv2.resize(lum, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    shade = cv2.GaussianBlur(small, (0, 0), SHADING_SIGMA / 4, borderType=cv2.BORDER_REFLECT)
    return lum - cv2.resize(shade, (w, h), interpolation=cv2.INTER_LINEAR)


# Filtering is done by FFT: one forward transform of the crop, then one product and inverse
# per kernel (about 3x faster than spatial convolution with these 35-59 px kernels). Crops
# are padded to a few fixed sizes so the kernels' spectra can be cached across photos.
_SIZE_STEP = 32
_spectra: dict[tuple, np.ndarray] = {}
_SPECTRA_CAP = 256


def _spectrum(wavelength: float, line_deg: float, h: int, w: int) -> np.ndarray:
    key = (wavelength, line_deg, h, w)
    spec = _spectra.get(key)
    if spec is None:
        k = gabor_kernel(wavelength, line_deg)
        kh, kw = k.shape
        padded = np.zeros((h, w), np.float32)
        padded[:kh, :kw] = k
        # Centre the kernel on the origin so responses are not shifted.
        padded = np.roll(padded, (-(kh // 2), -(kw // 2)), axis=(0, 1))
        spec = cv2.dft(padded)  # CCS-packed: half the work of a full complex spectrum
        if len(_spectra) >= _SPECTRA_CAP:
            _spectra.pop(next(iter(_spectra)))
        _spectra[key] = spec
    return spec


def kernel_margin() -> int:
    """How far past a region the filters look (half the largest kernel)."""
    return max(gabor_kernel(wl, 0.0).shape[0] for wl in WAVELENGTHS) // 2 + 1


def line_response(flat: np.ndarray, band: tuple[float, float], margin: int) -> np.ndarray:
    """Dark-line response (max over the bank of max(0, -Gabor response)) of the inside of a
    flattened-luminance crop that carries `margin` pixels of context on every side."""
    h, w = flat.shape[0] - 2 * margin, flat.shape[1] - 2 * margin
    ph = -(-flat.shape[0] // _SIZE_STEP) * _SIZE_STEP
    pw = -(-flat.shape[1] // _SIZE_STEP) * _SIZE_STEP
    padded = cv2.copyMakeBorder(flat, 0, ph - flat.shape[0], 0, pw - flat.shape[1],
                                cv2.BORDER_REFLECT)
    spec = cv2.dft(padded)
    best = np.zeros((h, w), np.float32)
    for wl in WAVELENGTHS:
        for ang in orientations(*band):
            prod = cv2.mulSpectrums(spec, _spectrum(wl, ang, ph, pw), 0)
            r = cv2.idft(prod, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE)
            np.maximum(best, -r[margin:margin + h, margin:margin + w], out=best)
    return best


def wrinkle_index(response: np.ndarray, mask: np.ndarray) -> float:
    """Mean dark-line response over the mask, scaled."""
    return float(response[mask].mean() * INDEX_SCALE)
