"""The chart: who may open it, the live save, bad units, signing and its refusal,
the read-only signed chart, amendments and aftercare."""

import re

import pytest
from django.urls import reverse

from touchup.clinic.models import AuditEvent, InjectionPoint, Treatment

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def chart_state(treatment, overrides=None, *, vial=""):
    """What the chart form posts: one value per point for each column, plus the vial.
    `overrides` maps a row index to the columns to change in that row."""
    overrides = overrides or {}
    points = list(treatment.points.order_by("pk"))
    data = {"site": [], "area": [], "units": [], "x": [], "y": [], "view": [], "vial_id": [], "vial": vial}
    for i, p in enumerate(points):
        row = {"site": p.site, "area": p.area, "units": "" if p.units is None else str(p.units),
               "x": str(p.x), "y": str(p.y), "view": p.view, "vial_id": str(p.vial_id or "")}
        row.update(overrides.get(i, {}))
        for k, v in row.items():
            data[k].append(v)
    return data


def test_the_clinician_opens_the_draft_chart_with_the_protocol_points(as_clinician, draft):
    response = as_clinician.get(reverse("chart", args=[draft.public_id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert len(re.findall(r"data-idx>\d+<", html)) == draft.points.count()
    assert 'viewBox="0 0 400 500"' in html
    assert 'data-editable="true"' in html
    assert "Sign treatment" in html
    total = sum(p.units for p in draft.points.all())
    assert f"data-live-total>{total.normalize():f}<" in html


def test_front_desk_cannot_open_the_chart(as_front_desk, draft):
    response = as_front_desk.get(reverse("chart", args=[draft.public_id]))
    assert response.status_code == 403
    assert "Not allowed for your role" in response.content.decode()


def test_front_desk_cannot_post_to_the_chart(as_front_desk, draft):
    before = list(draft.points.values_list("units", flat=True))
    response = as_front_desk.post(reverse("chart_save", args=[draft.public_id]), chart_state(draft, {0: {"units": "9"}}))
    assert response.status_code == 403
    assert list(draft.points.values_list("units", flat=True)) == before


def test_the_manager_sees_the_chart_read_only(as_manager, draft):
    html = as_manager.get(reverse("chart", args=[draft.public_id])).content.decode()
    assert 'data-editable="false"' in html and "Sign treatment" not in html
    assert as_manager.post(reverse("chart_save", args=[draft.public_id]), chart_state(draft)).status_code == 403


@pytest.mark.parametrize("name", ["chart", "aftercare"])
def test_idor_another_clinics_treatment_is_404(as_other_clinician, draft, name):
    response = as_other_clinician.get(reverse(name, args=[draft.public_id]))
    assert response.status_code == 404
    assert "Dana" not in response.content.decode()


@pytest.mark.parametrize("name", ["chart_save", "chart_sign", "chart_discard", "chart_details", "chart_amend"])
def test_idor_another_clinic_cannot_write_the_chart(as_other_clinician, draft, name):
    before = list(draft.points.values_list("units", flat=True))
    response = as_other_clinician.post(reverse(name, args=[draft.public_id]), chart_state(draft, {0: {"units": "30"}}))
    assert response.status_code == 404
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert list(draft.points.values_list("units", flat=True)) == before
    assert not AuditEvent.objects.filter(object_id=str(draft.public_id), action__in=["treatment.chart", "treatment.sign"]).exists()


def test_a_change_is_saved_and_the_panel_comes_back(as_clinician, draft, vial):
    state = chart_state(draft, {0: {"units": "6"}}, vial=str(vial.pk))
    response = as_clinician.post(reverse("chart_save", args=[draft.public_id]), state, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "Safety checks" in html
    units = sorted(float(u) for u in draft.points.values_list("units", flat=True))
    assert 6.0 in units
    assert set(draft.points.values_list("vial_id", flat=True)) == {vial.pk}
    assert f"data-live-total>{sum(units):g}<" in html


def test_a_point_added_on_the_map_is_saved(as_clinician, draft):
    state = chart_state(draft)
    for k, v in {"site": "", "area": draft.points.first().area, "units": "2", "x": "120.5", "y": "90",
                 "view": "front", "vial_id": ""}.items():
        state[k].append(v)
    n = draft.points.count()
    as_clinician.post(reverse("chart_save", args=[draft.public_id]), state, **HTMX)
    assert draft.points.count() == n + 1
    assert draft.points.filter(site="", x=120.5, y=90).exists()


def test_removing_a_point_is_saved(as_clinician, draft):
    state = chart_state(draft)
    for column in ("site", "area", "units", "x", "y", "view", "vial_id"):
        state[column] = state[column][1:]
    n = draft.points.count()
    as_clinician.post(reverse("chart_save", args=[draft.public_id]), state, **HTMX)
    assert draft.points.count() == n - 1


@pytest.mark.parametrize("bad", ["-3", "abc", "9999"])
def test_bad_units_show_the_error_and_nothing_is_written(as_clinician, draft, bad):
    before = sorted((p.site, p.units) for p in draft.points.all())
    response = as_clinician.post(
        reverse("chart_save", args=[draft.public_id]), chart_state(draft, {2: {"units": bad}}), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not saved." in html and "Point 3 units" in html
    assert 'data-error-field="points[2].units"' in html
    assert sorted((p.site, p.units) for p in draft.points.all()) == before


def test_bad_units_without_htmx_render_the_chart_with_the_error(as_clinician, draft):
    response = as_clinician.post(reverse("chart_save", args=[draft.public_id]), chart_state(draft, {0: {"units": "-1"}}))
    assert response.status_code == 200
    assert "Point 1 units" in response.content.decode()


def test_signing_is_refused_with_reasons_while_a_point_lacks_its_vial(as_clinician, draft):
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), chart_state(draft), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Not signed" in html
    assert "needs the vial (lot)" in html
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_signing_is_refused_while_a_point_lacks_units(as_clinician, draft, vial):
    response = as_clinician.post(
        reverse("chart_sign", args=[draft.public_id]), chart_state(draft, {1: {"units": ""}}, vial=str(vial.pk)), **HTMX
    )
    assert "Every injection point needs its units." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_signing_is_refused_while_a_blocking_finding_stands(as_clinician, draft, vial):
    huge = {i: {"units": "100"} for i in range(draft.points.count())}
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), chart_state(draft, huge, vial=str(vial.pk)), **HTMX)
    html = response.content.decode()
    assert "Not signed" in html and "finding-block" in html
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_signing_a_clean_chart_redirects_to_the_signed_read_only_view(as_clinician, draft, vial):
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), chart_state(draft, vial=str(vial.pk)), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("chart", args=[draft.public_id])
    draft.refresh_from_db()
    assert draft.status == "signed"
    html = as_clinician.get(reverse("chart", args=[draft.public_id])).content.decode()
    assert 'data-editable="false"' in html
    assert 'name="units"' not in html and "Sign treatment" not in html
    assert "Amend with reason" in html
    assert vial.lot in html


def test_signing_without_htmx_redirects(as_clinician, draft, vial):
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), chart_state(draft, vial=str(vial.pk)))
    assert response.status_code == 302


# 21 U on the 20 U protocol: 5 U at the first site is above the label's 4 U there, and the
# session is above the label's 20 U total (two warnings, the walkthrough's chart).
OVER = {0: {"units": "5"}}


def test_the_panel_asks_to_accept_the_warnings_beside_sign(as_clinician, draft, vial):
    response = as_clinician.post(reverse("chart_save", args=[draft.public_id]),
                                 chart_state(draft, OVER, vial=str(vial.pk)), **HTMX)
    html = response.content.decode()
    assert "I have reviewed these 2 warnings and accept them" in html
    assert re.search(r'<input type="checkbox" name="accept_warnings" value="yes" required', html)
    assert sorted(k.split("@")[0] for k in reviewed(html)) == ["above_label_site", "above_label_total"]


def reviewed(html):
    """The keys of the warnings the panel shows, as it posts them back with Sign."""
    return re.findall(r'name="reviewed_warning" value="([^"]+)"', html)


def panel(client, draft, state):
    return client.post(reverse("chart_save", args=[draft.public_id]), state, **HTMX).content.decode()


def test_signing_with_warnings_not_accepted_is_refused_and_nothing_signed(as_clinician, draft, vial):
    state = chart_state(draft, OVER, vial=str(vial.pk))
    state["reviewed_warning"] = reviewed(panel(as_clinician, draft, state))  # shown, but the box not ticked
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), state, **HTMX)
    html = response.content.decode()
    assert "Not signed" in html and "2 safety warnings stand" in html
    assert "I have reviewed these 2 warnings and accept them" in html
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not AuditEvent.objects.filter(action="treatment.sign").exists()


def test_signing_with_the_warnings_accepted_signs_and_records_them(as_clinician, draft, vial):
    state = chart_state(draft, OVER, vial=str(vial.pk))
    keys = reviewed(panel(as_clinician, draft, state))
    state.update(reviewed_warning=keys, accept_warnings="yes")
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), state, **HTMX)
    assert response["HX-Redirect"] == reverse("chart", args=[draft.public_id])
    draft.refresh_from_db()
    assert draft.status == "signed"
    event = AuditEvent.objects.get(action="treatment.sign")
    assert sorted(event.detail["warnings"]) == ["above_label_site", "above_label_total"]
    assert sorted(event.detail["accepted"]) == sorted(keys)


def test_warnings_that_changed_since_they_were_reviewed_are_refused(as_clinician, draft, vial):
    """The box was ticked when the panel showed only the site warning; by the time Sign
    posted, the session was also above the label's total (another tab, a later edit)."""
    state = chart_state(draft, OVER, vial=str(vial.pk))
    site_only = [k for k in reviewed(panel(as_clinician, draft, state)) if k.startswith("above_label_site@")]
    state.update(reviewed_warning=site_only, accept_warnings="yes")
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), state, **HTMX)
    html = response.content.decode()
    assert "The safety checks changed since you reviewed them:" in html
    assert "above the label" in html  # the new warning is named in words
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_bigger_dose_at_a_site_already_warned_about_is_refused(as_clinician, draft, vial):
    """The clinician read and accepted "5 U at <site> is above the label's 4 U there"; then
    the dose there went to 6 U. The codes are the same, the warning is not: refused."""
    state = chart_state(draft, OVER, vial=str(vial.pk))
    keys = reviewed(panel(as_clinician, draft, state))
    bigger = chart_state(draft, {0: {"units": "6"}}, vial=str(vial.pk))
    bigger.update(reviewed_warning=keys, accept_warnings="yes")
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), bigger, **HTMX)
    html = response.content.decode()
    assert "The safety checks changed since you reviewed them:" in html
    assert "6 U at" in html
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert not AuditEvent.objects.filter(action="treatment.sign").exists()
    # Read again and accepted again, it signs.
    bigger["reviewed_warning"] = reviewed(panel(as_clinician, draft, bigger))
    response = as_clinician.post(reverse("chart_sign", args=[draft.public_id]), bigger, **HTMX)
    assert response["HX-Redirect"] == reverse("chart", args=[draft.public_id])


def test_sign_is_a_submit_of_the_chart_form_with_the_acknowledgement_inside(as_clinician, draft, vial):
    as_clinician.post(reverse("chart_save", args=[draft.public_id]), chart_state(draft, OVER, vial=str(vial.pk)))
    html = as_clinician.get(reverse("chart", args=[draft.public_id])).content.decode()
    form = html[html.index('<form method="post" action="' + reverse("chart_save", args=[draft.public_id])):]
    form = form[:form.index("</form>")]
    assert "csrfmiddlewaretoken" in form
    assert re.search(r'<button type="submit" formaction="' + re.escape(reverse("chart_sign", args=[draft.public_id])) + '"', form)
    assert 'name="accept_warnings"' in form and len(reviewed(form)) == 2


def test_without_javascript_sign_posts_the_form_signs_and_redirects(as_clinician, draft, vial):
    """No htmx header: what the browser posts when Sign submits the chart form."""
    state = chart_state(draft, OVER, vial=str(vial.pk))
    keys = reviewed(panel(as_clinician, draft, state))
    url = reverse("chart_sign", args=[draft.public_id])
    refused = as_clinician.post(url, state)  # box not ticked: the page again, with why
    assert refused.status_code == 409
    assert "Not signed" in refused.content.decode() and "Sign treatment" in refused.content.decode()
    state.update(reviewed_warning=keys, accept_warnings="yes")
    response = as_clinician.post(url, state)
    assert response.status_code == 302 and response["Location"] == reverse("chart", args=[draft.public_id])
    draft.refresh_from_db()
    assert draft.status == "signed"
    assert "Treatment signed." in as_clinician.get(response["Location"]).content.decode()


@pytest.fixture
def signed(draft, vial, clinician):
    from touchup.clinic.services.treatments import treatment_sign, treatment_update

    treatment_update(actor=clinician, treatment=draft, vial=vial)
    return treatment_sign(actor=clinician, treatment=draft)


def test_a_signed_chart_cannot_be_changed(as_clinician, signed):
    before = sorted((p.site, p.units) for p in signed.points.all())
    response = as_clinician.post(reverse("chart_save", args=[signed.public_id]), chart_state(signed, {0: {"units": "9"}}), **HTMX)
    assert "Not saved." in response.content.decode()
    assert sorted((p.site, p.units) for p in signed.points.all()) == before


def test_amend_needs_a_reason_and_appends(as_clinician, signed):
    bad = as_clinician.post(reverse("chart_amend", args=[signed.public_id]), {"reason": "x", "correction": "Point 3 was 5 U"})
    assert bad.status_code == 200
    assert "say why the signed chart is being amended" in bad.content.decode()
    assert not signed.amendments.exists()
    ok = as_clinician.post(reverse("chart_amend", args=[signed.public_id]),
                           {"reason": "Transcription error", "correction": "Point 3 was 5 U, not 4 U"})
    assert ok.status_code == 302
    html = as_clinician.get(reverse("chart", args=[signed.public_id])).content.decode()
    assert "Transcription error" in html and "Point 3 was 5 U, not 4 U" in html


def test_aftercare_for_a_signed_treatment_is_printable(as_clinician, signed):
    response = as_clinician.get(reverse("aftercare", args=[signed.public_id]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Aftercare after your treatment" in html and "data-print" in html
    assert "exercise" in html.lower()


def test_the_printed_aftercare_gives_the_clinics_number_beside_the_warning_signs(as_clinician, signed):
    from touchup.clinic.models import Clinic

    url = reverse("aftercare", args=[signed.public_id])
    assert "<h2>Call the clinic if you notice</h2>" in as_clinician.get(url).content.decode()
    Clinic.objects.filter(pk=signed.patient.clinic_id).update(phone="020 7946 0000")
    assert "<h2>Call the clinic on 020 7946 0000 if you notice</h2>" in as_clinician.get(url).content.decode()


def test_aftercare_for_a_draft_sends_back_to_the_chart(as_clinician, draft):
    response = as_clinician.get(reverse("aftercare", args=[draft.public_id]))
    assert response.status_code == 302


def test_start_a_treatment_from_the_patient_page(as_clinician, screened_patient, glabellar_protocol):
    response = as_clinician.post(reverse("treatment_new", args=[screened_patient.public_id]), {
        "indication": "glabellar_lines", "protocol": glabellar_protocol, "product": "onabotulinumtoxinA",
        "treated_on": "2025-01-02",
    })
    treatment = Treatment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("chart", args=[treatment.public_id])
    assert treatment.points.count() > 0


def test_start_with_a_future_date_shows_the_error(as_clinician, screened_patient):
    response = as_clinician.post(reverse("treatment_new", args=[screened_patient.public_id]), {
        "indication": "glabellar_lines", "protocol": "", "product": "onabotulinumtoxinA", "treated_on": "2999-01-02",
    })
    assert response.status_code == 200
    assert "is in the future" in response.content.decode()
    assert not Treatment.objects.exists()


def test_protocol_options_follow_the_indication(as_clinician, glabellar_protocol):
    html = as_clinician.get(reverse("protocol_options"), {"indication": "glabellar_lines"}).content.decode()
    assert f'value="{glabellar_protocol}"' in html
    other = as_clinician.get(reverse("protocol_options"), {"indication": "chronic_migraine"}).content.decode()
    assert f'value="{glabellar_protocol}"' not in other


def test_discard_a_draft(as_clinician, draft):
    response = as_clinician.post(reverse("chart_discard", args=[draft.public_id]))
    assert response.status_code == 302
    assert not Treatment.objects.filter(pk=draft.pk).exists()
    assert not InjectionPoint.objects.filter(treatment_id=draft.pk).exists()


def test_details_form_error_lands_on_its_field(as_clinician, draft):
    response = as_clinician.post(reverse("chart_details", args=[draft.public_id]), {
        "product": "onabotulinumtoxinA", "treated_on": "2999-01-01", "notes": "",
    })
    assert response.status_code == 200
    assert response.context["details_form"].errors["treated_on"] == ["is in the future"]


def test_finding_sources_read_as_words_with_their_citation(as_clinician, draft, vial):
    """The panel showed the code "clinic_policy" under a screening finding, and bare keys
    ("S16, S17") with nothing to say what they stand for."""
    from django.utils.html import escape

    from touchup.clinic.models import Screening
    from touchup.core.catalogue import load_catalogue

    Screening.objects.filter(patient=draft.patient).delete()  # a rule of the clinic's, not the label's
    over = {0: {"units": "30"}}  # above the label's dose at the site: a label source
    html = as_clinician.post(reverse("chart_save", args=[draft.public_id]),
                             chart_state(draft, over, vial=str(vial.pk)), **HTMX).content.decode()
    assert "Clinic policy" in html and "clinic_policy<" not in html and "· clinic_policy" not in html
    sources = load_catalogue().sources
    cited = re.findall(r'<abbr title="([^"]*)">(S\w+)</abbr>', html)
    assert cited, html
    for title, key in cited:
        assert title == escape(sources[key].title)
