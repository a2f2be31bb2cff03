"""Browser fixtures: Debian's Chromium driven by Playwright against the live server."""

import contextlib
import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


# Every document reports each Content-Security-Policy violation back to the test (HD-2):
# added before the page's own scripts run, in every page and frame of the context.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = (e.sourceFile || e.documentURI) + ":" + e.lineNumber;
  const what = e.blockedURI || "inline";
  window.__touchupCspViolation(`${e.effectiveDirective} blocked ${what} at ${where} (${(e.sample || "").slice(0, 80)})`);
}, true);
"""


def watch_for_csp_violations(context, found: list[str]) -> None:
    """Record every CSP violation in `context`: the securitypolicyviolation event of each
    document, and Chromium's console message for it (which also covers a page without
    scripts, where the listener cannot run)."""
    context.expose_binding("__touchupCspViolation", lambda source, text: found.append(f"{source['frame'].url}: {text}"))
    context.add_init_script(CSP_LISTENER)

    def on_console(msg):
        # The browser's complaints about our headers: a CSP violation, or a Permissions-Policy
        # it cannot parse (logged as a warning on every page, so browser_page misses it).
        if any(h in msg.text for h in ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy")):
            found.append(f"console {msg.type}: {msg.text}")

    for page in context.pages:
        page.on("console", on_console)
    context.on("page", lambda page: page.on("console", on_console))


@pytest.fixture(autouse=True)
def csp_violations(monkeypatch):
    """Every browser context a test opens (the fixtures' and any of its own) is watched for
    CSP violations, and the test fails if there was any: the product is fixed, the policy
    is not loosened. Autouse here; a module outside tests/e2e that uses browser_page
    imports this fixture with it."""
    from playwright.sync_api import Browser

    found: list[str] = []
    new_context, new_page = Browser.new_context, Browser.new_page

    def watched_context(self, *args, **kwargs):
        assert not kwargs.get("bypass_csp"), "the browser tests run under the real CSP"
        context = new_context(self, *args, **kwargs)
        watch_for_csp_violations(context, found)
        return context

    def watched_page(self, *args, **kwargs):
        assert not kwargs.get("bypass_csp"), "the browser tests run under the real CSP"
        page = new_page(self, *args, **kwargs)
        watch_for_csp_violations(page.context, found)
        return page

    monkeypatch.setattr(Browser, "new_context", watched_context)
    monkeypatch.setattr(Browser, "new_page", watched_page)
    yield found
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


@pytest.fixture
def browser_page(csp_violations):
    """A fresh page; the test fails on any page error or console error, and on any CSP
    violation (csp_violations), so a broken script cannot pass silently."""
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


def portal_sign_in(page, base_url: str, username: str = "dana") -> None:
    """Sign `page` in to the portal as `username` with the tests' password."""
    from tests.conftest import PASSWORD

    page.goto(base_url + "/portal/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@contextlib.contextmanager
def portal_without_javascript(browser_page, base_url: str, viewport: dict, *, username: str = "dana"):
    """A second page with JavaScript off (every portal page must work without it), signed
    in to the portal as `username` with the tests' password."""
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport=viewport)
    page = context.new_page()
    try:
        portal_sign_in(page, base_url, username)
        yield page
    finally:
        context.close()
