"""The route that sets the session cookie HttpOnly (``ui.cookie_route``), over HTTP."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config import get_settings
from tests.conftest import use_settings
from ui import cookie_route


@pytest.fixture
def client() -> TestClient:
    return TestClient(Starlette(routes=cookie_route.routes()), base_url="http://dash.test")


def test_a_code_sets_the_cookie_http_only_strict_once(client: TestClient) -> None:
    code = cookie_route.offer("the-session-secret")
    assert not cookie_route.taken(code)
    answer = client.post(cookie_route.PATH, content=code)
    assert answer.status_code == 204
    header = answer.headers["set-cookie"]
    assert header.startswith(f"{get_settings().cookie_name}=the-session-secret;")
    assert "HttpOnly" in header
    assert "SameSite=strict" in header
    assert "Path=/" in header
    assert f"Max-Age={int(get_settings().session_lifetime_hours * 3600)}" in header
    assert "Secure" not in header  # plain http, no trusted proxy
    assert answer.headers["cache-control"] == "no-store"
    assert cookie_route.taken(code)
    again = client.post(cookie_route.PATH, content=code)
    assert again.status_code == 404
    assert "set-cookie" not in again.headers


@pytest.mark.parametrize("body", ["", "not-a-code", "x" * 5000, "\x00\xff"])
def test_anything_but_an_offered_code_sets_nothing(client: TestClient, body: str) -> None:
    answer = client.post(cookie_route.PATH, content=body.encode("latin-1"))
    assert answer.status_code == 404
    assert "set-cookie" not in answer.headers


def test_an_empty_secret_deletes_the_cookie(client: TestClient) -> None:
    answer = client.post(cookie_route.PATH, content=cookie_route.offer(""))
    assert answer.status_code == 204
    header = answer.headers["set-cookie"]
    assert header.startswith(f'{get_settings().cookie_name}="";')
    assert "Max-Age=0" in header
    assert "HttpOnly" in header


def test_secure_over_https_or_from_a_trusted_tls_proxy_only() -> None:
    secure = TestClient(Starlette(routes=cookie_route.routes()), base_url="https://dash.test")
    assert (
        "Secure"
        in secure.post(cookie_route.PATH, content=cookie_route.offer("s1")).headers["set-cookie"]
    )
    plain = TestClient(Starlette(routes=cookie_route.routes()), base_url="http://dash.test")
    forged = plain.post(
        cookie_route.PATH,
        content=cookie_route.offer("s2"),
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "Secure" not in forged.headers["set-cookie"]  # the test client is no proxy
    use_settings(TRUSTED_PROXIES="127.0.0.0/8")
    try:
        proxied = TestClient(
            Starlette(routes=cookie_route.routes()),
            base_url="http://dash.test",
            client=("127.0.0.1", 50000),
        ).post(
            cookie_route.PATH,
            content=cookie_route.offer("s3"),
            headers={"X-Forwarded-Proto": "https"},
        )
        assert "Secure" in proxied.headers["set-cookie"]
    finally:
        use_settings(TRUSTED_PROXIES=None)


def test_an_expired_offer_is_worthless(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    code = cookie_route.offer("late")
    now = cookie_route.time.monotonic()
    monkeypatch.setattr(cookie_route.time, "monotonic", lambda: now + 121)
    assert cookie_route.taken(code)
    assert client.post(cookie_route.PATH, content=code).status_code == 404
