"""How dates read in text people see: one rule, so a finding, a message and a page agree."""

from __future__ import annotations

import datetime as dt


def day_text(d: dt.date) -> str:
    """'5 Jan 2027', as every page writes dates (strftime's %d gives '05')."""
    return f"{d.day} {d:%b %Y}"
