"""No calendar-feed or invitation token, and no query string, in Django's own log lines
(touchup.web.log_paths): whoever reads a log must not get a door key from it."""

import logging

import pytest

pytestmark = pytest.mark.django_db

TOKEN = "feedTOKEN_0123456789abcdefABCDEF"


def test_a_wrong_feed_address_is_logged_without_its_token(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(f"/calendar/{TOKEN}.ics").status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert lines == ["Not Found: /calendar/….ics"]


def test_a_path_without_secrets_is_logged_as_it_is(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/no/such/page/").status_code in (302, 404)
        assert client.get("/calendar/").status_code in (302, 404)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_the_demo_servers_request_line_loses_its_query_and_token():
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               (f"GET /calendar/{TOKEN}.ics?next=/patients/ HTTP/1.1", "404", "0"), None)
    logging.getLogger("django.server").filter(record)
    assert record.getMessage() == '"GET /calendar/….ics HTTP/1.1" 404 0'
