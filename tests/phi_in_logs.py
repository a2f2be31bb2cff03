"""No patient data, passwords or tokens in the application's logs (HIPAA; ASVS 16.2.5 / AU-5).

Every test runs with a handler on the root logger that keeps every record, the `touchup`
loggers opened down to DEBUG, and a listener that notes what identifies a patient as it is
saved: names, email, phone, and the free text of notes and reports. After the test, no
record's message, arguments or traceback may hold one of those, the test password, or a
raw API token handed out during the test. A leak names the logger and the kind of value,
never the value itself (the failure message is a log of its own, in CI).

Only what is logged in this process is seen: the demo's and the crash harness's servers
run in their own processes.
"""

from __future__ import annotations

import logging
import re

import pytest
from django.db.models.signals import post_save

# Shorter values match inside ordinary words ("Ann" in "Announced"), so they are not sought.
_MIN_LEN = 4
_PATIENT_FIELDS = ("given_name", "family_name", "email", "phone")
# Free text a clinician or patient writes about a patient, by model.
_TEXT_FIELDS = {
    "Treatment": ("notes",),
    "TreatmentAmendment": ("reason",),
    "Photo": ("removal_note",),
    "SideEffectReport": ("details", "review_note"),
}


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _text(record: logging.LogRecord) -> str:
    parts = [str(record.msg)]
    try:
        parts.append(record.getMessage())
    except Exception:  # noqa: BLE001 - a broken format string still gets its raw text scanned
        parts.append(repr(record.args))
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


def _watch_saves(secrets: dict[str, str]):
    def noted(sender, instance, **kwargs):
        name = sender.__name__
        fields = _PATIENT_FIELDS if name == "Patient" else _TEXT_FIELDS.get(name, ())
        for f in fields:
            value = str(getattr(instance, f, "") or "").strip()
            if len(value) >= _MIN_LEN:
                secrets[value] = f"{name}.{f}"

    post_save.connect(noted, weak=False, dispatch_uid="tests.phi_in_logs")
    return noted


def _watch_tokens(monkeypatch, secrets: dict[str, str]) -> None:
    """A raw API token exists only in the answer to its creation (NewToken): note it there,
    however the caller imported token_create."""
    from touchup.clinic import tokens

    class Noted(tokens.NewToken):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            secrets[self.secret] = "API token (raw)"

    monkeypatch.setattr(tokens, "NewToken", Noted)


@pytest.fixture(autouse=True)
def no_phi_in_logs(monkeypatch):
    from tests.conftest import PASSWORD

    secrets: dict[str, str] = {PASSWORD: "the test password"}
    keep = _Keep()
    root, ours = logging.getLogger(), logging.getLogger("touchup")
    level = ours.level
    root.addHandler(keep)
    ours.setLevel(logging.DEBUG)
    noted = _watch_saves(secrets)
    _watch_tokens(monkeypatch, secrets)
    try:
        yield secrets
    finally:
        post_save.disconnect(noted, dispatch_uid="tests.phi_in_logs")
        root.removeHandler(keep)
        ours.setLevel(level)
    leaks = find_leaks(keep.records, secrets)
    assert not leaks, "patient data or a secret in the logs:\n" + "\n".join(leaks)


def find_leaks(records: list[logging.LogRecord], secrets: dict[str, str]) -> list[str]:
    """One line per logger and kind of value leaked, naming neither the value nor the patient."""
    if not secrets:
        return []
    pattern = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
    leaks = {
        f"{record.name} ({record.levelname}) logged a {secrets[m.group(0)]} value"
        for record in records
        for m in pattern.finditer(_text(record))
    }
    return sorted(leaks)
