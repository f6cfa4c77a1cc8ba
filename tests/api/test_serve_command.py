"""``python manage.py api``: refuses a guessable key, and otherwise serves the API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.security import issue_token

PROJECT_DIR = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "manage.py"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "secret",
    [pytest.param("changeme", id="placeholder"), pytest.param("short-key", id="too-short")],
)
def test_api_command_refuses_a_guessable_jwt_secret(database, secret):
    env = os.environ | {
        "DATABASE_URL": str(database.url.render_as_string(False)),
        "JWT_SECRET": secret,
    }
    process = manage("api", "--port", str(free_port()), env=env)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.count("\n") == 1
    assert "JWT_SECRET" in stderr
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
        token, _ = issue_token(tenant.viewer)
        listed = httpx.get(
            f"{base}/api/customers", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert listed.status_code == 200
        assert listed.headers["X-Total-Count"] == "0"
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    assert f"http://localhost:{port}/api/customers" in stdout
    assert '"GET /api/customers" 200' in stderr  # the access log line, with the request id
