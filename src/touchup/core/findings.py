"""What a safety check says: one finding per problem, in words a clinician acts on."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("block", "warn", "info")


@dataclass(frozen=True, slots=True)
class Finding:
    """`block` stops signing; `warn` must be read; `info` is context. `rule` names the
    check and `source` the catalogue source keys (or clinic_policy) behind it."""

    severity: str
    code: str
    message: str
    rule: str
    source: str
    site: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
