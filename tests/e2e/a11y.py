"""Automated accessibility check for the browser tests: axe-core (vendored in
tests/e2e/vendor) against WCAG 2.0/2.1 A and AA; serious and critical violations fail."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page, exclude: list[str] | None = None) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Run by the test driver, not added as an inline <script> (which the CSP blocks).
        page.evaluate("() => {\n" + AXE.read_text() + "\n}")
    result = page.evaluate(
        """async ([tags, exclude]) => await axe.run(
             exclude.length ? {include: [document], exclude: exclude.map(s => [s])} : document,
             {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})""",
        [TAGS, exclude or []],
    )
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]


def assert_accessible(page, where: str, exclude: list[str] | None = None) -> None:
    """`exclude`: CSS selectors left out of the check (say why where it is used)."""
    bad = axe_violations(page, exclude)
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in bad
    ]
    assert not bad, f"accessibility problems on {where}:\n" + "\n".join(lines)
