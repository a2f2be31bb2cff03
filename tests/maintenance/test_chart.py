"""The effect chart on the patient page: readings against the treatment day, past
cycles, the forecast and its band, as inline SVG."""

import datetime as dt
import xml.etree.ElementTree as ET

from django.template.loader import render_to_string
from django.utils import timezone

from touchup.clinic.models import Observation
from touchup.maintenance.chart import effect_chart
from touchup.maintenance.services.forecasts import recompute

from .conftest import signed_treatment

SVG = "{http://www.w3.org/2000/svg}"


def test_chart_shows_readings_cycles_and_the_forecast_band(patient, clinician):
    today = timezone.localdate()
    first = today - dt.timedelta(days=250)
    second = today - dt.timedelta(days=60)
    signed_treatment(patient, clinician, first, {"glabella": 20})
    signed_treatment(patient, clinician, second, {"glabella": 20})
    for day, value in ((first, 0.40), (first + dt.timedelta(days=30), 0.10), (second, 0.38),
                       (second + dt.timedelta(days=20), 0.12), (today - dt.timedelta(days=5), 0.20)):
        Observation.objects.create(patient=patient, area="glabella", observed_on=day, kind="wrinkle_index",
                                   value=value, source="photo")
    Observation.objects.create(patient=patient, area="glabella", observed_on=today - dt.timedelta(days=2),
                               kind="wearing_off_reported", value=0.0, source="patient")
    [row] = recompute(patient)
    ctx = effect_chart(patient, today=today)
    [chart] = ctx["areas"]
    assert chart.area == "glabella"
    assert len(chart.treatments) == 2
    # A treatment-day photo is taken before the injections: the end of the cycle before
    # (+5%: nearly worn off) and the baseline of the next; the first one is only a baseline.
    assert [r["label"].rsplit("(", 1)[1][:4] for r in chart.readings] == ["+75%", "+5% ", "+68%", "+47%"]
    assert [c["yes"] for c in chart.checkins] == [False]
    assert chart.forecast["row"] == row and chart.forecast["band_w"] > 0
    assert chart.curve  # the expected course, scaled to this cycle's readings
    assert row.wear_off_date.strftime("%d %b %Y") in chart.summary

    html = render_to_string("web/maintenance/_effect_chart.html", {"hidden": False, **ctx})
    start = html.index("<svg")
    svg = ET.fromstring(html[start:html.index("</svg>") + 6].replace('class=', 'data-class='))
    assert svg.tag == f"{SVG}svg" or svg.tag == "svg"
    assert "Forecast wear-off" in html and "80% band" in html


def test_chart_is_only_for_roles_that_see_clinical_data(patient, clinician):
    from touchup.maintenance.templatetags.maintenance import effect_chart as tag

    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    assert tag({"may": {"clinical": False}}, patient) == {"hidden": True}
    shown = tag({"may": {"clinical": True}}, patient)
    assert shown["hidden"] is False and [c.area for c in shown["areas"]] == ["glabella"]
    assert shown["areas"][0].summary == "No forecast yet."


def test_the_patient_page_shows_the_chart_to_clinicians_only(client, patient, clinician, front_desk):
    from tests.conftest import PASSWORD

    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    recompute(patient)
    client.login(username=clinician.username, password=PASSWORD)
    html = client.get(f"/patients/{patient.public_id}/").content.decode()
    assert "Effect and forecast" in html and "<svg class=\"effect-chart\"" in html
    assert "<h3>Glabella (frown lines)</h3>" in html  # the catalogue's name, as everywhere else
    client.logout()
    client.login(username=front_desk.username, password=PASSWORD)
    page = client.get(f"/patients/{patient.public_id}/")
    assert page.status_code == 200 and "Effect and forecast" not in page.content.decode()
