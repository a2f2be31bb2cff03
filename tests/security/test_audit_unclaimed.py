"""`touchup audit unclaimed`: the events of no clinic (sign-ins with usernames that are no
account, address lockouts) that no manager's audit page lists, for whoever runs the server."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from freezegun import freeze_time

from tests.security.test_signin_limits import committed  # noqa: F401 - fixture
from touchup.cli import main as touchup
from touchup.clinic.models import AuditEvent

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_it_lists_the_events_of_no_clinic_and_nothing_else(client, clinician, patient, committed, capsys):  # noqa: F811
    client.force_login(clinician)
    assert client.get(f"/patients/{patient.public_id}/").status_code == 200  # a clinic's event
    client.logout()
    with freeze_time(T0), committed():
        for i in range(11):  # ten per address a minute, then the lockout
            client.post("/accounts/login/", {"login": f"Dana Example {i}", "password": "hunter2"},
                        REMOTE_ADDR="198.51.100.4")
    capsys.readouterr()
    assert touchup(["audit", "unclaimed", "--since", "2026-03-01", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["action"] for r in rows] == ["signin.failed"] * 10 + ["signin.locked"]
    assert {r["ip"] for r in rows} == {"198.51.100.4"}
    assert rows[-1]["what"] == "Sign-in paused: too many failures"
    assert all(r["at"].startswith("2026-03-02T09:00") for r in rows)
    # Nothing typed is kept, so nothing typed is listed.
    assert "Dana" not in json.dumps(rows) and "hunter2" not in json.dumps(rows)
    assert AuditEvent.objects.filter(action="patient.view").exists()

    assert touchup(["audit", "unclaimed", "--since", "2026-03-01"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 11 and "11 events of no clinic since 2026-03-01" in err
    assert out.splitlines()[-1].startswith("2026-03-02T09:00:00Z  198.51.100.4     signin.locked")
    assert "[limit=ip minutes=1]" in out.splitlines()[-1]

    assert touchup(["audit", "unclaimed", "--since", "2026-03-03"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "0 events of no clinic since 2026-03-03" in err


def test_a_bad_day_is_named(capsys):
    with pytest.raises(SystemExit) as exit_:
        touchup(["audit", "unclaimed", "--since", "yesterday"])
    assert exit_.value.code == 2
    assert "--since: not a date (YYYY-MM-DD): 'yesterday'" in capsys.readouterr().err
