"""Reading and checking History JSON: every error names the file and the field."""

import copy
import datetime as dt
import json

import pytest

from touchup.core.history import History, HistoryError, load_history, parse_history

EXAMPLE = {
    "as_of": "2026-05-01",
    "patient": {"sex": "female", "birth_date": "1984-03-02"},
    "treatments": [
        {"date": "2025-09-01", "product": "onabotulinumtoxinA", "indication": "glabellar_lines",
         "areas": [{"area": "glabella", "units": 20}]},
        {"date": "2026-02-10", "product": "onabotulinumtoxinA", "indication": "chronic_migraine",
         "areas": [{"area": "migraine", "units": 155}]},
    ],
    "observations": [
        {"date": "2025-09-01", "area": "glabella", "kind": "wrinkle_index", "value": 0.42},
        {"date": "2025-09-01", "area": "glabella", "kind": "fws_grade", "value": 2},
        {"date": "2025-12-20", "area": "glabella", "kind": "wearing_off_reported", "value": True},
        {"date": "2025-10-01", "area": "migraine", "kind": "headache_days", "value": 11},
    ],
}


def history(**changes):
    data = copy.deepcopy(EXAMPLE)
    data.update(changes)
    return data


def test_it_reads_the_design_example():
    h = parse_history(EXAMPLE, "h.json")
    assert isinstance(h, History)
    assert h.as_of == dt.date(2026, 5, 1)
    assert h.patient.sex == "female" and h.patient.birth_date == dt.date(1984, 3, 2)
    assert [t.date for t in h.treatments] == [dt.date(2025, 9, 1), dt.date(2026, 2, 10)]
    assert h.treatments[1].areas[0].area == "migraine" and h.treatments[1].areas[0].units == 155.0
    assert h.observations[2].value is True
    assert h.observations[1].value == 2.0


def test_it_treats_missing_observations_as_none_yet():
    data = history()
    del data["observations"]
    assert parse_history(data).observations == ()


def test_it_keeps_histories_immutable():
    h = parse_history(EXAMPLE)
    with pytest.raises(AttributeError):
        h.as_of = dt.date(2020, 1, 1)


def _set(data, path, value):
    """Set (or with value=KeyError delete) a dotted/indexed path in nested JSON data."""
    keys = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        keys.append(int(part) if part.isdigit() else part)
    node = data
    for k in keys[:-1]:
        node = node[k]
    if value is KeyError:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


BAD = [
    # (field to change, new value or KeyError to delete it, reported path, words in the message)
    ("as_of", KeyError, "as_of", "missing"),
    ("as_of", "1 May 2026", "as_of", "YYYY-MM-DD"),
    ("as_of", "2026-02-30", "as_of", "YYYY-MM-DD"),
    ("patient", KeyError, "patient", "missing"),
    ("patient.sex", "f", "patient.sex", "unknown sex"),
    ("patient.birth_date", "2030-01-01", "patient.birth_date", "after as_of"),
    ("treatments", [], "treatments", "at least one"),
    ("treatments", {}, "treatments", "must be a list"),
    ("treatments[0].date", KeyError, "treatments[0].date", "missing"),
    ("treatments[1].date", "2025-08-01", "treatments[1].date", "out of order"),
    ("treatments[1].date", "2026-06-01", "treatments[1].date", "after as_of"),
    ("treatments[0].product", "botox", "treatments[0].product", "unknown product"),
    ("treatments[0].product", KeyError, "treatments[0].product", "missing"),
    ("treatments[0].indication", "wrinkles", "treatments[0].indication", "unknown indication"),
    ("treatments[0].areas", [], "treatments[0].areas", "at least one"),
    ("treatments[0].areas[0].area", "nose", "treatments[0].areas[0].area", "unknown area"),
    ("treatments[0].areas[0].area", "migraine", "treatments[0].areas[0].area", "not an area of indication"),
    ("treatments[0].areas[0].units", -20, "treatments[0].areas[0].units", "must be a positive number"),
    ("treatments[0].areas[0].units", 0, "treatments[0].areas[0].units", "must be a positive number"),
    ("treatments[0].areas[0].units", "20", "treatments[0].areas[0].units", "must be a positive number"),
    ("treatments[0].areas[0].units", True, "treatments[0].areas[0].units", "must be a positive number"),
    ("treatments[0].areas[0].units", KeyError, "treatments[0].areas[0].units", "missing"),
    ("observations", "none", "observations", "must be a list"),
    ("observations[0].date", "2025-08-31", "observations[0].date", "before the first treatment"),
    ("observations[0].date", "2026-05-02", "observations[0].date", "after as_of"),
    ("observations[0].kind", "redness", "observations[0].kind", "unknown observation kind"),
    ("observations[0].area", "elbow", "observations[0].area", "unknown area"),
    ("observations[0].value", -0.1, "observations[0].value", ">= 0"),
    ("observations[0].value", None, "observations[0].value", "must be a number"),
    ("observations[0].value", KeyError, "observations[0].value", "missing"),
    ("observations[1].value", 4, "observations[1].value", "0-3"),
    ("observations[1].value", 1.5, "observations[1].value", "0-3"),
    ("observations[1].value", -1, "observations[1].value", "0-3"),
    ("observations[2].value", "true", "observations[2].value", "true or false"),
    ("observations[2].value", 1, "observations[2].value", "true or false"),
    ("observations[3].value", 31, "observations[3].value", "0-30"),
    ("observations[3].value", 2.5, "observations[3].value", "0-30"),
    ("observations[3].area", "glabella", "observations[3].kind", "does not apply"),
]


@pytest.mark.parametrize(("field", "value", "path", "words"), BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_it_names_the_file_and_field_of_bad_input(field, value, path, words):
    data = history()
    _set(data, field, value)
    with pytest.raises(HistoryError) as caught:
        parse_history(data, "h.json")
    assert caught.value.source == "h.json"
    assert caught.value.path == path
    assert words in caught.value.message
    assert str(caught.value).startswith(f"h.json: {path}: ")


def test_it_rejects_the_same_area_twice_on_one_day():
    data = history()
    data["treatments"][0]["areas"].append({"area": "glabella", "units": 4})
    with pytest.raises(HistoryError, match=r"treatments\[0\]\.areas\[1\]\.area: 'glabella' is already treated"):
        parse_history(data, "h.json")


def test_it_rejects_a_history_that_is_not_an_object():
    with pytest.raises(HistoryError, match="^h.json: must be an object"):
        parse_history([EXAMPLE], "h.json")


def test_it_allows_treatments_on_the_same_day_in_any_order():
    data = history()
    data["treatments"][1]["date"] = "2025-09-01"
    assert parse_history(data).treatments[1].date == dt.date(2025, 9, 1)


def test_it_reads_files_and_names_them_in_errors(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(EXAMPLE))
    assert load_history(good).as_of == dt.date(2026, 5, 1)

    broken = tmp_path / "broken.json"
    broken.write_text('{"as_of": "2026-05-01",')
    with pytest.raises(HistoryError, match=r"broken\.json: not valid JSON"):
        load_history(broken)

    with pytest.raises(HistoryError, match=r"missing\.json: no such file"):
        load_history(tmp_path / "missing.json")

    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(EXAMPLE).replace("0.42", "NaN"))
    with pytest.raises(HistoryError, match=r"nan\.json: not valid JSON"):
        load_history(nan)

    bad = tmp_path / "bad.json"
    data = history()
    data["treatments"][1]["areas"][0]["units"] = -1
    bad.write_text(json.dumps(data))
    with pytest.raises(HistoryError) as caught:
        load_history(bad)
    assert str(caught.value) == f"{bad}: treatments[1].areas[0].units: must be a positive number, got -1"
