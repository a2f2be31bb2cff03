"""The manager's forecast track record: the clinic's own cycles with an observed wear-off,
forecast again from each cycle's peak day, beside the fixed "every N days" rule; scored by
the worker and kept, shown on the page, and from `touchup calibrate --track-record`."""

import datetime as dt
import json

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.maintenance.conftest import signed_treatment
from touchup.cli import main as touchup
from touchup.clinic.models import AuditEvent, Observation
from touchup.clinic.services.patients import patient_create
from touchup.commands.worker import _run_tasks
from touchup.core.forecast import forecast
from touchup.core.history import parse_history
from touchup.core.track_record import from_record_data
from touchup.maintenance.models import TrackRecordReport, TrackRecordRequest
from touchup.maintenance.services import track_record as track_record_svc

ONA = "onabotulinumtoxinA"


def seed(clinic, clinician, start):
    """Three glabella patients treated on `start` with 30 units (above the label's 20, so the
    model expects longer than the fixed rule's published median) and again on day 150: two
    said "not yet" and then "wearing off" on days 120 and 124; the third was never asked."""
    for i, answers in enumerate(([(100, False), (120, True)], [(110, False), (124, True)], [])):
        p = patient_create(actor=clinician, clinic=clinic, given_name=f"T{i}", family_name="Record",
                           birth_date=dt.date(1985, 1, 1), sex="female")
        signed_treatment(p, clinician, start, {"glabella": 30})
        for n, yes in answers:
            Observation.objects.create(patient=p, area="glabella", observed_on=start + dt.timedelta(days=n),
                                       kind="wearing_off_reported", value=1.0 if yes else 0.0, source="checkin")
        signed_treatment(p, clinician, start + dt.timedelta(days=150), {"glabella": 20})


def fresh_forecast(start):
    """The forecast the product makes for a first glabella cycle on its peak day (day 21),
    nothing recorded yet: what both scored cycles were forecast from."""
    h = parse_history({"as_of": (start + dt.timedelta(days=21)).isoformat(), "patient": {"sex": "female"},
                       "treatments": [{"date": start.isoformat(), "product": ONA, "indication": "glabellar_lines",
                                       "areas": [{"area": "glabella", "units": 30}]}]})
    f = forecast(h).areas[0]
    return (f.wear_off_date - start).days, [(d - start).days for d in f.wear_off_interval]


@pytest.mark.django_db(transaction=True)  # real commits: the worker runs the scoring
def test_the_page_shows_how_close_the_forecasts_came(as_manager, clinic_a, clinic_b, clinician, other_clinician):
    start = timezone.localdate() - dt.timedelta(days=300)
    seed(clinic_a, clinician, start)
    seed(clinic_b, other_clinician, start - dt.timedelta(days=5))  # not this clinic's: not counted
    k, (lo, hi) = fresh_forecast(start)
    assert k > 130  # the dose: the forecast and the fixed rule differ

    # Nothing scored yet: the page says so and offers the button; it read no chart.
    page = as_manager.get("/forecast/track-record/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/forecast/track-record/" aria-current="page">Track record' in html
    assert "Not scored yet" in html and ">Score now</button>" in html and 'id="track-record"' not in html
    assert not AuditEvent.objects.filter(action="forecast.track_record.score").exists()

    r = as_manager.post("/forecast/track-record/score/")
    assert r.status_code == 302 and r["Location"] == "/forecast/track-record/"
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    html = as_manager.get("/forecast/track-record/").content.decode()
    assert "Being scored: asked" in html and "by mona" in html and "Score now" not in html
    assert 'hx-trigger="every 5s"' in html  # the section refreshes itself until the result is in
    _run_tasks("test-worker")
    assert not TrackRecordRequest.objects.exists()

    html = as_manager.get("/forecast/track-record/").content.decode()
    assert "every 5s" not in html and ">Score again now</button>" in html
    scored = html.split('id="record-scored">')[1].split("</p>")[0]
    assert "on 3 patient histories, asked by mona" in scored and "have changed" not in scored
    for heading in ("How close the forecast came", "Fixed 'every N days' rule", "Inside the range we gave"):
        assert heading in html
    row = html.split("Glabella")[1].split("</tr>")[0]
    model = (abs(k - 120) + abs(k - 124)) / 2
    inside = sum(lo <= d <= hi for d in (120, 124)) * 50
    # 2 scored; the fixed rule recalls at 130 days: 10 and 6 days late, 8 on average.
    cells = [c.split(">", 1)[1].split("<")[0] for c in row.split("<td data-label=")[1:]]
    assert cells[0] == "2"
    assert cells[1] == f"{model:.0f} days"
    assert cells[2] == "8 days" and "N = 130" in row
    assert cells[3] == f"{model / 8:.2f}"
    assert cells[4] == f"{inside}%"
    assert cells[5] == "1" and "3 still running" in row  # never asked; the current cycles
    summary = html.split('id="record-summary">')[1].split("</p>")[0]
    assert f"On 2 cycles where the wear-off was seen, the forecast was on average {model:.0f} days off" in summary
    assert "8 days off" in summary and f"inside the range we gave in {inside}% of cycles" in summary

    # One audit event for the read of every chart (the worker's, for whoever asked): which
    # clinic, how many, nobody named. Opening the page reads only the kept numbers.
    event = AuditEvent.objects.get(action="forecast.track_record.score")
    assert event.detail == {"patients": 3} and event.actor.username == "mona" and event.clinic_id_ref == clinic_a.pk
    assert event.patient_id_ref is None
    assert AuditEvent.objects.get(action="forecast.track_record.request").actor.username == "mona"
    views = AuditEvent.objects.filter(action="forecast.track_record.view")
    assert views.count() == 3 and all(v.patient_id_ref is None and not v.detail for v in views)


def test_nothing_to_score_says_so(as_manager, clinic_a, clinician):
    track_record_svc.score(clinic_a)
    page = as_manager.get("/forecast/track-record/").content.decode()
    assert "No treatments yet" in page and 'id="track-record"' not in page and "Score again now" in page
    p = patient_create(actor=clinician, clinic=clinic_a, given_name="N", family_name="New",
                       birth_date=dt.date(1985, 1, 1), sex="female")
    signed_treatment(p, clinician, timezone.localdate() - dt.timedelta(days=30), {"glabella": 20})
    page = as_manager.get("/forecast/track-record/").content.decode()
    assert "No treatments yet" in page  # the kept report, until it is scored again
    track_record_svc.score(clinic_a)
    page = as_manager.get("/forecast/track-record/").content.decode()
    assert "No completed cycle with an observed wear-off" in page and "1 still running" in page


def test_a_report_scored_before_the_medians_changed_says_so(as_manager, clinic_a, clinician, manager):
    from tests.maintenance.test_calibration import long_lasting_patients
    from touchup.maintenance.services import calibration

    long_lasting_patients(clinic_a, clinician, 2)
    track_record_svc.score(clinic_a)
    calibration.apply(calibration.propose(clinic_a), actor=manager)
    page = as_manager.get("/forecast/track-record/").content.decode()
    assert "The medians the forecasts use have changed since" in page
    track_record_svc.score(clinic_a)
    assert "have changed since" not in as_manager.get("/forecast/track-record/").content.decode()


def test_only_the_manager_gets_in(as_clinician, client, clinic_a, front_desk, django_capture_on_commit_callbacks):
    for url, method in (("/forecast/track-record/", "get"), ("/forecast/track-record/score/", "post")):
        with django_capture_on_commit_callbacks(execute=True):
            assert getattr(as_clinician, method)(url).status_code == 403
    client.force_login(front_desk)
    for url, method in (("/forecast/track-record/", "get"), ("/forecast/track-record/score/", "post")):
        with django_capture_on_commit_callbacks(execute=True):
            assert getattr(client, method)(url).status_code == 403
    assert AuditEvent.objects.filter(action="access.role", outcome="denied").count() == 4
    assert not AuditEvent.objects.filter(action__startswith="forecast.track_record").exists()
    assert not TrackRecordRequest.objects.exists() and not DBTaskResult.objects.exists()
    client.force_login(front_desk)
    assert 'href="/forecast/track-record/"' not in client.get("/patients/").content.decode()


def test_the_command_prints_the_same_numbers(clinic_a, clinician, capsys):
    start = timezone.localdate() - dt.timedelta(days=300)
    seed(clinic_a, clinician, start)
    k, _ = fresh_forecast(start)
    assert touchup(["calibrate", "--clinic", "alpha", "--track-record", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    # Scored here, and kept: the page shows the same numbers.
    kept = TrackRecordReport.objects.get(clinic=clinic_a)
    assert kept.computed_by is None and kept.patients == 3
    assert {"clinic": "alpha", **from_record_data(kept.result).to_json()} == shown
    assert shown["clinic"] == "alpha" and not shown["empty"]
    (glabella,) = shown["areas"]
    assert glabella["cycles"] == 2 and glabella["not_measured"] == 1 and glabella["still_running"] == 3
    assert glabella["mae_fixed_days"] == 8.0 and glabella["fixed_days"] == [130]
    assert glabella["mae_model_days"] == round((abs(k - 120) + abs(k - 124)) / 2, 1)

    assert touchup(["calibrate", "--clinic", "alpha", "--track-record"]) == 0
    text = capsys.readouterr().out
    assert "alpha: forecast track record" in text and "8 d (N=130)" in text
    assert touchup(["calibrate", "--track-record", "--apply"]) == 2
    assert "nothing to --apply" in capsys.readouterr().err


def test_the_command_rounds_the_days_as_the_page_does(clinic_a, capsys, monkeypatch):
    """15.46 days is "15 days" on the page; the command printed "16 d", rounding the JSON's
    15.5 (already rounded to a tenth) a second time."""
    from touchup.core.track_record import AreaRecord, TrackRecord
    from touchup.maintenance.services import track_record

    area = AreaRecord("glabella", 4, 1, 0, 2, (130,), 15.46, 17.46, 16.0, -3.0, 0.75)
    report = TrackRecord((area,), AreaRecord("all", *[getattr(area, f) for f in AreaRecord.__slots__[1:]]),
                         cycles=("scored",))
    monkeypatch.setattr(track_record, "for_clinic", lambda clinic, **kw: report)
    assert touchup(["calibrate", "--clinic", "alpha", "--track-record"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("glabella"))
    assert line.split()[2:6] == ["15", "d", "17", "d"], line
    assert "0.89" in line  # 15.46 / 17.46, not 15.5 / 17.5


def test_the_clinics_row_gives_the_fixed_rules_n_as_a_range(as_manager, clinic_a):
    """The All areas row read "N = 84 or 120 or 130 or 135 or 150", as if one of them had
    been picked; each area is recalled at its own N, which the row now says."""
    from touchup.core.track_record import AreaRecord, TrackRecord, record_data

    def area(key, n):
        return AreaRecord(key, 4, 1, 0, 2, n, 15.0, 18.0, 16.0, -3.0, 0.75)

    report = TrackRecord((area("cervical_dystonia", (84,)), area("glabella", (130, 150))),
                         area("all", (84, 130, 150)), cycles=("scored",))
    TrackRecordReport.objects.create(clinic=clinic_a, computed_at=timezone.now(), as_of=timezone.localdate(),
                                     patients=8, result=record_data(report))
    html = as_manager.get("/forecast/track-record/").content.decode()
    assert "N = 130 or 150" in html  # one area, two products: either N
    assert "N = 84 to 150, each area its own" in html and "84 or 130" not in html


def test_the_commands_table_lines_up_with_the_clinics_row(clinic_a, capsys, monkeypatch):
    """The clinic's row named every area's N ("N=84/120/130/135/150"), wider than the
    column, and pushed the rest of its row out of line. Every column now starts and ends
    at the same place on every line, the clinic's row giving its N as a range."""
    from touchup.core.track_record import AreaRecord, TrackRecord
    from touchup.maintenance.services import track_record

    def area(key, n, cycles=4):
        return AreaRecord(key, cycles, 1, 0, 2, n, 15.46, 17.46, 16.0, -3.0, 0.75)

    report = TrackRecord((area("cervical_dystonia", (84,)), area("glabella", (130, 150), cycles=12),
                          area("platysma", (120,))), area("all", (84, 120, 130, 135, 150), cycles=140),
                         cycles=("scored",))
    monkeypatch.setattr(track_record, "for_clinic", lambda clinic, **kw: report)
    assert touchup(["calibrate", "--clinic", "alpha", "--track-record"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "alpha: forecast track record (forecast made at each cycle's peak day)"
    table = lines[1:]
    assert [x.split()[0] for x in table] == ["area", "cervical_dystonia", "glabella", "platysma", "all"]
    assert "17 d (N=84 to 150)" in table[-1] and "130/150" in table[2]
    # Every line as long as the header, and each header's right edge a column's right edge
    # on every row (the first column's left edge too).
    assert {len(x) for x in table} == {len(table[0])}, "\n".join(table)
    header = table[0]
    for title in ("cycles", "forecast off", "every N days off", "ratio", "inside range", "not measured"):
        end = header.index(title) + len(title)
        for row in table[1:]:
            assert row[end - 1] != " " and (end == len(row) or row[end] == " "), (title, row)
    assert all(x.startswith("  ") and x[2] != " " for x in table)
