"""Behind TLS proxies the client's address comes from X-Forwarded-For, as far as
TOUCHUP_TRUSTED_PROXIES (ALLAUTH_TRUSTED_PROXY_COUNT) says, and no further: the audit
trail and the per-IP sign-in limit count the client, and a client cannot pick its own
address by sending the header."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from freezegun import freeze_time

from tests.conftest import PASSWORD
from tests.security.test_signin_limits import committed  # noqa: F401 - fixture
from touchup.clinic.client_ip import client_ip
from touchup.clinic.models import AuditEvent

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PROXY = "127.0.0.1"


def meta(xff: str | None, remote: str = PROXY) -> dict:
    return {"REMOTE_ADDR": remote, **({"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {})}


@pytest.mark.parametrize("count, xff, expected", [
    (0, "203.0.113.9", PROXY),                     # the default: the header is anyone's to send
    (1, "203.0.113.9", "203.0.113.9"),             # one proxy: the entry it appended
    (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),    # the client's own entry on the left is not believed
    (2, "6.6.6.6, 203.0.113.9, 10.0.0.2", "203.0.113.9"),
    (1, " 2001:DB8::1 ", "2001:db8::1"),
    (1, "[2001:db8::1]:443", "2001:db8::1"),
    (1, "203.0.113.9:51234", "203.0.113.9"),
    (2, "203.0.113.9", PROXY),                     # fewer entries than proxies: a set-up mistake
    (1, "unknown", PROXY),                         # not an address
    (1, "", PROXY),
    (1, None, PROXY),
])
def test_the_client_is_the_entry_the_outermost_trusted_proxy_wrote(settings, count, xff, expected):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = count
    assert client_ip(meta(xff)) == expected


@pytest.mark.parametrize("count, expected", [(0, PROXY), (1, "203.0.113.9")])
def test_the_audit_trail_records_the_client_behind_the_proxy(client, clinician, patient, count, expected):
    client.force_login(clinician)
    with override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=count):
        r = client.get(f"/patients/{patient.public_id}/", REMOTE_ADDR=PROXY,
                       HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert r.status_code == 200
    view = AuditEvent.objects.filter(action="patient.view").latest("id")
    assert view.ip == expected


def _fail(client, xff, i):
    # A new username each time, so that only the per-IP limit can pause.
    return client.post("/accounts/login/", {"login": f"guess{i}", "password": "wrong"},
                       REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=xff)


@override_settings(ALLAUTH_TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_one_clients_typos_do_not_pause_everyone(client, clinician, committed):  # noqa: F811
    with freeze_time(T0), committed():
        for i in range(10):
            assert _fail(client, "198.51.100.20", i).status_code == 200
        assert _fail(client, "198.51.100.20", 10).status_code == 429
        # Another client through the same proxy signs in.
        r = client.post("/accounts/login/", {"login": "alice", "password": PASSWORD},
                        REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.21")
        assert r.status_code == 302
    locked = AuditEvent.objects.get(action="signin.locked")
    assert locked.detail == {"limit": "ip", "minutes": 1} and locked.ip == "198.51.100.20"
    failed = set(AuditEvent.objects.filter(action="signin.failed").values_list("ip", flat=True))
    assert failed == {"198.51.100.20"}


def test_without_trusted_proxies_a_forged_header_does_not_escape_the_ip_limit(client, clinician, committed):  # noqa: F811
    with freeze_time(T0), committed():
        for i in range(10):
            assert _fail(client, f"198.51.100.{i}", i).status_code == 200
        assert _fail(client, "198.51.100.99", 10).status_code == 429
