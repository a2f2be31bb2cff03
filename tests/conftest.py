"""Shared fixtures: two clinics and a persona per role (healthchecks-style).

Alice's clinic (A) has a clinician who is also a doctor, a front desk and a manager;
Charlie is a clinician at clinic B and must never see clinic A's patients.
"""

import datetime as dt
import os
import threading

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's live_server
# then refuses ORM calls without this (microsoft/playwright-pytest#29). Tests only.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct horse battery staple"


_LIVE_SERVER_LOCK = threading.Lock()


def _one_request_at_a_time():
    """The live server answers one request at a time.

    On in-memory SQLite, pytest-django hands the test's own connection to every thread of
    Django's threaded live server. A page that loads several photos at once then runs two
    requests on one sqlite3 connection, and one of them fails with "cannot open savepoint -
    SQL statements in progress" (a 500 the browser test reports as a console error). Real
    deployments give each thread its own connection, so the tests serialise requests
    rather than the product. Connections stay threaded (keep-alive still works); only the
    application call, with its whole response body, holds the lock.
    """
    import threading

    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    lock = threading.Lock()

    class OneRequestAtATime(ThreadedWSGIServer):
        def set_app(self, application):
            def serialised(environ, start_response):
                with lock:
                    result = application(environ, start_response)
                    try:
                        return [b"".join(result)]
                    finally:
                        if hasattr(result, "close"):
                            result.close()

            super().set_app(serialised)

    LiveServerThread.server_class = OneRequestAtATime


_one_request_at_a_time()


@pytest.fixture
def live_server(live_server):
    """pytest-django's live server; on in-memory SQLite the test's own queries also wait
    for the request in flight (the test and the server share one connection there)."""
    from django.db import connections

    conn = connections["default"]
    if not (conn.vendor == "sqlite" and conn.is_in_memory_db()):
        yield live_server
        return
    test_thread = threading.current_thread()

    def wait_for_requests(execute, sql, params, many, context):
        if threading.current_thread() is not test_thread:  # a request: it holds the lock already
            return execute(sql, params, many, context)
        with _LIVE_SERVER_LOCK:
            return execute(sql, params, many, context)

    conn.execute_wrappers.append(wait_for_requests)
    try:
        yield live_server
    finally:
        conn.execute_wrappers.remove(wait_for_requests)


def _user(django_user_model, username, clinic, role, is_doctor=False):
    from touchup.clinic.models import Membership

    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    Membership.objects.create(user=user, clinic=clinic, role=role, is_doctor=is_doctor)
    return user


@pytest.fixture
def clinic_a(db):
    from touchup.clinic.models import Clinic

    return Clinic.objects.create(name="Alpha Aesthetics", slug="alpha")


@pytest.fixture
def clinic_b(db):
    from touchup.clinic.models import Clinic

    return Clinic.objects.create(name="Beta Clinic", slug="beta")


@pytest.fixture
def clinician(django_user_model, clinic_a):
    return _user(django_user_model, "alice", clinic_a, "clinician", is_doctor=True)


@pytest.fixture
def front_desk(django_user_model, clinic_a):
    return _user(django_user_model, "bob", clinic_a, "front_desk")


@pytest.fixture
def manager(django_user_model, clinic_a):
    return _user(django_user_model, "mona", clinic_a, "manager")


@pytest.fixture
def other_clinician(django_user_model, clinic_b):
    return _user(django_user_model, "charlie", clinic_b, "clinician", is_doctor=True)


@pytest.fixture
def patient(clinic_a, clinician):
    from touchup.clinic.services.patients import patient_create

    return patient_create(
        actor=clinician, clinic=clinic_a, given_name="Dana", family_name="Example",
        birth_date=dt.date(1984, 3, 2), sex="female",
    )


@pytest.fixture
def vial(clinic_a, clinician):
    """A 100 U onabotulinumtoxinA vial, in date, reconstituted an hour ago with 2.5 mL."""
    from django.utils import timezone

    from touchup.clinic.services.vials import vial_receive, vial_reconstitute

    v = vial_receive(
        actor=clinician, clinic=clinic_a, product="onabotulinumtoxinA", lot="C1234A",
        expiry=timezone.localdate() + dt.timedelta(days=300), units=100,
    )
    return vial_reconstitute(actor=clinician, vial=v, diluent_ml="2.5", at=timezone.now() - dt.timedelta(hours=1))


from tests.phi_in_logs import no_phi_in_logs  # noqa: E402,F401 - autouse: every test
from tests.audit_words_watch import audit_actions_have_words, pytest_terminal_summary  # noqa: E402,F401 - autouse: every test
