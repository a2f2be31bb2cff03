"""`touchup forecast` end to end: the installed command on real files (DESIGN.md contract)."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

TOUCHUP = Path(sys.executable).parent / "touchup"
KEYS = {"area", "treatment_date", "wear_off_date", "wear_off_interval", "book_from", "book_by",
        "earliest_allowed", "basis"}


def history(date="2026-02-10", area="glabella", indication="glabellar_lines", units=20, **extra):
    data = {
        "as_of": "2026-05-01",
        "patient": {"sex": "female", "birth_date": "1984-03-02"},
        "treatments": [{"date": date, "product": "onabotulinumtoxinA", "indication": indication,
                        "areas": [{"area": area, "units": units}]}],
        "observations": [],
    }
    data.update(extra)
    return data


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def touchup(*args):
    return subprocess.run([str(TOUCHUP), "forecast", *args], capture_output=True, text=True, timeout=60)


def test_one_file_prints_one_result_object(tmp_path):
    r = touchup(write(tmp_path, "h.json", history()), "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert isinstance(result, dict) and list(result) == ["areas"]
    (area,) = result["areas"]
    assert set(area) == KEYS
    assert area["area"] == "glabella" and area["treatment_date"] == "2026-02-10"
    dates = [area["book_from"], area["book_by"], area["earliest_allowed"], area["wear_off_date"], *area["wear_off_interval"]]
    for d in dates:
        dt.date.fromisoformat(d)
    assert area["wear_off_interval"][0] < area["wear_off_date"] < area["wear_off_interval"][1]


def test_several_files_print_an_array_in_the_same_order(tmp_path):
    files = [
        write(tmp_path, "c.json", history(date="2026-03-01", area="cervical_dystonia", indication="cervical_dystonia", units=200)),
        write(tmp_path, "a.json", history(date="2026-01-20")),
        write(tmp_path, "b.json", history(date="2026-02-02", area="migraine", indication="chronic_migraine", units=155)),
    ]
    r = touchup(*files, "--json")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert isinstance(results, list)
    assert [res["areas"][0]["treatment_date"] for res in results] == ["2026-03-01", "2026-01-20", "2026-02-02"]
    assert [res["areas"][0]["area"] for res in results] == ["cervical_dystonia", "glabella", "migraine"]


@pytest.mark.parametrize(("content", "field"), [
    (history(units=-20), "treatments[0].areas[0].units"),
    (history(observations=[{"date": "2026-03-01", "area": "glabella", "kind": "fws_grade", "value": 5}]),
     "observations[0].value"),
    (history(observations=[{"date": "2026-05-02", "area": "glabella", "kind": "fws_grade", "value": 1}]),
     "observations[0].date"),
    ({k: v for k, v in history().items() if k != "as_of"}, "as_of"),
    ('{"as_of": "2026-05-01", ', "not valid JSON"),
])
def test_bad_input_exits_2_naming_the_file_and_field(tmp_path, content, field):
    good = write(tmp_path, "good.json", history())
    bad = write(tmp_path, "bad.json", content)
    r = touchup(good, bad, "--json")
    assert r.returncode == 2
    assert r.stdout == ""
    assert f"{bad}: {field}" in r.stderr


def test_a_missing_file_exits_2(tmp_path):
    r = touchup(str(tmp_path / "nope.json"), "--json")
    assert r.returncode == 2
    assert "nope.json" in r.stderr


def test_without_json_it_prints_a_table(tmp_path):
    r = touchup(write(tmp_path, "h.json", history()))
    assert r.returncode == 0, r.stderr
    assert "glabella" in r.stdout and "2026-02-10" in r.stdout and "population prior only" in r.stdout


def test_it_never_starts_django(tmp_path):
    path = write(tmp_path, "h.json", history())
    code = (
        "import sys, io, contextlib\n"
        "from touchup.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['forecast', {path!r}, '--json']) == 0\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
