"""The security headers in a real browser (HD-1, HD-2; docs/security.md, "Headers").

- The CSP watch every browser test runs under (conftest.csp_violations) does catch a
  violation: an inline style and an inline script put into a page are reported.
- /api/docs (ninja's own copy of Swagger UI) works under the policy.
- Signing out, from the staff pages and from the portal, answers with Clear-Site-Data;
  the back button then shows the sign-in page, not the patient; signing in again works.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import portal_sign_in
from tests.e2e.test_chart_glabellar import sign_in

pytestmark = [pytest.mark.e2e]


def test_the_csp_watch_reports_inline_style_and_script(browser_page, live_server, csp_violations, transactional_db):
    page = browser_page
    page.goto(live_server.url + "/accounts/login/")
    expect(page.get_by_role("heading", name="Sign in to Touchup")).to_be_visible()
    assert csp_violations == []
    page.evaluate("""() => {
        document.querySelector("h1").setAttribute("style", "color: red");
        const s = document.createElement("script");
        s.textContent = "window.injected = true";
        document.head.appendChild(s);
    }""")
    page.wait_for_function("() => true")  # let the reports arrive
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.injected === undefined")  # the script did not run
    assert page.evaluate("() => getComputedStyle(document.querySelector('h1')).color") != "rgb(255, 0, 0)"
    seen = "\n".join(csp_violations)
    assert "style-src-attr blocked inline" in seen and "script-src-elem blocked inline" in seen, seen
    csp_violations.clear()  # expected here: the watch works
    page.errors[:] = [e for e in page.errors if "Content Security Policy" not in e]


def test_the_api_docs_work_under_the_policy(browser_page, live_server, clinician, transactional_db):
    page = browser_page
    sign_in(page, live_server)
    page.goto(live_server.url + "/api/docs")
    expect(page.get_by_role("heading", name=re.compile("Touchup API"))).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/patients/{patient_id}").first).to_be_visible()


def sign_out_and_go_back(page, patient_name):
    # Something a page might have kept in the browser (Touchup's pages keep nothing).
    page.evaluate("name => { localStorage.setItem('kept', name); sessionStorage.setItem('kept', name); }", patient_name)
    with page.expect_response(lambda r: r.url.endswith("/accounts/logout/") and r.request.method == "POST") as out:
        page.get_by_role("button", name="Sign out").click()
    # all_headers: Chromium leaves Clear-Site-Data out of the plain `headers` it reports.
    assert out.value.all_headers().get("clear-site-data") == '"cache", "storage"'
    expect(page.get_by_label("Password")).to_be_visible()
    page.go_back()
    # The patient's page is asked for again (no-store, and the cache was cleared): a sign-in.
    expect(page.get_by_label("Password")).to_be_visible()
    assert patient_name not in page.content()
    kept = page.evaluate("() => [localStorage.getItem('kept'), sessionStorage.getItem('kept')]")
    assert kept == [None, None]
    assert patient_name not in page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")


def test_staff_sign_out_clears_the_site_data_and_back_shows_no_patient(browser_page, live_server, patient,
                                                                        clinician, transactional_db):
    page = browser_page
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/patients/{patient.public_id}/")
    expect(page.get_by_role("heading", name="Dana Example")).to_be_visible()
    sign_out_and_go_back(page, "Dana Example")
    sign_in(page, live_server)  # at once, with the same browser


def test_portal_sign_out_clears_the_site_data_and_back_shows_no_patient(browser_page, live_server, patient,
                                                                         front_desk, transactional_db):
    from tests.portal.conftest import join
    from touchup.clinic.services.patients import patient_update

    patient_update(actor=front_desk, patient=patient, email="dana@example.test")
    join(patient, front_desk, "dana")
    page = browser_page

    def sign_in_to_portal():
        portal_sign_in(page, live_server.url)
        expect(page.get_by_role("heading", name=re.compile("Dana"))).to_be_visible()

    sign_in_to_portal()
    page.goto(live_server.url + "/portal/settings/")
    expect(page.get_by_text("dana@example.test").first).to_be_visible()
    sign_out_and_go_back(page, "dana@example.test")
    sign_in_to_portal()
