"""Sending SMS, behind a small adapter chosen by the environment.

TOUCHUP_SMS_BACKEND selects it:
- ``console`` (the default): prints each message to standard output, like Django's
  console mail backend (the demo);
- ``file``: appends each message as one JSON line to TOUCHUP_SMS_FILE (default
  ./var/sms.log), for development and tests that read what was sent;
- ``memory``: keeps messages in ``touchup.maintenance.sms.outbox`` (tests in one process);
- a dotted path to a class with ``send(to, body)``: a real gateway (Twilio, MessageBird...).

A backend raises on failure; the dispatcher records the error and retries later.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from django.utils import timezone
from django.utils.module_loading import import_string


class SmsBackend(Protocol):
    def send(self, to: str, body: str) -> None: ...


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


outbox: list[SmsMessage] = []
_lock = threading.Lock()


class ConsoleBackend:
    def send(self, to: str, body: str) -> None:
        with _lock:
            sys.stdout.write(f"SMS to {to}\n{body}\n{'-' * 40}\n")
            sys.stdout.flush()


class FileBackend:
    def __init__(self, path: str | os.PathLike | None = None):
        default = Path(os.environ.get("TOUCHUP_DATA_DIR", Path.cwd() / "var")) / "sms.log"
        self.path = Path(path or os.environ.get("TOUCHUP_SMS_FILE") or default)

    def send(self, to: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": timezone.now().isoformat(), "to": to, "body": body})
        # One write per line under O_APPEND: lines from several workers never interleave.
        with _lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class MemoryBackend:
    def send(self, to: str, body: str) -> None:
        with _lock:
            outbox.append(SmsMessage(to, body))


_NAMED = {"console": ConsoleBackend, "file": FileBackend, "memory": MemoryBackend}


def get_backend() -> SmsBackend:
    name = os.environ.get("TOUCHUP_SMS_BACKEND", "console").strip() or "console"
    cls = _NAMED.get(name)
    if cls is None:
        try:
            cls = import_string(name)
        except ImportError as exc:
            raise ValueError(f"TOUCHUP_SMS_BACKEND: cannot load {name!r} ({exc})") from None
    return cls()


def send_sms(to: str, body: str) -> None:
    get_backend().send(to, body)
