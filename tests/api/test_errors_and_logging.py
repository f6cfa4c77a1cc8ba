"""The catch-all error, request ids, and what the logs keep (never tokens or passwords)."""

from __future__ import annotations

import logging

import pytest

from data.customers import CustomerRepository
from data.errors import Unavailable


def test_an_unexpected_error_is_a_json_500_naming_the_logged_request_id(
    lenient_client, tenant, as_user, monkeypatch, caplog
):
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug")

    monkeypatch.setattr(CustomerRepository, "list", broken)
    caplog.set_level(logging.INFO, logger="api")

    response = lenient_client.get("/api/customers", headers=as_user(tenant.viewer))

    assert response.status_code == 500
    problem = response.json()
    request_id = problem["requestId"]
    assert response.headers["X-Request-ID"] == request_id
    assert request_id in problem["detail"]
    assert "a bug" not in response.text
    logged = [r for r in caplog.records if r.name == "api.errors"]
    assert logged
    assert request_id in logged[0].getMessage()
    assert logged[0].exc_info is not None


def test_a_busy_database_is_503_with_retry_after(client, tenant, as_user, monkeypatch):
    def busy(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Unavailable("The database is busy with another write; please try again in a moment.")

    monkeypatch.setattr(CustomerRepository, "list", busy)
    response = client.get("/api/customers", headers=as_user(tenant.viewer))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


def test_a_plain_request_id_from_the_client_is_kept(client, tenant, as_user):
    response = client.get(
        "/api/customers", headers=as_user(tenant.viewer) | {"X-Request-ID": "job-42.step:3"}
    )
    assert response.headers["X-Request-ID"] == "job-42.step:3"


@pytest.mark.parametrize("offered", ["has spaces", "x" * 65, "semi;colon", ""])
def test_an_odd_request_id_is_replaced(client, tenant, as_user, offered):
    response = client.get(
        "/api/customers", headers=as_user(tenant.viewer) | {"X-Request-ID": offered}
    )
    assert response.headers["X-Request-ID"] not in (offered, "-")
    assert len(response.headers["X-Request-ID"]) == 32


def test_errors_carry_the_request_id_of_their_response(client):
    response = client.get("/api/customers")
    assert response.json()["requestId"] == response.headers["X-Request-ID"]


def test_logs_keep_requests_but_never_tokens_passwords_or_searches(client, tenant, caplog):
    caplog.set_level(logging.DEBUG)
    user = tenant.editor
    password = tenant.passwords[user.username]
    token = client.post(
        "/api/auth/token", json={"username": user.username, "password": password}
    ).json()["access_token"]
    client.post("/api/auth/token", json={"username": user.username, "password": "wrong-pass-1"})
    client.get(
        "/api/customers",
        params={"search": "secret-search-term"},
        headers={"Authorization": f"Bearer {token}"},
    )
    client.get("/api/customers", headers={"Authorization": "Bearer forged.token.value"})

    # Everything the server side logged (httpx is the test's own client).
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join(record.getMessage() for record in server)
    access = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert any('"GET /api/customers" 200' in line for line in access)
    assert any('"GET /api/customers" 401' in line for line in access)
    for secret in (password, "wrong-pass-1", token, "forged.token.value", "secret-search-term"):
        assert secret not in text
