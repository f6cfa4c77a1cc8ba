"""API test fixtures: the app over the test database, clients, tokens, a live server.

Every client gets its own made-up client address, because failed sign-ins are
throttled per client address in the (shared, per-session) database: one test's wrong
passwords must not lock out the next test.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.security import issue_token


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
def lenient_client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client that receives 500 responses instead of re-raising the server's error."""
    with TestClient(
        app, client=fake_client_address(), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def bearer(user: Any) -> dict[str, str]:
    token, _ = issue_token(user)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def as_user() -> Callable[[Any], dict[str, str]]:
    """``as_user(user)``: the Authorization header of a fresh token for ``user``."""
    return bearer


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


class LiveServer:
    """uvicorn serving the app on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    with LiveServer(app) as server:
        yield server
