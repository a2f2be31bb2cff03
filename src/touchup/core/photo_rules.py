"""What may happen to a follow-up photo after it is kept: its two consents and how they
change, why a photo may be removed, and which photo of a view is the baseline.

Pure Python (no Django): touchup.clinic.services.photos applies these rules to the rows.

- Clinical use is what the photo is kept for: measured (the wrinkle index feeds the
  forecast), compared, used as the baseline its view is aligned to. Withdrawing it stops
  all of that, but the photo stays in the clinical record (records have to be kept for
  years); only a removal deletes the file.
- Marketing use is separate and never needed.
- A removal deletes the stored file and keeps the row as a tombstone, with who, when and
  one of the reasons below.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

# Which areas each standard view measures. Wear-off shows first in movement, so each area
# has the moving view made for it, and only that view writes the area's wrinkle index: a
# resting glabella and a frowning one are different numbers, and mixing them in one series
# would make the forecast read noise as change. The at-rest photo is analysed and shown,
# but feeds no series. (The view keys are touchup.clinic.models.PhotoView's values.)
VIEW_AREAS: dict[str, tuple[str, ...]] = {
    "at_rest": (),
    "frown": ("glabella",),
    "brows_raised": ("forehead",),
    "smile_squint": ("crows_feet",),
    "neck_tensed": ("platysma",),
}

# The view that measures each area: the one a follow-up photo of the area is taken in.
AREA_VIEW: dict[str, str] = {area: view for view, areas in VIEW_AREAS.items() for area in areas}



def watch_views(leading: str, areas: Iterable[str]) -> tuple[str, ...]:
    """The photo views the wear-off watch asks for, in one message, for a treatment of
    `areas` whose watch follows `leading`: the view of every treated area a photo
    measures, each once, the leading area's first (a patient who takes only one photo
    takes the one the watch follows), the others in VIEW_AREAS' order so the list reads
    the same every week. Areas no photo measures (migraine, cervical dystonia: symptom
    diaries) add nothing; empty when none is measured."""
    treated = set(areas) | {leading}
    views = [AREA_VIEW[leading]] if leading in AREA_VIEW else []
    views += [view for view, measured in VIEW_AREAS.items() if treated & set(measured)]
    return tuple(dict.fromkeys(views))


# The two consents a photo carries (the Photo fields are consent_<key>).
CONSENTS: dict[str, str] = {
    "clinical": "Clinical use",
    "marketing": "Marketing use",
}

# How a consent change reached the record. The patient changes it themself in the portal;
# staff record it on the patient's instruction and say how it was given.
CHANNELS: dict[str, str] = {
    "portal": "by the patient in the portal",
    "in_person": "in person",
    "phone": "by phone",
    "in_writing": "in writing",
}
STAFF_CHANNELS: tuple[str, ...] = ("in_person", "phone", "in_writing")
PATIENT_CHANNEL = "portal"


@dataclass(frozen=True)
class RemovalReason:
    key: str
    label: str
    needs_note: bool = False


REMOVAL_REASONS: dict[str, RemovalReason] = {
    r.key: r
    for r in (
        RemovalReason("wrong_patient", "Taken in error: wrong patient"),
        RemovalReason("wrong_view", "Taken in error: wrong view"),
        RemovalReason("duplicate", "Duplicate of another photo"),
        RemovalReason("erasure_request", "The patient asked for it to be erased"),
        RemovalReason("other", "Other (say why)", needs_note=True),
    )
}
NOTE_MAX_CHARS = 500


@dataclass(frozen=True)
class ConsentEffects:
    """What a change of one consent does beyond the flag itself."""

    stop_measuring: bool = False  # remove the photo's measurements, recompute the forecast
    measure_again: bool = False  # analyse it again (against the view's baseline)
    leave_baseline: bool = False  # it can no longer be the baseline of its view


def consent_effects(consent: str, given: bool, *, is_baseline: bool) -> ConsentEffects:
    """The consequences of setting `consent` to `given` (a real change, not a repeat)."""
    if consent not in CONSENTS:
        raise ValueError(f"unknown consent {consent!r}")
    if consent != "clinical":
        return ConsentEffects()
    if given:
        return ConsentEffects(measure_again=True)
    return ConsentEffects(stop_measuring=True, leave_baseline=is_baseline)


@dataclass(frozen=True)
class BaselineCandidate:
    """A photo of one view, as far as choosing its baseline goes."""

    key: Hashable
    taken_on: dt.date
    order: int  # the upload order, for two photos taken on the same day
    measurable: bool  # kept (not removed) and with clinical consent


def next_baseline(candidates: Iterable[BaselineCandidate]) -> Hashable | None:
    """The baseline a view falls back to when its baseline is removed or loses clinical
    consent: the earliest remaining photo that may be measured, as the first photo of a
    view is its baseline when photos are kept. None when no photo qualifies."""
    usable = [c for c in candidates if c.measurable]
    if not usable:
        return None
    return min(usable, key=lambda c: (c.taken_on, c.order)).key
