"""Is this photo good enough to measure: pose, sharpness, exposure, face size.

Each failed check becomes one plain sentence in `problems`; `usable` is true only when
there are none. The limits below are the capture gates of photo-analysis.md (1.5): the
measurement's biggest errors come from capture (tone curve, clipping, focus, pose), not
from the algorithm, so a bad capture is flagged instead of scored silently.
"""

from __future__ import annotations

import cv2
import numpy as np

from .align import CANONICAL_IOD
from .landmarks import SYMMETRIC_PAIRS, Landmarks

MAX_YAW_DEG = 15.0
MAX_PITCH_DEG = 15.0
MAX_ROLL_DEG = 20.0  # roll is undone by the alignment; only extreme tilt is refused
MAX_POSE_CHANGE_DEG = 8.0  # against the baseline, yaw or pitch
MIN_IOD_PX = 0.75 * CANONICAL_IOD  # eye corners this far apart in the photo, at least
MIN_SHARPNESS = 0.35
DARK_MEDIAN, BRIGHT_MEDIAN = 60.0, 205.0  # face-skin median of the 0..255 luma
MAX_CLIPPED = 0.005  # share of face pixels with luma at 250+ (or 5-)

# Pitch measured by the nasion->subnasale direction has an offset from the mesh's own
# geometry; this is that direction's tilt on frontal photos (astronaut, Grace Hopper).
_PITCH_OFFSET_DEG = 0.0


def pose_deg(lm: Landmarks) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from the 3-D face mesh.

    yaw > 0: the patient has turned towards their own left; pitch > 0: chin up;
    roll > 0: the head is tilted clockwise on screen (towards the patient's left shoulder).
    """
    p = np.column_stack([lm.xy, lm.z])
    x = sum(p[left] - p[right] for right, left in SYMMETRIC_PAIRS)
    x = x / np.linalg.norm(x)
    down = p[2] - p[168]  # nasion -> subnasale: neither toxin nor expression moves these
    y = down - x * np.dot(down, x)
    y = y / np.linalg.norm(y)
    yaw = np.degrees(np.arctan2(x[2], np.hypot(x[0], x[1])))
    roll = np.degrees(np.arctan2(x[1], x[0]))
    pitch = -np.degrees(np.arctan2(y[2], y[1])) - _PITCH_OFFSET_DEG
    return float(yaw), float(pitch), float(roll)


def sharpness(gray_eyes: np.ndarray) -> float:
    """0 (blurred) .. 1 (sharp) at the canonical scale, from the eye area, which has strong
    detail on every face (lashes, lid margins, iris edge): the share of the fine-scale
    band-pass energy (sigma 0.7 px vs 1.4 px, about 0.25 vs 0.5 mm) in the fine plus
    medium bands, divided by what a sharp photo reaches (0.5), capped at 1."""
    g = gray_eyes.astype(np.float32)
    b1 = cv2.GaussianBlur(g, (0, 0), 0.7)
    b2 = cv2.GaussianBlur(g, (0, 0), 1.4)
    b3 = cv2.GaussianBlur(g, (0, 0), 2.8)
    fine = float(np.mean((g - b1) ** 2) + np.mean((b1 - b2) ** 2))
    medium = float(np.mean((b2 - b3) ** 2))
    if fine + medium <= 1e-9:
        return 0.0
    return float(min(1.0, (fine / (fine + medium)) / 0.5))


def exposure(face_rgb: np.ndarray, mask: np.ndarray | None = None) -> tuple[str, float, float, float]:
    """("ok" | "dark" | "bright", median luma, clipped-high share, clipped-low share) over the
    face pixels: an (h, w, 3) uint8 crop with a bool mask, or (n, 3) pixels."""
    if face_rgb.ndim == 2:
        face_rgb, mask = face_rgb[None], np.ones((1, len(face_rgb)), bool)
    if mask is None:
        mask = np.ones(face_rgb.shape[:2], bool)
    n = int(mask.sum())
    if n == 0:
        return "ok", 0.0, 0.0, 0.0
    luma_all = cv2.cvtColor(np.ascontiguousarray(face_rgb), cv2.COLOR_RGB2GRAY)
    luma = luma_all[mask]
    med = float(np.median(luma))
    # Clipping is counted in luma, which the wrinkle index measures (a pale face often
    # saturates red alone, which loses colour, not lines).
    top = luma_all[mask]
    hi = float(np.count_nonzero(top >= 250)) / n
    lo = float(np.count_nonzero(top <= 5)) / n
    if med > BRIGHT_MEDIAN or hi > 4 * MAX_CLIPPED:
        label = "bright"
    elif med < DARK_MEDIAN or lo > 4 * MAX_CLIPPED:
        label = "dark"
    else:
        label = "ok"
    return label, med, hi, lo


class Problem(str):
    """One quality problem. The string itself is the measured sentence the staff capture
    page shows ("eye corners 62 px apart, at least 192 needed"); `code` names the problem
    and `for_patient` gives the same advice in a patient's words, without the numbers.
    A str, so the lists of problems stored and sent as JSON stay lists of sentences."""

    code: str
    for_patient: str

    def __new__(cls, text: str, *, code: str, for_patient: str) -> "Problem":
        self = super().__new__(cls, text)
        self.code, self.for_patient = code, for_patient
        return self


def problems_for(*, pose, sharp, exposure_label, clipped_hi, clipped_lo, source_iod,
                 pose_change=None) -> list[Problem]:
    out = []
    yaw, pitch, roll = pose
    if abs(yaw) > MAX_YAW_DEG:
        out.append(Problem(f"The head is turned {abs(yaw):.0f}° to the side (limit {MAX_YAW_DEG:.0f}°); "
                           "face the camera.", code="head_turned",
                           for_patient="Your head is turned to the side: face the camera straight on."))
    if abs(pitch) > MAX_PITCH_DEG:
        way = "up" if pitch > 0 else "down"
        out.append(Problem(f"The chin is tilted {abs(pitch):.0f}° {way} (limit {MAX_PITCH_DEG:.0f}°); "
                           "keep the head level.", code="chin_tilted",
                           for_patient=f"Your chin is tilted {way}: keep your head level, eyes on the camera."))
    if abs(roll) > MAX_ROLL_DEG:
        out.append(Problem(f"The head is tilted {abs(roll):.0f}° sideways (limit {MAX_ROLL_DEG:.0f}°).",
                           code="head_tilted", for_patient="Your head is tilted to one side: hold it straight."))
    if source_iod < MIN_IOD_PX:
        out.append(Problem(f"The face is too small in the picture (eye corners {source_iod:.0f} px apart, "
                           f"at least {MIN_IOD_PX:.0f} needed); move closer or use full resolution.",
                           code="face_too_small",
                           for_patient="Your face is too small in the photo: move closer, so your face fills "
                                       "most of the frame."))
    if sharp < MIN_SHARPNESS:
        out.append(Problem(f"The photo is not sharp enough (sharpness {sharp:.2f}, at least "
                           f"{MIN_SHARPNESS:.2f}); hold still and focus on the eyes.", code="blurred",
                           for_patient="The photo is blurred: hold the phone still and let it focus on your eyes."))
    if exposure_label == "dark":
        out.append(Problem("The face is too dark; add diffuse light from the front.", code="too_dark",
                           for_patient="The photo is too dark: face a window or a soft light."))
    elif exposure_label == "bright":
        out.append(Problem("The face is too bright; lower the exposure or soften the light.", code="too_bright",
                           for_patient="The photo is too bright: move out of direct sunlight or strong light."))
    if clipped_hi > MAX_CLIPPED:
        out.append(Problem(f"Highlights are clipped on {clipped_hi:.1%} of the face (limit "
                           f"{MAX_CLIPPED:.1%}); avoid flash and direct light.", code="highlights_clipped",
                           for_patient="Parts of your face are too bright to see: turn off the flash and "
                                       "avoid direct light."))
    if clipped_lo > MAX_CLIPPED:
        out.append(Problem(f"Shadows are crushed to black on {clipped_lo:.1%} of the face; add light.",
                           code="shadows_crushed",
                           for_patient="Parts of your face are in deep shadow: add light from the front."))
    if pose_change is not None:
        dyaw, dpitch, droll = pose_change
        if max(abs(dyaw), abs(dpitch)) > MAX_POSE_CHANGE_DEG:
            out.append(Problem(f"The head pose differs from the baseline photo (yaw {dyaw:+.0f}°, pitch "
                               f"{dpitch:+.0f}°, limit {MAX_POSE_CHANGE_DEG:.0f}°); retake it matching "
                               "the baseline.", code="pose_differs",
                               for_patient="Your head is held differently from your first photo: face the "
                                           "camera the way you did then."))
    return out
