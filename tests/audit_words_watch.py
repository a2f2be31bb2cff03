"""Every audit action a test records must have words on the manager's audit page.

An autouse fixture (imported by tests/conftest.py, like phi_in_logs) notes the action of
every AuditEvent saved during a test (post_save, so actions passed as variables and built
by f-strings are seen as written) and fails the test that recorded one missing from
touchup.core.audit_actions.ACTIONS. tests/security/test_audit_words.py checks that the
watch is connected and scans the source for every literal action, so neither can pass by
seeing nothing. The run's distinct actions are listed at the end (`-rA` not needed).
"""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save

SEEN: set[str] = set()  # over the whole run, for the summary


def missing_words(actions: set[str]) -> list[str]:
    from touchup.core.audit_actions import ACTIONS

    return sorted(a for a in actions if a not in ACTIONS)


@pytest.fixture(autouse=True)
def audit_actions_have_words():
    from touchup.clinic.models import AuditEvent

    seen: set[str] = set()

    def noted(sender, instance, created=False, **kwargs):
        seen.add(instance.action)

    post_save.connect(noted, sender=AuditEvent, weak=False, dispatch_uid="tests.audit_words_watch")
    try:
        yield seen
    finally:
        post_save.disconnect(sender=AuditEvent, dispatch_uid="tests.audit_words_watch")
    SEEN.update(seen)
    missing = missing_words(seen)
    if missing:
        pytest.fail(f"audit actions recorded without words in touchup.core.audit_actions.ACTIONS: {missing}",
                    pytrace=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if SEEN:
        terminalreporter.write_line(f"audit actions recorded: {len(SEEN)} distinct, "
                                    f"{len(missing_words(SEEN))} without words")
