"""The manager opens a patient, sees who opened the record, follows the link to the audit
trail filtered by that patient (by public id: no name in the address), and narrows it to
the clinician's chart signings with the filters (HTMX, address kept in step)."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.a11y import assert_accessible

pytestmark = [pytest.mark.e2e]


def test_the_manager_filters_the_audit_trail_by_a_patient_from_the_patient_page(
        browser_page, live_server, transactional_db, clinic_a, manager, clinician, front_desk, patient):
    from touchup.clinic import audit

    audit.record("patient.view", actor=clinician, patient=patient, obj=patient)
    audit.record("treatment.sign", actor=clinician, patient=patient)
    audit.record("patient.view", actor=front_desk, patient=patient, obj=patient)
    audit.record("signin", actor=clinician, clinic=clinic_a)  # names no patient

    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/patients/{patient.public_id}/")
    card = page.locator("[data-record-access]")
    expect(card.get_by_role("heading", name="Record access")).to_be_visible()
    expect(card.get_by_text("alice · Signed the chart")).to_be_visible()
    assert_accessible(page, "the patient page with Record access")

    card.get_by_role("link", name="All events for this patient").click()
    expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
    assert f"patient={patient.public_id}" in page.url and "Dana" not in page.url and "Example" not in page.url
    rows = page.locator("#audit-results tbody tr")
    expect(rows).to_have_count(5)  # patient.create, the three above, and this very visit
    expect(page.get_by_text("Signed in", exact=True)).to_have_count(0)

    page.get_by_label("Who").select_option(label="alice")
    expect(rows).to_have_count(3)  # created the patient, opened the record, signed
    page.get_by_label("What").select_option(label="Charts and treatments")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Signed the chart")
    assert f"patient={patient.public_id}" in page.url and "kind=charts" in page.url
    assert_accessible(page, "the filtered audit trail")

    page.reload()  # the address holds the filters
    expect(page.locator("#audit-results tbody tr")).to_have_count(1)
    expect(page.get_by_label("What")).to_have_value("charts")


def test_the_audit_table_keeps_numbers_usernames_and_addresses_on_one_line(
        browser_page, live_server, transactional_db, clinic_a, manager, clinician, patient):
    """The card's overflow-wrap let the table squeeze the narrow columns: "14|0",
    "manager.l|ee", "127.0.0|.1" at a desktop width, beside long actions and objects."""
    from touchup.clinic import audit

    for _ in range(60):  # three-digit ids
        audit.record("portal.worklist.view", actor=clinician, clinic=clinic_a)
        audit.record("patient.view", actor=clinician, patient=patient, obj=patient)
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/audit/")
    expect(page.locator("#audit-results tbody tr").first).to_be_visible()
    # Lines of text per cell, for the #, Who and IP columns of every row.
    lines = page.evaluate("""() => Array.from(document.querySelectorAll('#audit-results tbody td'))
        .filter(td => ['#', 'Who', 'IP'].includes(td.dataset.label))
        .map(td => { const r = document.createRange(); r.selectNodeContents(td);
                     const tops = new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top)));
                     return [td.dataset.label, td.innerText, tops.size]; })""")
    assert lines and all(n == 1 for _, _, n in lines), [x for x in lines if x[2] != 1][:5]
