"""Browser fixtures: Debian's Chromium driven by Playwright against the live server."""

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest.fixture
def browser_page():
    """A fresh page; the test fails on any page error or console error (a CSP violation
    shows up as one), so a broken script cannot pass silently."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":  # in CI a missing browser is a failed install, not a skip
            pytest.fail("/usr/bin/chromium is missing: .ci/run should have installed it")
        pytest.skip("/usr/bin/chromium is missing: run `bash scripts/ensure-chromium` (apt install chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(float(os.environ.get("TOUCHUP_E2E_TIMEOUT_MS", "10000")))
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
        page.errors = errors
        try:
            yield page
        finally:
            context.close()
            browser.close()
    assert not errors, "\n".join(errors)
