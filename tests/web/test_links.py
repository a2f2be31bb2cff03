"""One rule for where handed-out links point (touchup.clinic.links)."""

from touchup.clinic.links import DEMO_URL, public_base_url
from touchup.maintenance.services.messages import portal_link


def test_the_configured_url_wins_over_the_request_host(monkeypatch):
    monkeypatch.setenv("TOUCHUP_PUBLIC_URL", " https://clinic.example/ ")
    assert public_base_url("http://127.0.0.1:8000/") == "https://clinic.example"
    assert portal_link("book/") == "https://clinic.example/portal/book/"


def test_without_a_setting_the_request_host_then_the_demo_server(monkeypatch):
    monkeypatch.delenv("TOUCHUP_PUBLIC_URL", raising=False)
    assert public_base_url("http://testserver/") == "http://testserver"
    assert public_base_url() == DEMO_URL
    assert portal_link() == f"{DEMO_URL}/portal/"
