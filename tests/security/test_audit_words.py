"""Words for every audit action (touchup.core.audit_actions): the source is scanned for
every action it records, and the suite-wide watch (tests/audit_words_watch.py) is shown
to be connected, so a new action without words fails one way or the other."""

import ast
import re
from pathlib import Path

import pytest

import touchup
from touchup.core.audit_actions import ACTIONS, KINDS, actions_of_kind, kind_of, words

SRC = Path(touchup.__file__).resolve().parent
# Functions whose string arguments are audit actions: the audit API itself, and the
# helpers that pass one on in a variable (signin_audit, idle).
CARRIERS = {"record", "record_denied", "record_for", "_password", "_end"}
# The gates build "<kind>.not_found" from the kind they are given (clinic/access.py, portal/access.py).
CODE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*")
NOT_FOUND = {"_not_found": "{}.not_found", "not_found": "portal.{}.not_found"}


def _name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def actions_in_source() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name, where = _name(node), f"{path.relative_to(SRC)}:{node.lineno}"
            if name in CARRIERS:
                # Constants anywhere in the arguments: `"a" if x else "b"`, `reason or "signout"`.
                for a in (c for arg in node.args for c in ast.walk(arg) if isinstance(c, ast.Constant)):
                    if isinstance(a.value, str) and CODE.fullmatch(a.value):
                        found.setdefault(a.value, where)
            elif name in NOT_FOUND and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                found.setdefault(NOT_FOUND[name].format(node.args[1].value), where)
    return found


def test_every_action_in_the_source_has_words():
    found = actions_in_source()
    assert len(found) >= 95, f"the scan found only {len(found)} actions: is it still reading the source?"
    missing = {a: where for a, where in found.items() if a not in ACTIONS}
    assert not missing, f"actions recorded without words in touchup.core.audit_actions: {missing}"


def test_no_words_for_actions_nobody_records():
    found = actions_in_source()
    stale = set(ACTIONS) - set(found)
    assert not stale, f"words for actions no code records any more: {sorted(stale)}"


def test_every_action_has_a_kind_and_words():
    for action, (kind, text) in ACTIONS.items():
        assert kind in KINDS and text and text[0].isupper(), action
        assert words(action) == text and kind_of(action) == kind
    assert sum(len(actions_of_kind(k)) for k in KINDS) == len(ACTIONS)
    assert words("no.such") == "" and kind_of("no.such") == ""


def test_the_watch_sees_every_action_saved(audit_actions_have_words, clinic_a):
    from tests.audit_words_watch import missing_words
    from touchup.clinic import audit

    audit.record("patient.view", clinic=clinic_a)
    audit.record("made.up", clinic=clinic_a)
    assert {"patient.view", "made.up"} <= audit_actions_have_words
    assert missing_words(audit_actions_have_words) == ["made.up"]
    audit_actions_have_words.discard("made.up")  # else this test fails at teardown, as it should


@pytest.mark.parametrize("action", ["signin.failed", "patient.view", "treatment.sign"])
def test_the_signin_words_stay_where_the_tests_read_them(action):
    from touchup.clinic.signin_audit import LABELS

    assert (action in LABELS) == (kind_of(action) == "signin")
