"""A clinician charts a glabellar treatment in a real browser, end to end:
login → find the patient → start from the protocol → edit a dose → pick the vial →
watch the findings → sign → aftercare. And the refusal when a point lacks its vial."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.web.conftest import clean_answers

pytestmark = [pytest.mark.e2e]

SCREENSHOT = "/tmp/chart.png"


@pytest.fixture
def ready(transactional_db, patient, clinician, vial):
    """Dana has a clean glabellar screening; the clinic has an in-date, reconstituted vial."""
    from touchup.clinic.services.screenings import screening_record

    screening_record(actor=clinician, patient=patient, indication="glabellar_lines", answers=clean_answers())
    return patient


def sign_in(page, live_server):
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Sign in to Touchup")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Patients", exact=True)).to_be_visible()


def open_new_glabellar_chart(page):
    from touchup.web.clinical import protocols_for

    protocol = next(p for p in protocols_for("glabellar_lines") if p["product"] in ("", "onabotulinumtoxinA"))
    # The search goes by POST (a name is patient data): type, and the list narrows.
    with page.expect_response(lambda r: "/patients/search/" in r.url and r.request.method == "POST"):
        page.get_by_label("Find a patient").fill("Dana")
    page.get_by_role("link", name="Example, Dana").click()
    expect(page.get_by_role("heading", name="Dana Example")).to_be_visible()
    expect(page.get_by_text("Clear to treat")).to_be_visible()
    page.get_by_label("Indication").select_option("glabellar_lines")
    page.get_by_label("Protocol").select_option(protocol["key"])
    expect(page.get_by_label("Product")).to_have_value("onabotulinumtoxinA")
    page.get_by_role("button", name=re.compile("Start treatment")).click()
    expect(page.get_by_role("heading", name=re.compile("Glabellar", re.I))).to_be_visible()


def total(page):
    return page.locator("[data-live-total]")


def test_clinician_charts_signs_and_opens_aftercare(browser_page, live_server, ready, vial):
    page = browser_page
    sign_in(page, live_server)
    open_new_glabellar_chart(page)

    # The protocol's five sites, pre-filled with the label's 4 U each.
    front = page.locator('svg.chart-svg[data-view="front"]')
    expect(front.locator("g.point")).to_have_count(5)
    expect(page.locator("tr[data-point]:not(template tr)")).to_have_count(5)
    expect(total(page)).to_have_text("20")

    # Edit one dose from the keyboard-friendly list; the server re-checks and the
    # panel (total and findings) comes back.
    units = page.get_by_label(re.compile(r"^Units at point 1 "))
    with page.expect_response(lambda r: r.url.endswith("/points/")) as saved:
        units.fill("5")
    assert saved.value.ok
    expect(total(page)).to_have_text("21")
    expect(front.locator("g.point").first.locator("text.dose")).to_have_text("5")
    findings_before_vial = page.locator("#chart-status").inner_text()

    # Pick the vial: lot, expiry and concentration are in the option text.
    vial_select = page.get_by_label("Vial used (applies to all points)")
    option = vial_select.locator(f'option[value="{vial.pk}"]')
    expect(option).to_contain_text(vial.lot)
    expect(option).to_contain_text("4 U/0.1 mL")
    with page.expect_response(lambda r: r.url.endswith("/points/")):
        vial_select.select_option(str(vial.pk))
    expect(page.locator("#chart-status")).not_to_have_text(findings_before_vial)
    expect(page.locator("#chart-status .refusal")).to_have_count(0)
    expect(page.locator("#chart-status")).not_to_contain_text("needs the vial")

    page.screenshot(path=SCREENSHOT, full_page=True)

    # 21 U: above the label at one site and in total. One click on Sign does not override
    # them: the panel asks for the acknowledgement beside the button.
    accept = page.get_by_label("I have reviewed these 2 warnings and accept them")
    expect(accept).not_to_be_checked()
    with page.expect_response(lambda r: "/sign/" in r.url):
        page.get_by_role("button", name="Sign treatment").click()
    expect(page.locator("#chart-status .refusal")).to_contain_text("2 safety warnings stand")
    expect(page.locator(".badge-draft").first).to_have_text("Draft")

    page.get_by_label("I have reviewed these 2 warnings and accept them").check()
    page.get_by_role("button", name="Sign treatment").click()
    expect(page.get_by_text("Treatment signed.")).to_be_visible()
    expect(page.locator(".badge-signed").first).to_have_text("Signed")
    expect(page.locator('input[name="units"]')).to_have_count(0)
    expect(page.get_by_role("heading", name="Amend with reason")).to_be_visible()

    page.get_by_role("link", name="Aftercare sheet").click()
    expect(page.get_by_role("heading", name="Aftercare after your treatment")).to_be_visible()
    expect(page.locator("ol.steps")).to_contain_text(re.compile("exercise", re.I))


def test_signing_is_refused_while_a_point_lacks_its_vial(browser_page, live_server, ready):
    page = browser_page
    sign_in(page, live_server)
    open_new_glabellar_chart(page)
    expect(page.get_by_label("Vial used (applies to all points)")).to_have_value("")

    with page.expect_response(lambda r: "/sign/" in r.url):
        page.get_by_role("button", name="Sign treatment").click()
    refusal = page.locator("#chart-status .refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Not signed")
    expect(refusal).to_contain_text("needs the vial (lot)")
    # Still the editable draft: nothing was signed.
    expect(page.locator(".badge-draft").first).to_have_text("Draft")
    expect(page.locator('input[name="units"]')).to_have_count(5)


def test_the_map_adds_drags_and_removes_points(browser_page, live_server, ready):
    """Click adds a point where clicked; drag moves it; both are saved on the server."""
    from touchup.clinic.models import Treatment

    page = browser_page
    sign_in(page, live_server)
    open_new_glabellar_chart(page)
    svg = page.locator('svg.chart-svg[data-view="front"]')
    box = svg.bounding_box()
    scale = box["width"] / 400  # the SVG keeps its 400 x 500 aspect

    def at(x, y):
        return box["x"] + x * scale, box["y"] + y * scale

    # Click on the forehead, away from the protocol points: a sixth point, no units yet.
    with page.expect_response(lambda r: r.url.endswith("/points/")):
        page.mouse.click(*at(200, 100))
    expect(svg.locator("g.point")).to_have_count(6)
    expect(svg.locator("g.point.no-units")).to_have_count(1)
    expect(page.locator("#chart-status")).to_contain_text("needs its units")
    # The new row has the cursor in its units box: type the dose.
    with page.expect_response(lambda r: r.url.endswith("/points/")):
        page.keyboard.type("2")
    expect(total(page)).to_have_text("22")

    # Drag it 40 chart units down.
    page.mouse.move(*at(200, 100))
    page.mouse.down()
    page.mouse.move(*at(200, 120), steps=4)
    with page.expect_response(lambda r: r.url.endswith("/points/")):
        page.mouse.move(*at(200, 140), steps=4)
        page.mouse.up()
    treatment = Treatment.objects.get()
    extra = treatment.points.get(site="")
    assert abs(extra.x - 200) < 2 and abs(extra.y - 140) < 2
    assert float(extra.units) == 2

    # Remove it from the list.
    with page.expect_response(lambda r: r.url.endswith("/points/")):
        page.get_by_role("button", name=re.compile(r"^Remove point 6 ")).click()
    expect(svg.locator("g.point")).to_have_count(5)
    expect(total(page)).to_have_text("20")
    assert treatment.points.count() == 5


def test_a_dose_the_units_box_would_reject_still_reaches_the_server(browser_page, live_server, ready):
    """A negative, an absurd or an off-step dose is sent and judged by the server, which
    names the point; the browser's own checks (min, max, step of the units box) used to make
    htmx drop the save without a word: the total showed the new dose, the panel kept the old
    checks and still said "Ready to sign"."""
    from touchup.clinic.models import Treatment

    page = browser_page
    sign_in(page, live_server)
    open_new_glabellar_chart(page)
    units = page.get_by_label(re.compile(r"^Units at point 1 "))
    status = page.locator("#chart-status")

    with page.expect_response(lambda r: r.url.endswith("/points/")) as saved:
        units.fill("-2")
    assert saved.value.status == 200
    expect(status).to_contain_text("Not saved")
    expect(status).to_contain_text("must be more than 0")
    expect(units).to_have_attribute("aria-invalid", "true")

    with page.expect_response(lambda r: r.url.endswith("/points/")):
        units.fill("1000")
    expect(status).to_contain_text("not a plausible dose")
    treatment = Treatment.objects.get()
    assert sorted(float(p.units) for p in treatment.points.all()) == [4.0] * 5  # nothing half-saved

    # Off the box's 0.5 step, but a dose the server accepts: saved, not dropped.
    with page.expect_response(lambda r: r.url.endswith("/points/")):
        units.fill("2.25")
    expect(total(page)).to_have_text("18.25")
    expect(status).not_to_contain_text("Not saved")
    assert sorted(float(p.units) for p in treatment.points.all()) == [2.25] + [4.0] * 4


def test_keyboard_users_can_skip_the_map_points_to_the_table(browser_page, live_server, ready):
    """Each map point is a tab stop (arrow keys move it, which the table cannot do); a link
    before the map, shown when focused, takes the keyboard straight to the points table."""
    page = browser_page
    sign_in(page, live_server)
    open_new_glabellar_chart(page)
    svg = page.locator('svg.chart-svg[data-view="front"]')
    expect(svg.locator("g.point")).to_have_count(5)
    skip = page.get_by_role("link", name="Skip to the points table")
    assert skip.bounding_box()["x"] < 0  # out of sight until a keyboard reaches it

    page.get_by_label("Vial used (applies to all points)").focus()
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box["x"] >= 0 and box["width"] > 50 and box["height"] > 10  # seen when focused

    # Not taken: the next stop is the first map point, still reachable and movable.
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label') || ''")
    assert focused.startswith("Point 1,"), focused

    # Taken: the next stop is the first point's units box in the table.
    page.keyboard.press("Shift+Tab")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    first_units = page.locator("[data-points-body] tr").first.locator('input[name="units"]')
    expect(first_units).to_be_focused()


def test_on_a_phone_the_points_table_breaks_site_names_between_words(browser_page, live_server, ready):
    """At 390 px the Site column was squeezed to a few letters ("Pro / cer / us", "corr / uga /
    tor"): the card lets long words wrap anywhere, and the table took that as leave to
    shrink the column. Words stay whole, and the table still fits the card."""
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server)
    open_new_glabellar_chart(page)
    sites = page.locator("[data-points-body] td[data-site-name]")
    expect(sites).to_have_count(5)
    for i in range(5):
        # Letters next to each other in a word sit on the same line.
        split = sites.nth(i).evaluate("""td => {
            const node = td.firstChild, text = node.textContent, r = document.createRange(), top = k => {
                r.setStart(node, k); r.setEnd(node, k + 1); return Math.round(r.getBoundingClientRect().top); };
            const out = [];
            for (let k = 1; k < text.length; k++)
                if (text[k - 1].trim() && text[k].trim() && top(k) !== top(k - 1)) out.push(text.slice(0, k) + " / ");
            return out;
        }""")
        assert not split, split
    wrap = page.locator("#points .table-wrap")
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")


def test_without_javascript_sign_submits_the_chart_and_signs_over_accepted_warnings(browser_page, live_server, ready, vial):
    """Sign is a real submit of the chart form: with JavaScript off the clinician still edits
    a dose, is refused while the warnings are not accepted, ticks the box and signs."""
    sign_in(browser_page, live_server)
    open_new_glabellar_chart(browser_page)
    chart_url = browser_page.url
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport={"width": 1360, "height": 1000})
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(chart_url)
        page.get_by_label(re.compile(r"^Units at point 1 ")).fill("5")
        page.get_by_label("Vial used (applies to all points)").select_option(str(vial.pk))
        page.get_by_role("button", name="Sign treatment").click()
        expect(page.locator("#chart-status .refusal")).to_contain_text("2 safety warnings stand")
        expect(page.locator(".badge-draft").first).to_have_text("Draft")
        expect(total(page)).to_have_text("21")  # the edit was saved with the refused Sign

        page.get_by_label("I have reviewed these 2 warnings and accept them").check()
        page.get_by_role("button", name="Sign treatment").click()
        expect(page.get_by_text("Treatment signed.")).to_be_visible()
        expect(page.locator(".badge-signed").first).to_have_text("Signed")
        assert page.url == chart_url
    finally:
        context.close()
