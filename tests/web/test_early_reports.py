"""Early wear-off reports reach a person: the staff patient page says so, and the Due
worklist lists the patient in its own section (one query, under worklist.view).

The forecasts are the model's own (services.forecasts.recompute over a signed chart and
the patient's check-ins), so the report's "early" is the real forecast's 80% interval."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.maintenance.conftest import signed_treatment
from tests.web.test_worklist import make_patient
from touchup.clinic.models import AuditEvent, Observation
from touchup.core.dates import day_month_text, day_text
from touchup.maintenance.models import AreaForecast
from touchup.maintenance.services.forecasts import recompute
from touchup.maintenance.services.worklist import due_for_maintenance


def check_in(patient, day, yes, area="glabella"):
    Observation.objects.create(patient=patient, area=area, observed_on=day, kind="wearing_off_reported",
                               value=1.0 if yes else 0.0, source="patient")


def early_patient(patient, clinician, *, answers=(True,)):
    """Treated 34 days ago (glabella, 20 U); check-ins on the days before today, the last today."""
    today = timezone.localdate()
    signed_treatment(patient, clinician, today - dt.timedelta(days=34), {"glabella": 20})
    for i, yes in enumerate(answers):
        check_in(patient, today - dt.timedelta(days=len(answers) - 1 - i), yes)
    recompute(patient)
    return AreaForecast.objects.get(patient=patient, area="glabella")


def test_an_early_yes_is_kept_on_the_forecast_and_a_later_no_clears_it(patient, clinician):
    today = timezone.localdate()
    f = early_patient(patient, clinician)
    assert f.early_report_on == today and f.wear_off_low > today
    check_in(patient, today, False)  # taken back (the later answer of the day)
    recompute(patient)
    assert AreaForecast.objects.get(patient=patient).early_report_on is None


def test_the_patient_page_says_it_in_words(as_front_desk, patient, clinician):
    f = early_patient(patient, clinician, answers=(True, True, True))
    first = timezone.localdate() - dt.timedelta(days=2)
    html = as_front_desk.get(f"/patients/{patient.public_id}/").content.decode()
    assert "Reported wearing off early" in html
    assert (f"Reported wearing off on {day_month_text(first)}, 32 days after the treatment (3 check-ins, the latest "
            f"on {day_month_text(timezone.localdate())}): earlier than the forecast "
            f"({day_month_text(f.wear_off_low)}–{day_text(f.wear_off_high)}).") in html
    assert "One early report moves the forecast little; a photo or a review visit will tell." in html
    assert f"Retreatment is not allowed before {day_text(f.earliest_allowed)}." in html
    # The page's own audited read covers it.
    assert AuditEvent.objects.filter(action="patient.view", patient_id_ref=patient.pk).exists()


def test_the_patient_page_says_nothing_once_taken_back(as_clinician, patient, clinician):
    early_patient(patient, clinician, answers=(True, False))
    html = as_clinician.get(f"/patients/{patient.public_id}/").content.decode()
    assert "Reported wearing off" not in html


def test_the_worklist_lists_them_in_their_own_section(as_front_desk, patient, clinician, clinic_a):
    early_patient(patient, clinician)
    calm = make_patient(clinician, clinic_a, "Cal", "Calm")
    early_patient(calm, clinician, answers=(False,))
    html = as_front_desk.get("/worklist/").content.decode()
    section = html[html.index("data-early-reports"):html.index("</section>", html.index("data-early-reports"))]
    assert "Reported wearing off early (1)" in section
    assert "Dana Example" in section and "Cal Calm" not in section
    assert f"/patients/{patient.public_id}/" in section
    assert f"Reported {day_month_text(timezone.localdate())}, 34 days after the treatment" in section
    # Not on the main list: the window is months away.
    # (The section's buttons name her too, for screen readers.)
    assert "Dana Example" not in html.replace(section, "")
    # The section's read is in the page's one audit event.
    event = AuditEvent.objects.get(action="worklist.view")
    assert event.detail["early_reports"] == 1
    # An htmx filter replaces only the list below; the section is not re-read into it.
    partial = as_front_desk.get("/worklist/?area=glabella", HTTP_HX_REQUEST="true").content.decode()
    assert "data-early-reports" not in partial


def test_another_clinics_early_reports_never_show(as_other_clinician, patient, clinician):
    early_patient(patient, clinician)
    assert "Dana Example" not in as_other_clinician.get("/worklist/").content.decode()


def test_the_section_is_one_query_however_many(front_desk, patient, clinician, clinic_a):
    def read():
        with CaptureQueriesContext(connection) as ctx:
            worklist = due_for_maintenance(front_desk)
        sections = [q["sql"] for q in ctx.captured_queries if "early_report_on" in q["sql"]]
        assert len(sections) == 1
        assert not any("wearing_off_reported" in q["sql"] for q in ctx.captured_queries)
        return len(worklist.early_reports), len(ctx.captured_queries)

    early_patient(patient, clinician)
    read()  # the first read of the process fills caches (the audit chain's head, ...)
    one, queries_for_one = read()
    for i in range(3):
        early_patient(make_patient(clinician, clinic_a, "Ann", f"Early{i}"), clinician)
    four, queries_for_four = read()
    assert (one, four) == (1, 4)
    assert queries_for_one == queries_for_four  # no query per patient


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_in_forecasts_already_kept(patient, clinician, clinic_a):
    """0012 on a database with forecasts in it: an early report is on the worklist at once,
    not only after the patient's next recompute; a taken-back one is not."""
    from django.db.migrations.executor import MigrationExecutor

    today = timezone.localdate()
    calm = make_patient(clinician, clinic_a, "Cal", "Calm")
    before = [("maintenance", "0011_track_record_report")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("maintenance", "AreaForecast")
        for p, answers in ((patient, (True,)), (calm, (True, False))):
            t = signed_treatment(p, clinician, today - dt.timedelta(days=34), {"glabella": 20})
            for i, yes in enumerate(answers):
                check_in(p, today - dt.timedelta(days=len(answers) - 1 - i), yes)
            low = today + dt.timedelta(days=60)
            old.objects.create(
                patient_id=p.pk, clinic_id=p.clinic_id, clinician_id=clinician.pk, treatment_id=t.pk,
                area="glabella", product=t.product, treated_on=t.treated_on, wear_off_date=low + dt.timedelta(days=30),
                wear_off_low=low, wear_off_high=low + dt.timedelta(days=80), book_from=low + dt.timedelta(days=15),
                book_by=low + dt.timedelta(days=30), earliest_allowed=t.treated_on + dt.timedelta(days=90),
                basis="1 check-in this cycle", computed_at=timezone.now())
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(AreaForecast.objects.values_list("patient_id", "early_report_on")) == {patient.pk: today,
                                                                                        calm.pk: None}


# The front desk's call about a report (services.early_reports.mark_handled).

def section_of(html):
    if "data-early-reports" not in html:
        return ""
    start = html.index("data-early-reports")
    return html[start:html.index("</section>", start)]


def test_a_noted_call_is_audited_and_leaves_the_section(front_desk, patient, clinician):
    from touchup.maintenance.services.early_reports import mark_handled

    f = early_patient(patient, clinician)
    assert [r.patient_name for r in due_for_maintenance(front_desk).early_reports] == ["Dana Example"]
    mark_handled(actor=front_desk, patient=patient, area="glabella", outcome="review_booked")
    f.refresh_from_db()
    assert (f.early_report_outcome, f.early_report_handled_by_id) == ("review_booked", front_desk.pk)
    assert f.early_report_handled_at is not None
    event = AuditEvent.objects.get(action="worklist.early_report")
    assert event.detail == {"area": "glabella", "outcome": "review_booked",
                            "reported_on": f.early_report_on.isoformat()}
    assert event.patient_id_ref == patient.pk
    assert due_for_maintenance(front_desk).early_reports == []


def test_a_call_note_needs_a_known_outcome_and_an_open_report(front_desk, patient, clinician):
    from touchup.clinic.errors import InvalidInput
    from touchup.maintenance.services.early_reports import mark_handled

    early_patient(patient, clinician, answers=(True, False))  # taken back: nothing open
    with pytest.raises(InvalidInput) as exc:
        mark_handled(actor=front_desk, patient=patient, area="glabella", outcome="no_action")
    assert exc.value.field == "area" and "no early wear-off report open" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        mark_handled(actor=front_desk, patient=patient, area="forehead", outcome="no_action")
    assert exc.value.field == "area" and "no forecast" in exc.value.message
    with pytest.raises(InvalidInput) as exc:
        mark_handled(actor=front_desk, patient=patient, area="glabella", outcome="called")
    assert exc.value.field == "outcome"
    assert not AuditEvent.objects.filter(action="worklist.early_report").exists()


def test_a_recompute_keeps_the_note_for_the_same_report_and_a_new_report_shows_again(front_desk, patient,
                                                                                      clinician):
    from touchup.maintenance.services.early_reports import mark_handled

    today = timezone.localdate()
    # The report began two days ago; the note is made; a further "yes" today is the same
    # report (same first "yes" of the run), so the recompute keeps the note.
    f = early_patient(patient, clinician, answers=(True, True))
    mark_handled(actor=front_desk, patient=patient, area="glabella", outcome="photo_requested")
    check_in(patient, today, True)
    recompute(patient)
    kept = AreaForecast.objects.get(patient=patient)
    assert kept.pk != f.pk and kept.early_report_on == f.early_report_on  # a new row, the same report
    assert (kept.early_report_outcome, kept.early_report_handled_by_id) == ("photo_requested", front_desk.pk)
    assert kept.early_report_handled_at is not None
    assert due_for_maintenance(front_desk).early_reports == []
    # A "no" takes the report back (and its note with it); a "yes" after it is a new report.
    check_in(patient, today, False)
    recompute(patient)
    cleared = AreaForecast.objects.get(patient=patient)
    assert (cleared.early_report_on, cleared.early_report_handled_at, cleared.early_report_outcome) == (None, None, "")
    Observation.objects.filter(patient=patient, observed_on=today).delete()
    check_in(patient, today - dt.timedelta(days=1), False)  # the run: yes, no, yes(today)
    check_in(patient, today, True)
    recompute(patient)
    again = AreaForecast.objects.get(patient=patient)
    assert again.early_report_on == today != f.early_report_on
    assert (again.early_report_handled_at, again.early_report_outcome, again.early_report_handled_by_id) == (
        None, "", None)
    assert [r.patient_name for r in due_for_maintenance(front_desk).early_reports] == ["Dana Example"]


def test_the_section_form_works_without_javascript(as_front_desk, front_desk, patient, clinician):
    """The plain POST (no HTMX): noted, and back to the same filtered page."""
    early_patient(patient, clinician)
    page = as_front_desk.get(f"/worklist/?area=glabella&clinician={clinician.pk}").content.decode()
    section = section_of(page)
    action = f"/worklist/{patient.public_id}/early-report/"
    assert f'action="{action}"' in section and 'name="csrfmiddlewaretoken"' in section
    assert "Review booked" in section and "Photo requested" in section and "Spoke, no action needed" in section
    here = f"/worklist/?area=glabella&clinician={clinician.pk}&show=open"
    assert f'name="next" value="{here.replace("&", "&amp;")}"' in section
    r = as_front_desk.post(action, {"area": "glabella", "outcome": "no_action", "next": here})
    assert r.status_code == 302
    assert r["Location"] == here  # the same filtered page
    after = as_front_desk.get(r["Location"]).content.decode()
    assert "Call noted: Spoke, no action needed." in after
    assert section_of(after) == ""  # the only line has left: no section
    assert AreaForecast.objects.get(patient=patient).early_report_outcome == "no_action"
    # An outside `next` is never followed.
    early_patient(make_patient(clinician, patient.clinic, "Ann", "Early"), clinician)
    other = AreaForecast.objects.get(patient__family_name="Early")
    r = as_front_desk.post(f"/worklist/{other.patient.public_id}/early-report/",
                           {"area": "glabella", "outcome": "review_booked", "next": "https://evil.example/worklist/"})
    assert r["Location"] == "/worklist/"


def test_the_section_form_with_htmx_swaps_the_line(as_front_desk, patient, clinician):
    early_patient(patient, clinician)
    r = as_front_desk.post(f"/worklist/{patient.public_id}/early-report/",
                           {"area": "glabella", "outcome": "review_booked"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200
    html = r.content.decode()
    assert "data-early-report-done" in html and "Call noted: Review booked" in html and "<section" not in html
    bad = as_front_desk.post(f"/worklist/{patient.public_id}/early-report/", {"area": "glabella", "outcome": "x"},
                             HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and bad.content.decode().startswith("outcome:")


def test_another_clinic_cannot_note_a_call(as_other_clinician, patient, clinician):
    early_patient(patient, clinician)
    r = as_other_clinician.post(f"/worklist/{patient.public_id}/early-report/",
                                {"area": "glabella", "outcome": "review_booked"})
    assert r.status_code == 404
    assert AreaForecast.objects.get(patient=patient).early_report_handled_at is None


def test_the_section_form_needs_a_post(as_front_desk, patient, clinician):
    early_patient(patient, clinician)
    assert as_front_desk.get(f"/worklist/{patient.public_id}/early-report/").status_code == 405


def test_the_patient_page_says_the_call_was_noted(as_clinician, front_desk, patient, clinician):
    from touchup.maintenance.services.early_reports import mark_handled

    early_patient(patient, clinician)
    front_desk.first_name, front_desk.last_name = "Bob", "Desk"
    front_desk.save()
    mark_handled(actor=front_desk, patient=patient, area="glabella", outcome="photo_requested")
    html = as_clinician.get(f"/patients/{patient.public_id}/").content.decode()
    assert "Reported wearing off on" in html  # the report is still said
    assert f"Called on {day_month_text(timezone.localdate())} by Bob Desk: Photo requested." in html
