"""Face landmarks behind a small interface.

`LandmarkDetector.detect(rgb)` returns the 468 points of the MediaPipe face mesh topology
in pixel coordinates of the image it was given, or None when there is no face. The one
implementation here runs MediaPipe FaceMesh 0.10.21 with the model files that ship inside
its wheel: nothing is downloaded, it works offline. Another backend only has to return
the same point numbering (the regions and the alignment are written against it).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

# Face-mesh point numbers used elsewhere. "right"/"left" are the patient's own sides:
# the patient's right eye is on the left of a frontal photo.
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_OUTER, LEFT_EYE_INNER = 263, 362
NASION, NOSE_TIP, CHIN, FOREHEAD_TOP = 168, 4, 152, 10
# Points that neither toxin nor expression moves much: canthi, nasal bridge and dorsum, alar
# base (photo-analysis.md 1.6). Brows, forehead and mouth are deliberately left out.
STABLE = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 98, 327)
# Symmetric pairs (patient's right, patient's left) for the pose estimate.
SYMMETRIC_PAIRS = ((33, 263), (133, 362), (234, 454), (127, 356), (98, 327), (93, 323))

# Landmarks are found on a copy whose long side is at most this: the mesh model's input is
# 192 px, so a bigger picture only costs time. The copy is shrunk by a whole factor, which
# OpenCV's area resize does several times faster than an arbitrary one.
DETECT_MAX_SIDE = 800


@dataclass(frozen=True)
class Landmarks:
    """468 face-mesh points: `xy` in pixels of the analysed image, `z` relative depth in the
    same pixel units (larger is farther from the camera)."""

    xy: np.ndarray  # (468, 2) float64
    z: np.ndarray  # (468,) float64

    def scaled(self, factor: float) -> Landmarks:
        return Landmarks(self.xy * factor, self.z * factor)

    @property
    def outer_canthal_px(self) -> float:
        return float(np.linalg.norm(self.xy[LEFT_EYE_OUTER] - self.xy[RIGHT_EYE_OUTER]))


class LandmarkDetector(Protocol):
    def detect(self, rgb: np.ndarray) -> Landmarks | None:
        """Face-mesh landmarks of the largest face in an RGB uint8 image, or None."""


class MediaPipeFaceMesh:
    """MediaPipe FaceMesh (static images, one face, 468 points), model from the wheel.

    `refine=True` runs the attention mesh instead (MediaPipe's refine_landmarks): its
    eyelid points follow a closed eye, which the plain mesh hardly does (docs/photos.md,
    "Expression"). Its points are not the plain mesh's, so only the blink check uses it;
    alignment and regions stay on the plain mesh."""

    def __init__(self, min_confidence: float = 0.5, *, refine: bool = False):
        self._min_confidence = min_confidence
        self._refine = refine
        self._mesh = None
        # FaceMesh keeps graph state: one call at a time per instance.
        self._lock = threading.Lock()

    def _graph(self):
        if self._mesh is None:
            # MediaPipe's C++ logging goes to stderr; keep it to errors (before the import).
            os.environ.setdefault("GLOG_minloglevel", "2")
            from mediapipe.python.solutions import face_mesh  # ~0.5 s import, only when used

            self._mesh = face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=self._refine,
                min_detection_confidence=self._min_confidence,
            )
        return self._mesh

    def detect(self, rgb: np.ndarray) -> Landmarks | None:
        found = self._detect_whole(rgb)
        if found is None:
            # MediaPipe's face detector is the short-range one: it misses a face that fills
            # less than about a quarter of the picture. Clinic photos put the face in the
            # middle, so look again at the middle half.
            h, w = rgb.shape[:2]
            y0, x0 = h // 4, w // 4
            inner = self._detect_whole(rgb[y0:y0 + h // 2, x0:x0 + w // 2])
            if inner is not None:
                found = Landmarks(inner.xy + (x0, y0), inner.z)
        return found

    def _detect_whole(self, rgb: np.ndarray) -> Landmarks | None:
        h, w = rgb.shape[:2]
        if min(h, w) < 32:
            return None
        k = -(-max(h, w) // DETECT_MAX_SIDE)
        small = rgb
        if k > 1:
            small = cv2.resize(rgb[: h // k * k, : w // k * k], (w // k, h // k),
                               interpolation=cv2.INTER_AREA)
        sh, sw = small.shape[:2]
        with self._lock:
            result = self._graph().process(np.ascontiguousarray(small))
        if not result.multi_face_landmarks:
            return None
        pts = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark],
                       dtype=np.float64)[:468]
        # MediaPipe gives x, y as fractions of the image and z in units of the image width.
        xy = np.stack([pts[:, 0] * sw, pts[:, 1] * sh], axis=1) * k
        z = pts[:, 2] * sw * k
        return Landmarks(xy, z)


_default: MediaPipeFaceMesh | None = None
_default_lock = threading.Lock()


def default_detector() -> LandmarkDetector:
    """One shared MediaPipe detector per process (its graph is built once)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MediaPipeFaceMesh()
        return _default


_eyes: MediaPipeFaceMesh | None = None


def default_eye_detector() -> LandmarkDetector:
    """One shared attention-mesh detector per process, for the blink check."""
    global _eyes
    with _default_lock:
        if _eyes is None:
            _eyes = MediaPipeFaceMesh(refine=True)
        return _eyes
