"""The effect chart on the patient page: readings against the baseline the forecast reads
them against, past cycles, the forecast and its band, as inline SVG."""

import datetime as dt
import xml.etree.ElementTree as ET

from django.template.loader import render_to_string
from django.utils import timezone

from touchup.clinic.models import Observation
from touchup.maintenance.chart import EFFECT_AGAINST_REFERENCE, EFFECT_AGAINST_TREATMENT_DAY, effect_chart
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
    # (+5%: nearly worn off); the first one is only a baseline. 190 days is too soon for
    # the population curve to have left nothing, so the second cycle is read, as the model
    # reads it, against the untreated 0.40, not its own treatment day's 0.38.
    assert [r["label"].rsplit("(", 1)[1][:4] for r in chart.readings] == ["+75%", "+5% ", "+70%", "+50%"]
    assert [r["label"].endswith(f"vs the untreated reading of {first.day} {first:%b %Y})") for r in chart.readings] == [
        False, False, True, True]
    assert [c["yes"] for c in chart.checkins] == [False]
    assert chart.forecast["row"] == row and chart.forecast["band_w"] > 0
    assert chart.curve  # the expected course, scaled to this cycle's readings
    assert f"{row.wear_off_date.day} {row.wear_off_date:%b %Y}" in chart.summary

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


def _photos(patient, *readings):
    for day, value in readings:
        Observation.objects.create(patient=patient, area="glabella", observed_on=day, kind="wrinkle_index",
                                   value=value, source="photo")


def test_a_return_before_wear_off_is_read_against_the_untreated_reading(patient, clinician):
    today = timezone.localdate()
    first, second = today - dt.timedelta(days=160), today - dt.timedelta(days=60)
    signed_treatment(patient, clinician, first, {"glabella": 20})
    signed_treatment(patient, clinician, second, {"glabella": 20})
    # Back after 100 days with the lines still well below untreated (0.22 against 0.40).
    _photos(patient, (first, 0.40), (first + dt.timedelta(days=20), 0.12), (second, 0.22),
            (second + dt.timedelta(days=20), 0.12), (today - dt.timedelta(days=5), 0.30))
    recompute(patient)
    [chart] = effect_chart(patient, today=today)["areas"]
    second_cycle = chart.readings[-2:]
    # Against its own 0.22 the last photo would read -36%: below "no effect" while a
    # quarter of the lines' reduction is still there.
    assert [r["label"].rsplit("(", 1)[1] for r in second_cycle] == [
        f"+70% vs the untreated reading of {first.day} {first:%b %Y})",
        f"+25% vs the untreated reading of {first.day} {first:%b %Y})",
    ]
    assert chart.effect_note == EFFECT_AGAINST_REFERENCE
    html = render_to_string("web/maintenance/_effect_chart.html", {"hidden": False, "areas": [chart], "plot": {}})
    assert "Effect = improvement against the untreated reading" in html


def test_after_a_long_break_the_cycle_is_read_against_its_own_treatment_day(patient, clinician):
    today = timezone.localdate()
    first, second = today - dt.timedelta(days=460), today - dt.timedelta(days=60)
    signed_treatment(patient, clinician, first, {"glabella": 20})
    signed_treatment(patient, clinician, second, {"glabella": 20})
    _photos(patient, (first, 0.40), (first + dt.timedelta(days=20), 0.12), (second, 0.44),
            (second + dt.timedelta(days=20), 0.11))
    recompute(patient)
    [chart] = effect_chart(patient, today=today)["areas"]
    assert chart.readings[-1]["label"].endswith("(+75% vs the treatment day)")  # 1 - 0.11 / 0.44
    assert chart.effect_note == EFFECT_AGAINST_TREATMENT_DAY


def test_the_chart_costs_a_few_queries_however_long_the_history(patient, clinician, django_assert_max_num_queries):
    today = timezone.localdate()
    for k in range(6):
        day = today - dt.timedelta(days=100 * (6 - k))
        signed_treatment(patient, clinician, day, {"glabella": 20, "forehead": 10}, indication="upper_face_lines")
        for area in ("glabella", "forehead"):
            for d, v in ((0, 0.4), (20, 0.1), (60, 0.2)):
                Observation.objects.create(patient=patient, area=area, observed_on=day + dt.timedelta(days=d),
                                           kind="wrinkle_index", value=v, source="photo")
    recompute(patient)
    # The history (treatments, their points, observations), the forecasts, the clinic's
    # calibration: the same number for any number of areas, cycles and readings.
    with django_assert_max_num_queries(5):
        ctx = effect_chart(patient, today=today)
    assert len(ctx["areas"]) == 2 and all(len(c.readings) == 17 for c in ctx["areas"])


def test_a_chart_the_model_cannot_read_says_why(patient, clinician):
    # Forehead units on a frown-lines chart: not a history the forecast (or the chart) reads.
    signed_treatment(patient, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20, "forehead": 10})
    ctx = effect_chart(patient)
    assert ctx["areas"] == [] and "'forehead' is not an area of indication" in ctx["unavailable"]
    html = render_to_string("web/maintenance/_effect_chart.html", {"hidden": False, **ctx})
    assert "The chart cannot be drawn" in html and "No signed treatment yet" not in html


def test_diaries_and_scores_show_the_effect_the_model_reads(patient, clinician):
    today = timezone.localdate()
    treated = today - dt.timedelta(days=70)
    signed_treatment(patient, clinician, treated, {"migraine": 155}, indication="chronic_migraine")
    for days, value in ((0, 9), (30, 3), (60, 27)):
        Observation.objects.create(patient=patient, area="migraine", observed_on=treated + dt.timedelta(days=days),
                                   kind="headache_days", value=value, source="patient")
    recompute(patient)
    [chart] = effect_chart(patient, today=today)["areas"]
    # The model reads a diary as baseline - value in units of the baseline (9 -> 3: +67%)
    # and counts a month worse than untreated at most one baseline's worth: 27 days reads
    # -100%, as in the model, not the -200% of 1 - 27/9.
    assert [r["label"].split(": ", 1)[1] for r in chart.readings] == [
        "headache days 3 (+67% vs the treatment day)", "headache days 27 (-100% vs the treatment day)"]
    assert chart.kinds == [{"kind": "headache_days", "label": "Headache days", "shape": "diamond"}]


def test_the_chart_reads_a_reading_with_the_models_rule(patient, clinician, monkeypatch):
    # One rule: the chart asks the model's MeasurePrior what a reading says, whatever the
    # priors file makes of the kind (here a symptom score read in absolute points).
    import dataclasses

    from touchup.maintenance import chart as chart_module

    today = timezone.localdate()
    treated = today - dt.timedelta(days=40)
    signed_treatment(patient, clinician, treated, {"cervical_dystonia": 200}, indication="cervical_dystonia")
    for days, value in ((0, 40), (30, 39.5)):
        Observation.objects.create(patient=patient, area="cervical_dystonia", observed_on=treated + dt.timedelta(days=days),
                                   kind="symptom_score", value=value, source="clinician")
    priors = chart_module.priors_for(patient.clinic_id)
    absolute = dataclasses.replace(priors, measures={
        **priors.measures, "symptom_score": dataclasses.replace(priors.measures["symptom_score"], relative=False)})
    monkeypatch.setattr(chart_module, "priors_for", lambda clinic_id: absolute)
    [chart] = effect_chart(patient, today=today)["areas"]
    assert [r["label"].split(": ", 1)[1] for r in chart.readings] == ["symptom score 39.5 (+50% vs the treatment day)"]


def test_a_30_day_diary_is_drawn_against_the_course_averaged_over_its_month(patient, clinician):
    # A headache count covers the 30 days before its date, so the expected course it is
    # drawn against is the curve's mean over that month (as the model reads it): it peaks
    # weeks after the curve itself, and is still low where the curve already has risen.
    today = timezone.localdate()
    treated = today - dt.timedelta(days=60)
    signed_treatment(patient, clinician, treated, {"migraine": 155}, indication="chronic_migraine")
    for days, value in ((0, 16), (30, 9), (58, 7)):
        Observation.objects.create(patient=patient, area="migraine", observed_on=treated + dt.timedelta(days=days),
                                   kind="headache_days", value=value, source="patient")
    [row] = recompute(patient)
    [chart] = effect_chart(patient, today=today)["areas"]
    points = [tuple(map(float, p.split(","))) for p in chart.curve.split()]
    highest = min(y for _, y in points)  # SVG y grows downwards
    peak_x = next(x for x, y in points if y == highest)
    from touchup.maintenance.chart import _x
    from touchup.maintenance.services.calibration import priors_for

    prior = priors_for(patient.clinic_id).areas["migraine"]
    # The unaveraged curve peaks at prior.peak_days; the month's mean about two weeks later.
    assert _x(treated + dt.timedelta(days=prior.peak_days + 9), chart.start, chart.end) <= peak_x
    assert peak_x <= _x(treated + dt.timedelta(days=prior.peak_days + 33), chart.start, chart.end)
    wear = (row.wear_off_date - treated).days
    assert prior.measured_improvement(15, wear, 30) < 0.5 * prior.improvement(15, wear)


def test_a_passed_window_reads_as_overdue_and_months_carry_their_year(patient, clinician):
    """The worklist says "Overdue since 9 Nov"; the chart said "book 2 Nov – 9 Nov" as if it
    were still to come. Axis months read "Jan 2025": "Jan 25" read as the 25th of January."""
    import re

    today = timezone.localdate()
    signed_treatment(patient, clinician, today - dt.timedelta(days=300), {"glabella": 20})
    [row] = recompute(patient)
    assert row.book_by < today  # a 130-day median: long worn off
    [chart] = effect_chart(patient, today=today)["areas"]
    assert f"overdue since {row.book_by.day} {row.book_by:%b %Y}" in chart.summary
    assert "; book " not in chart.summary
    assert chart.x_ticks and all(re.fullmatch(r"[A-Z][a-z]{2} \d{4}", t["label"]) for t in chart.x_ticks)

    # Still to come: the window, with its year.
    later = today - dt.timedelta(days=30)
    signed_treatment(patient, clinician, later, {"glabella": 20})
    [row] = recompute(patient)
    [chart] = effect_chart(patient, today=today)["areas"]
    assert row.book_by >= today
    assert f"book {row.book_from.day} {row.book_from:%b} – {row.book_by.day} {row.book_by:%b %Y}." in chart.summary
