"""Which photos a patient takes for their treated areas, and how. Wear-off shows first in
movement, so each area has the moving view that measures it (touchup.core.photo_rules.AREA_VIEW),
plus the face at rest."""

from __future__ import annotations

from dataclasses import dataclass

from touchup.clinic.models import PhotoView
from touchup.core.photo_rules import AREA_VIEW


@dataclass(frozen=True)
class Shot:
    view: str
    name: str
    how: str
    asked: str = ""  # in a sentence: "Today we ask for a frown and eyebrows raised."


SHOTS = {
    PhotoView.AT_REST: Shot(PhotoView.AT_REST, "Face at rest", "Look straight at the camera with a relaxed face.",
                            "your face at rest"),
    PhotoView.FROWN: Shot(PhotoView.FROWN, "Frown", "Frown hard, as if you were cross, and hold it.", "a frown"),
    PhotoView.BROWS_RAISED: Shot(PhotoView.BROWS_RAISED, "Eyebrows raised", "Raise your eyebrows as high as you can.",
                                 "eyebrows raised"),
    PhotoView.SMILE_SQUINT: Shot(PhotoView.SMILE_SQUINT, "Big smile", "Smile widely so your eyes crinkle.",
                                 "a big smile"),
    PhotoView.NECK_TENSED: Shot(PhotoView.NECK_TENSED, "Neck tensed",
                                "Pull the corners of your mouth down hard so the cords in your neck show.",
                                "your neck tensed"),
}


def ask_phrase(views: list[str] | tuple[str, ...]) -> str:
    """The views asked for, in words: "a frown", "a frown and eyebrows raised", "a frown,
    eyebrows raised and a big smile". Shown on the page behind the sign-in, never in a
    message (a lock screen would say what was treated)."""
    words = [SHOTS[v].asked for v in views]
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]
TIPS = (
    "Face a window in daylight; no flash, no light behind you.",
    "Hold the phone at eye level, an arm's length away, straight on.",
    "Hair off your forehead, glasses off.",
    "Take them the same way every time: that is what makes them comparable.",
)


def shots_for(areas: list[str]) -> list[Shot]:
    """The views for these areas, at rest first; none for areas photos do not measure."""
    views = [AREA_VIEW[a] for a in areas if a in AREA_VIEW]
    if not views:
        return []
    return [SHOTS[PhotoView.AT_REST]] + [SHOTS[v] for v in dict.fromkeys(views)]
