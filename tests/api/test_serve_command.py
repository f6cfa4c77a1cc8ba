"""``python manage.py api`` (which execs ``python -m api``): refuses a guessable key,
serves the API, and believes forwarded client addresses only from ``TRUSTED_PROXIES``.

uvicorn's own default believes ``X-Forwarded-For`` from the local host, which would let
anything on the server choose the address sign-in throttling counts.  ``python -m api``
passes uvicorn the proxies of the setting and nothing else: shown by the arguments it
gives ``uvicorn.run``, and by a server started with exactly those arguments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import api.__main__ as serve
from config import get_settings
from data.credentials import issue_token
from data.signin import PAIR_FAILURES
from tests.kit.servers import LiveServer, free_port

PROJECT_DIR = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("changeme", id="placeholder"),
        pytest.param("short-key", id="too-short"),
        pytest.param("a" * 48, id="one-character"),
    ],
)
def test_api_command_refuses_a_guessable_jwt_secret(database, secret):
    env = os.environ | {
        "DATABASE_URL": str(database.url.render_as_string(False)),
        "JWT_SECRET": secret,
    }
    process = manage("api", "--port", str(free_port()), env=env)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stdout == ""
    assert stderr.count("\n") == 1
    assert stderr.startswith("manage.py api: JWT_SECRET ")
    assert secret not in stderr
    assert "Traceback" not in stderr + stdout


def test_api_command_serves_the_api(database, tenant):
    port = free_port()
    env = os.environ | {"DATABASE_URL": database.url.render_as_string(False)}
    process = manage("api", "--port", str(port), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                schema = httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert schema.status_code == 200
        token, _ = issue_token(database, tenant.viewer)
        listed = httpx.get(
            f"{base}/api/customers", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert listed.status_code == 200
        assert listed.headers["X-Total-Count"] == "0"
        assert "server" not in listed.headers  # server_header=False: no uvicorn banner
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    assert f"http://localhost:{port}/api/customers" in stdout
    assert '"GET /api/customers" 200' in stderr  # the access log line, with the request id


# -- what python -m api hands uvicorn --------------------------------------------------


@pytest.fixture
def served_with(monkeypatch) -> Iterator[Callable[..., tuple[int, dict[str, Any]]]]:  # type: ignore[no-untyped-def]
    """``served_with(TRUSTED_PROXIES=...)``: run ``python -m api``'s main with uvicorn.run
    replaced; returns its exit code and the arguments uvicorn would have been given."""

    def run(*argv: str, **env: str | None) -> tuple[int, dict[str, Any]]:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        captured: dict[str, Any] = {}

        def fake_run(app: Any, **options: Any) -> None:
            captured.update(options, app=app)

        monkeypatch.setattr(serve.uvicorn, "run", fake_run)
        code = serve.main(list(argv))
        return code, captured

    yield run
    get_settings.cache_clear()  # the environment is restored by monkeypatch after this


@pytest.mark.parametrize(("cores", "processes"), [(1, 1), (2, 2), (16, 2)])
def test_python_m_api_serves_sqlite_with_a_process_per_core_at_most_two_unless_told(
    served_with, monkeypatch, tmp_path, cores, processes
):
    """One process runs Python on one core at a time; two use a two-core host."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)))
    sqlite = f"sqlite:///{tmp_path / 'api.db'}"
    assert served_with(DATABASE_URL=sqlite)[1]["workers"] == processes
    assert served_with("--workers", "3", DATABASE_URL=sqlite)[1]["workers"] == 3
    assert served_with("--workers", "0", DATABASE_URL=sqlite) == (2, {})


def test_python_m_api_serves_postgresql_with_one_process_unless_told(served_with, monkeypatch):
    """PostgreSQL's server needs the other core: a second process cost more in p99 than
    it gave in requests per second."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)))
    postgresql = "postgresql+psycopg://inventory@127.0.0.1:5432/inventory"
    assert served_with(DATABASE_URL=postgresql)[1]["workers"] == 1
    assert served_with("--workers", "2", DATABASE_URL=postgresql)[1]["workers"] == 2


def test_python_m_api_refuses_a_database_it_cannot_serve_in_one_sentence(served_with, capsys):
    assert served_with(DATABASE_URL="mysql://inventory@db/inventory") == (2, {})
    assert capsys.readouterr().err == (
        "python -m api: Database 'mysql' is not supported; use SQLite or PostgreSQL.\n"
    )


def test_python_m_api_believes_no_forwarded_header_by_default(served_with):
    code, options = served_with("--host", "0.0.0.0", "--port", "8123", TRUSTED_PROXIES=None)  # noqa: S104
    assert code == 0
    assert options["app"] == "api.main:create_app"
    assert options["factory"] is True
    assert (options["host"], options["port"]) == ("0.0.0.0", 8123)  # noqa: S104
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] == ""  # not None: None means uvicorn's 127.0.0.1
    assert options["server_header"] is False


def test_python_m_api_believes_exactly_the_configured_proxies(served_with):
    code, options = served_with(TRUSTED_PROXIES="10.0.0.0/8; 192.168.1.5 ,2001:db8::/32")
    assert code == 0
    assert options["proxy_headers"] is True
    assert set(options["forwarded_allow_ips"].split(",")) == {
        "10.0.0.0/8",
        "192.168.1.5/32",
        "2001:db8::/32",
    }


def test_python_m_api_refuses_a_bad_proxy_setting_with_one_sentence(served_with, capsys):
    code, options = served_with(TRUSTED_PROXIES="10.0.0.1, the-load-balancer")
    assert code == 2
    assert options == {}  # nothing was served
    stderr = capsys.readouterr().err
    assert stderr == (
        "python -m api: TRUSTED_PROXIES: 'the-load-balancer' is not an IP address or network; "
        "list addresses or networks.\n"
    )


def own_loopback_address() -> str:
    """A loopback address of this test alone: sign-in throttling counts per client."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def failures_until_locked(
    http: httpx.Client, username: str, forwarded: Callable[[int], str]
) -> list[int]:
    statuses = []
    for n in range(PAIR_FAILURES):
        response = http.post(
            "/api/auth/token",
            json={"username": username, "password": "not the password"},
            headers={"X-Forwarded-For": forwarded(n)},
        )
        statuses.append(response.status_code)
    return statuses


def server_as_python_m_api_runs_it(app: Any, options: dict[str, Any]) -> LiveServer:
    return LiveServer(
        app,
        proxy_headers=options["proxy_headers"],
        forwarded_allow_ips=options["forwarded_allow_ips"],
        server_header=options["server_header"],
    )


def test_a_forwarded_header_from_an_untrusted_peer_changes_nothing(
    served_with, app, tenant, monkeypatch
):
    """With no trusted proxy, a guesser on the server's own host that makes up a new
    ``X-Forwarded-For`` for every try is still one client, and is locked as one."""
    peer = own_loopback_address()
    # What uvicorn believes when not told (forwarded_allow_ips=None): this variable, else
    # 127.0.0.1.  Set to the guesser's own address, it must make no difference.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", peer)
    _, options = served_with(TRUSTED_PROXIES=None)
    username = tenant.viewer.username
    transport = httpx.HTTPTransport(local_address=peer)
    with (
        server_as_python_m_api_runs_it(app, options) as server,
        httpx.Client(base_url=server.url, transport=transport, timeout=30) as http,
    ):
        statuses = failures_until_locked(http, username, lambda n: f"203.0.113.{n + 1}")
    assert statuses == [401] * (PAIR_FAILURES - 1) + [429]


def test_a_trusted_proxys_forwarded_header_names_the_client(served_with, app, tenant):
    """Behind a trusted proxy each forwarded client counts on its own; what a client
    wrote into the header itself, left of the address the proxy saw, does not count."""
    proxy = own_loopback_address()
    _, options = served_with(TRUSTED_PROXIES=proxy)
    username = tenant.viewer.username
    password = tenant.passwords[username]
    transport = httpx.HTTPTransport(local_address=proxy)
    with (
        server_as_python_m_api_runs_it(app, options) as server,
        httpx.Client(base_url=server.url, transport=transport, timeout=30) as http,
    ):
        # Five different clients behind the proxy, one try each: nobody is locked.
        spread = failures_until_locked(http, username, lambda n: f"198.51.100.{n + 1}")
        assert spread == [401] * PAIR_FAILURES
        # One client that varies what it writes before its own address: locked as one.
        made_up = failures_until_locked(
            http, username, lambda n: f"10.9.9.{n}, {uuid.uuid4().hex[:6]}, 203.0.113.77"
        )
        assert made_up == [401] * (PAIR_FAILURES - 1) + [429]
        # ... and only that client: the user, behind the same proxy, signs in.
        right = http.post(
            "/api/auth/token",
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )
        assert right.status_code == 200, right.text
        locked = http.post(
            "/api/auth/token",
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": "203.0.113.77"},
        )
        assert locked.status_code == 429
