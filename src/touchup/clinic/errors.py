"""Errors services raise for the views and the API to turn into clear 4xx answers."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Bad input: names the field that is wrong. Nothing has been written."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Conflict(Exception):
    """The request clashes with the object's state (signing twice, editing a signed chart)."""


class SigningRefused(Exception):
    """Signing was refused; `reasons` says why in words a clinician understands."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


class WarningsNotAccepted(SigningRefused):
    """Signing was refused because safety warnings stand that were not accepted.
    `changed` is true when some were accepted but the standing set differs (the chart
    changed after they were read); `codes` are the codes not accepted."""

    def __init__(self, reasons: list[str], *, codes: list[str], count: int, changed: bool):
        super().__init__(reasons)
        self.codes, self.count, self.changed = codes, count, changed
