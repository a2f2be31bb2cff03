"""The audit trail (AU-1, AU-2; HIPAA §164.312(b); ASVS 16.2.1, 16.4.2).

Reading a patient through the API leaves an event saying who, from where, under which
request; `touchup audit verify` passes on an intact chain and fails when any row is
edited behind the application's back, when a row in the middle is deleted, and when
the newest row is deleted. Runs on SQLite and on PostgreSQL (DATABASE_URL).
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from tests.api.helpers import Api
from touchup.cli import main as touchup
from touchup.clinic.models import AuditEvent

TABLE = AuditEvent._meta.db_table


class Rollback(Exception):
    """Raised to undo a tampering experiment so the next one starts from a good chain."""


def verify() -> int:
    return touchup(["audit", "verify"])


def sql(statement: str, params: list | tuple = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement.replace("{table}", connection.ops.quote_name(TABLE)), params)


@pytest.fixture
def chain(world, clinician):
    """A chain of real events: the world's writes plus some API reads."""
    api = Api(clinician, ip="203.0.113.9")
    api.get(f"/patients/{world.patient.public_id}")
    api.get(f"/treatments/{world.draft.public_id}")
    api.post("/vials/recall", {"product": "onabotulinumtoxinA", "lot": world.vial.lot})
    ids = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    assert len(ids) >= 10
    return ids


def test_reading_a_patient_writes_a_view_event_with_actor_ip_and_request(world, clinician):
    before = AuditEvent.objects.count()
    r = Api(clinician, ip="203.0.113.9").get(f"/patients/{world.patient.public_id}")
    assert r.status_code == 200
    events = list(AuditEvent.objects.filter(id__gt=before))
    view = next(e for e in events if e.action == "patient.view")
    assert view.actor == clinician and view.actor_label == "alice"
    assert view.ip == "203.0.113.9"
    assert view.patient_id_ref == world.patient.pk and view.clinic_id_ref == world.clinic.pk
    assert view.object_id == str(world.patient.public_id)
    assert len(view.request_id) == 32 and view.outcome == "ok"
    assert view.at.utcoffset().total_seconds() == 0  # UTC


def test_a_token_read_is_audited_under_the_tokens_owner(world, clinician):
    secret = world.tokens[clinician.pk].secret
    Api(token=secret, ip="192.0.2.44").get(f"/patients/{world.patient.public_id}")
    view = AuditEvent.objects.filter(action="patient.view").latest("id")
    assert (view.actor, view.ip) == (clinician, "192.0.2.44")


def test_names_never_enter_the_trail(world, clinician):
    Api(clinician).post("/patients/search", {"q": "Dana"})
    Api(clinician).post("/patients", {"given_name": "Zebedee", "family_name": "Quill",
                                      "birth_date": "1970-01-01", "sex": "male"})
    for e in AuditEvent.objects.all():
        assert "Zebedee" not in str(e.detail) and "Dana" not in str(e.detail)


def test_verify_passes_on_an_intact_chain(chain, capsys):
    assert verify() == 0
    assert f"{len(chain)} events" in capsys.readouterr().out


@pytest.mark.parametrize(("column", "value"), [
    ("action", "patient.create"),
    ("outcome", "denied"),
    ("ip", "10.0.0.1"),
    ("object_id", "00000000-0000-0000-0000-000000000000"),
    ("actor_label", "mallory"),
    ("detail", '{"fields": []}'),
])
def test_verify_fails_when_any_row_is_edited(chain, column, value, capsys):
    for event_id in chain:
        original = AuditEvent.objects.filter(id=event_id).values_list(column, flat=True).get()
        if str(original) == value:
            continue
        try:
            with transaction.atomic():
                sql(f"UPDATE {{table}} SET {column} = %s WHERE id = %s", [value, event_id])
                assert verify() == 1, f"editing {column} of event {event_id} went unnoticed"
                assert f"event {event_id} was altered" in capsys.readouterr().err
                raise Rollback
        except Rollback:
            pass
    assert verify() == 0


def test_verify_fails_when_the_time_or_hash_is_rewritten(chain, capsys):
    middle = chain[len(chain) // 2]
    for statement in (
        "UPDATE {table} SET at = at - INTERVAL '1 day' WHERE id = %s" if connection.vendor == "postgresql"
        else "UPDATE {table} SET at = datetime(at, '-1 day') WHERE id = %s",
        "UPDATE {table} SET hash = '" + "f" * 64 + "' WHERE id = %s",
        "UPDATE {table} SET prev_hash = '" + "0" * 64 + "' WHERE id = %s",
    ):
        try:
            with transaction.atomic():
                sql(statement, [middle])
                assert verify() == 1, statement
                raise Rollback
        except Rollback:
            pass
    assert verify() == 0


def test_verify_fails_when_a_middle_row_is_deleted(chain, capsys):
    middle = chain[len(chain) // 2]
    sql("DELETE FROM {table} WHERE id = %s", [middle])
    assert verify() == 1
    assert f"event {middle} is missing" in capsys.readouterr().err


def test_verify_fails_when_the_first_row_is_deleted(chain, capsys):
    sql("DELETE FROM {table} WHERE id = %s", [chain[0]])
    assert verify() == 1


def test_verify_fails_when_the_last_row_is_deleted(chain, capsys):
    sql("DELETE FROM {table} WHERE id = %s", [chain[-1]])
    assert verify() == 1
    assert "deleted" in capsys.readouterr().err


def test_verify_fails_when_a_row_is_deleted_and_the_rest_renumbered(chain):
    """Covering a deletion by shifting ids down still breaks the links."""
    middle = chain[len(chain) // 2]
    sql("DELETE FROM {table} WHERE id = %s", [middle])
    for event_id in chain[chain.index(middle) + 1:]:
        sql("UPDATE {table} SET id = %s WHERE id = %s", [event_id - 1, event_id])
    assert verify() == 1


def test_verify_fails_when_the_whole_tail_is_truncated(chain):
    sql("DELETE FROM {table} WHERE id > %s", [chain[len(chain) // 2]])
    assert verify() == 1
