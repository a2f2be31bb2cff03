"""The last-manager rule, without a database."""

import pytest

from touchup.core.staffing import LAST_MANAGER, LAST_MANAGER_OTHER, last_manager_refusal


def ask(managers, role="manager", active=True, new_role="manager", new_active=True, is_self=True):
    return last_manager_refusal(active_managers=managers, role=role, active=active, new_role=new_role,
                                new_active=new_active, is_self=is_self)


@pytest.mark.parametrize("change", [{"new_role": "clinician"}, {"new_active": False},
                                    {"new_role": "front_desk", "new_active": False}])
def test_the_last_active_manager_cannot_stop_being_one(change):
    assert ask(1, **change) == LAST_MANAGER
    assert ask(1, is_self=False, **change) == LAST_MANAGER_OTHER
    assert ask(2, **change) is None  # another manager remains


def test_changes_that_leave_a_manager_go_ahead():
    assert ask(1) is None  # still a manager (e.g. only the doctor flag changed)
    assert ask(1, role="clinician", new_role="manager") is None  # promoting someone
    assert ask(1, role="clinician", new_role="front_desk") is None
    assert ask(1, role="clinician", new_active=False, new_role="clinician") is None
    assert ask(1, active=False, new_active=False, new_role="clinician") is None  # an inactive manager
    assert "make someone else a manager first" in LAST_MANAGER
