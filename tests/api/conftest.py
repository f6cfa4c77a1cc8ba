"""API test fixtures: the app over the test database, clients, tokens, a live server
(``tests.kit.servers.LiveServer``, the one uvicorn-in-a-thread of the tests).

Every client gets its own made-up client address, because failed sign-ins are
throttled per client address in the (shared, per-session) database: one test's wrong
passwords must not lock out the next test.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from data.credentials import issue_token
from tests.kit.servers import LiveServer

__all__ = ["LiveServer"]  # test modules import it from here too


def fake_client_address() -> tuple[str, int]:
    return (f"client-{uuid.uuid4().hex[:12]}", 50000)


@pytest.fixture
def app(database):  # type: ignore[no-untyped-def]
    return create_app(database)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, client=fake_client_address()) as test_client:
        yield test_client


@pytest.fixture
def other_client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A second client, at another address, on the same app (throttling is per client)."""
    with TestClient(app, client=fake_client_address()) as test_client:
        yield test_client


@pytest.fixture
def lenient_client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client that receives 500 responses instead of re-raising the server's error."""
    with TestClient(
        app, client=fake_client_address(), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def bearer(database: Any, user: Any) -> dict[str, str]:
    """The Authorization header of a fresh token (a row of ``credentials``) for ``user``."""
    token, _ = issue_token(database, user)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def as_user(database) -> Callable[[Any], dict[str, str]]:  # type: ignore[no-untyped-def]
    """``as_user(user)``: the Authorization header of a fresh token for ``user``."""
    return lambda user: bearer(database, user)


def customer_body(n: int | str = "", **overrides: Any) -> dict[str, Any]:
    suffix = n if n != "" else uuid.uuid4().hex[:8]
    body = {
        "name": f"Customer {suffix}",
        "email": f"customer.{suffix}@example.com",
        "phone": "+1 555 0100",
        "address": "1 Main Street",
    }
    body.update(overrides)
    return body


@pytest.fixture
def create_customer(client, as_user):  # type: ignore[no-untyped-def]
    """``create_customer(tenant, **fields)`` through the API, as the tenant's editor."""

    def create(tenant: Any, **fields: Any) -> dict[str, Any]:
        response = client.post(
            "/api/customers", json=customer_body(**fields), headers=as_user(tenant.editor)
        )
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    return create


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    with LiveServer(app) as server:
        yield server
