import pytest


@pytest.mark.django_db
def test_it_sends_anonymous_api_calls_away_with_401(client):
    assert client.get("/api/openapi.json").status_code in (200, 401)


@pytest.mark.django_db
def test_it_sends_anonymous_pages_to_the_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
