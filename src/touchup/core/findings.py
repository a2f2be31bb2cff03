"""What a safety check says: one finding per problem, in words a clinician acts on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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

    @property
    def key(self) -> str:
        """Names this finding exactly, for accepting a warning: `code@site#digest` (site empty
        for a chart-wide finding). The digest covers the message, which carries the doses, so
        a bigger dose at a site already warned about, or a second muscle over its limit (same
        code, no site), is a warning not yet accepted; accepting by code let both through."""
        digest = hashlib.sha256("\x1f".join((self.code, self.site or "", self.message)).encode()).hexdigest()[:10]
        return f"{self.code}@{self.site or ''}#{digest}"


def unaccepted_warnings(findings: Iterable[Finding], accepted: Iterable[str]) -> list[Finding]:
    """The warnings standing whose key is not among those accepted. A key accepted for a
    warning no longer standing (the chart got safer) is no reason to refuse."""
    keys = {str(a) for a in accepted}
    return [f for f in findings if f.severity == "warn" and f.key not in keys]


def is_bare_code(accepted: str) -> bool:
    """An accepted warning given by its code alone (the contract before keys), which can
    never match a standing warning: said as such rather than as a change of the checks."""
    return "#" not in accepted
