"""When a patient's check-ins amount to an *early wear-off report*: the patient says the
effect is wearing off before the forecast expected it could.

The wear-off model rightly treats an early "yes" as weak evidence against a strong prior
(a check-in is wrong about 7% of the time; docs/forecast.md), so the forecast barely
moves. Clinically the report still matters (a possible non-response, too low a dose, an
expectation to manage), so instead of moving the forecast it has to reach a person: the
staff patient page, the front desk's Due worklist and the patient's own results page all
read this rule.

The rule, per area, over the check-ins of the current cycle (those dated after its
treatment: one dated on the treatment day was given before the injections):
- the patient's latest answer is "yes" (a later "no" takes an earlier "yes" back), and
- it is dated before the forecast's central 80% interval begins (wear_off_interval[0]).

Pure Python: the callers pass the forecast's dates and the answers as plain values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from touchup.core.dates import day_month_text, day_text


@dataclass(frozen=True, slots=True)
class EarlyReport:
    """What the pages say about one area's early report."""

    area: str
    treated_on: dt.date
    # The first "yes" of the run of yeses that ends with the latest answer: when the
    # patient began to say so (three yeses in a row are one report, not three).
    reported_on: dt.date
    latest_on: dt.date  # the latest "yes" (the same day when there was one)
    answers: int  # how many "yes" answers the run holds
    wear_off_interval: tuple[dt.date, dt.date]
    earliest_allowed: dt.date

    @property
    def days_after_treatment(self) -> int:
        return (self.reported_on - self.treated_on).days

    def staff_text(self) -> str:
        """The notice on the staff patient page, in the staff pages' date shapes."""
        low, high = self.wear_off_interval
        times = f" ({self.answers} check-ins, the latest on {day_month_text(self.latest_on)})" \
            if self.answers > 1 else ""
        return (
            f"Reported wearing off on {day_month_text(self.reported_on)}, {self.days_after_treatment} days after "
            f"the treatment{times}: earlier than the forecast ({day_month_text(low)}–{day_text(high)}). "
            "One early report moves the forecast little; a photo or a review visit will tell. "
            f"Retreatment is not allowed before {day_text(self.earliest_allowed)}."
        )


def early_report(area: str, treated_on: dt.date, wear_off_interval: tuple[dt.date, dt.date],
                 earliest_allowed: dt.date, checkins: Iterable[tuple[dt.date, bool]]) -> EarlyReport | None:
    """The area's early report, or None. `checkins` are (date, answered yes) pairs of the
    area, in the order they were recorded (answers of one day: the last recorded counts);
    those not after `treated_on` belong to an earlier cycle and are ignored."""
    # sorted() is stable: within a day the recording order stands.
    cycle = sorted(((d, bool(yes)) for d, yes in checkins if d > treated_on), key=lambda c: c[0])
    if not cycle:
        return None
    latest_on, yes = cycle[-1]
    if not yes or latest_on >= wear_off_interval[0]:
        return None
    run = 0
    for _, answer in reversed(cycle):
        if not answer:
            break
        run += 1
    reported_on = cycle[-run][0]
    return EarlyReport(area, treated_on, reported_on, latest_on, run, tuple(wear_off_interval), earliest_allowed)
