"""Staff pages at a phone's width: no page wider than the screen, tables readable."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.maintenance.conftest import signed_treatment

pytestmark = [pytest.mark.e2e]


def test_from_patients_on_a_phone_fits_the_screen_and_reads_one_report_per_block(
        browser_page, live_server, transactional_db, clinician, patient):
    """At 390 px the side-effect table's hidden "Action" heading widened the page to 474 px
    (it was positioned against the page, not the scrolling table), and the six columns broke
    "Drooping eyelid or eyebrow" into letters."""
    from touchup.portal.services.side_effects import side_effect_report

    t = signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=5), {"glabella": 20})
    side_effect_report(actor=clinician, patient=patient, kind="drooping_eyelid", details="left eyelid", treatment=t)

    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill(clinician.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/from-patients/")
    what = page.locator("td[data-label='What']")
    expect(what).to_contain_text("Drooping eyelid or eyebrow")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # One line: the cell has the card's width, not a column a few letters wide.
    lines = page.evaluate("""(td) => { const r = document.createRange(); r.selectNodeContents(td);
        return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size; }""", what.element_handle())
    assert lines == 1


def test_vials_on_a_phone_show_every_value_inside_the_card(browser_page, live_server, transactional_db, manager,
                                                             vial):
    """At 390 px a reconstituted vial's "26 Nov 2026, 11:48 (2.50 mL)" kept the desktop
    table's no-wrap (its phone override sat in the maintenance pages' stylesheet only), so
    the stacked rows were wider than the card and Units, Units left and U per 0.1 mL, set
    right, were cut off at the card's edge: "Units: 3"."""
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill(manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(live_server.url + "/vials/")
    expect(page.locator("td[data-label='Units left']")).to_contain_text("100")
    wrap = page.locator(".table-wrap")
    # Nothing to scroll sideways in the table's box, and each value ends inside it.
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
    box = wrap.bounding_box()
    for label in ("Units", "Units left", "Reconstituted", "U per 0.1 mL"):
        right = page.locator(f"td[data-label='{label}']").evaluate(
            "td => { const r = document.createRange(); r.selectNodeContents(td);"
            " return r.getBoundingClientRect().right; }")
        assert right <= box["x"] + box["width"], label
