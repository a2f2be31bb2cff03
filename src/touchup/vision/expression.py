"""Is the face making the expression its view asks for? Only what the toxin cannot cause.

In the dynamic views the missing movement of a treated muscle is the treatment's effect: a
treated forehead cannot raise the brows, a treated glabella cannot frown, a treated
orbicularis squints less. So brow height, the distance between the brows, forehead
movement and how narrow the eyes are in a squint are never checked here: flagging them
would refuse exactly the photos that show the toxin working. What is checked
(docs/photos.md, "Expression"):

- the smile, from the mouth (zygomaticus major, which is never injected for these areas):
  the smile-and-squint view needs one; the at-rest, frown and raised-brows views must not
  have one. The tensed-neck view is not checked: platysma contraction pulls the mouth
  corners down and wide.
- a blink: both eyes closed in any view but smile-and-squint (a squint narrows the eyes).

Each rule flags only a clear case; between "clearly smiling" and "clearly not smiling" is
a band where nothing is said. When the patient's baseline photo of the same view is given,
it can only take a flag back (this patient's face looks like that in their own baseline
too), never add one. The limits are provisional: they come from the few real portraits
available offline and warped copies of them, not from clinic photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .landmarks import (
    LEFT_EYE_INNER, LEFT_EYE_OUTER, RIGHT_EYE_INNER, RIGHT_EYE_OUTER, SYMMETRIC_PAIRS, Landmarks,
)

# The views (the values of touchup.clinic.models.PhotoView; this package has no Django).
VIEWS = ("at_rest", "frown", "brows_raised", "smile_squint", "neck_tensed")
SMILE_NEEDED = frozenset({"smile_squint"})
NO_SMILE = frozenset({"at_rest", "frown", "brows_raised"})
EYES_OPEN = frozenset({"at_rest", "frown", "brows_raised", "neck_tensed"})

# Mouth corners (patient's right, left) and the inner lip midpoints (upper, lower).
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
LIP_UPPER_INNER, LIP_LOWER_INNER = 13, 14
# Upper and lower lid midpoints of each eye (patient's right, left).
LIDS = ((159, 145, RIGHT_EYE_OUTER, RIGHT_EYE_INNER), (386, 374, LEFT_EYE_OUTER, LEFT_EYE_INNER))

# Smiling: the mouth at least this wide AND both corners at least this high, in outer
# eye-corner distances. Measured (docs/photos.md): smiles 0.69-0.78 wide with the lower
# corner 0.064-0.106 up; faces not smiling 0.48-0.62 wide, the lower corner at most 0.035
# up and the higher at most 0.050 (a wide-open mouth).
SMILE_MIN_WIDTH = 0.66
SMILE_MIN_LIFT = 0.055
# Clearly not smiling: narrower than this AND neither corner this high.
REST_MAX_WIDTH = 0.64
REST_MAX_LIFT = 0.05
# With a baseline of the same view, a flag stands only if the photo differs from it that
# way by at least this much: width by 8 % or a corner lift by 0.03 (landmark re-detection
# moves a point by about 0.01).
WIDTH_CHANGE = 0.08
LIFT_CHANGE = 0.03
# Both eyes closed: lid gap over eye width below this in both eyes, on the attention mesh
# (open eyes 0.20-0.42, 0.18 in a face turned 40°; painted-shut eyes it follows 0.04-0.11).
# A drooping lid, the toxin's rare complication, narrows one eye by a fraction, not to this.
CLOSED_EYE = 0.12
# With a baseline: and both eyes at most this fraction of the baseline's opening.
CLOSED_VS_BASELINE = 0.6


@dataclass(frozen=True)
class Mouth:
    width: float  # corner to corner, in outer eye-corner distances
    lift_low: float  # the lower corner's height above the middle of the lips
    lift_high: float  # the higher corner's


def mouth(lm: Landmarks) -> Mouth:
    """Mouth width and corner lift in the face's own 3-D frame (the frame of
    quality.pose_deg), so that a chin tilted up or down does not read as a smile or its
    absence: the corners sit further back than the lips' middle and move on screen with
    the head's pitch."""
    p = np.column_stack([lm.xy, lm.z])
    x = sum(p[left] - p[right] for right, left in SYMMETRIC_PAIRS)
    x = x / np.linalg.norm(x)
    down = p[2] - p[168]
    y = down - x * np.dot(down, x)
    y = y / np.linalg.norm(y)
    u = float(np.linalg.norm(p[LEFT_EYE_OUTER] - p[RIGHT_EYE_OUTER]))
    middle = (p[LIP_UPPER_INNER] + p[LIP_LOWER_INNER]) / 2
    lifts = [float(np.dot(middle - p[c], y)) / u for c in (MOUTH_RIGHT, MOUTH_LEFT)]
    width = float(np.linalg.norm(p[MOUTH_LEFT] - p[MOUTH_RIGHT])) / u
    return Mouth(width, min(lifts), max(lifts))


def eye_openings(lm: Landmarks) -> tuple[float, float]:
    """(right, left) lid gap over eye width, from attention-mesh landmarks (the plain mesh
    hardly follows a closed lid: docs/photos.md)."""
    xy = lm.xy
    return tuple(float(np.linalg.norm(xy[a] - xy[b]) / np.linalg.norm(xy[c] - xy[d]))
                 for a, b, c, d in LIDS)  # type: ignore[return-value]


def smiling(m: Mouth, base: Mouth | None = None) -> bool:
    if not (m.width >= SMILE_MIN_WIDTH and m.lift_low >= SMILE_MIN_LIFT):
        return False
    if base is None:
        return True
    return m.width >= base.width * (1 + WIDTH_CHANGE) or m.lift_low >= base.lift_low + LIFT_CHANGE


def not_smiling(m: Mouth, base: Mouth | None = None) -> bool:
    if not (m.width < REST_MAX_WIDTH and m.lift_high < REST_MAX_LIFT):
        return False
    if base is None:
        return True
    return m.width <= base.width * (1 - WIDTH_CHANGE) or m.lift_high <= base.lift_high - LIFT_CHANGE


def eyes_closed(eyes: tuple[float, float], base: tuple[float, float] | None = None) -> bool:
    if not all(e < CLOSED_EYE for e in eyes):
        return False
    if base is None:
        return True
    return all(e <= CLOSED_VS_BASELINE * b for e, b in zip(eyes, base))


def problems_for(view: str, m: Mouth, eyes: tuple[float, float] | None, *,
                 base_mouth: Mouth | None = None,
                 base_eyes: tuple[float, float] | None = None) -> list[str]:
    """The expression problems of a photo taken for `view`, as plain sentences. `eyes` is
    None when the attention mesh found no face (no blink check then)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
    out = []
    if view in SMILE_NEEDED and not_smiling(m, base_mouth):
        out.append("The face is not smiling; for this view smile broadly and squint.")
    if view in NO_SMILE and smiling(m, base_mouth):
        out.append("The mouth is smiling; for this view relax the mouth (no smile).")
    if view in EYES_OPEN and eyes is not None and eyes_closed(eyes, base_eyes):
        out.append("Both eyes are closed; take the photo again with the eyes open.")
    return out
