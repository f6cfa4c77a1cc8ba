"""No password, token, cookie or secret in any log line or error message (SPEC §9).

One scenario goes through every front door with every logger of the process turned up
to DEBUG (ours, uvicorn, SQLAlchemy's engine, Streamlit, httpx ...), and every record is
kept, tracebacks included: the API served by uvicorn (sign-ins right and wrong, a
throttled guesser, calls with good, forged and expired tokens, writes, an import, an
export), the dashboard (sign in with the form, a password change, an API token, a
password reset and a new user by an admin) and the command line (users created and
reset with passwords on stdin, one refused).  Then the captured text, and every error
message a user saw, is searched for each secret of the run.

``manage.py api`` and ``manage.py dashboard`` refuse to start with a placeholder or
short secret: exit 2 and one sentence; so do they with a long key that is low in variety
(``aaaa…``, ``abcabc…``, ``abcdefgh…``), while random keys of 32 bytes or more pass.
"""

from __future__ import annotations

import io
import logging
import os
import random
import secrets
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from api.context import current_request_id
from api.main import create_app, logging_config
from config import ConfigError, check_secret, get_settings, load_settings
from data.credentials import issue_token
from tests.faults.helpers import MANAGE
from tests.kit.servers import LiveServer
from tests.ui.conftest import button, open_dashboard


class Everything(logging.Handler):
    """Keeps every record any logger passes on, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.records: list[tuple[logging.LogRecord, str]] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info))
        self.lines.append(text)
        self.records.append((record, current_request_id()))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def every_log(monkeypatch) -> Iterator[Everything]:  # type: ignore[no-untyped-def]
    """Every logger at DEBUG, and every record handed to ``Everything`` as well."""
    import sqlalchemy  # noqa: F401 - create the loggers before turning them up
    import streamlit.logger

    capture = Everything()
    original = logging.Logger.callHandlers

    def call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
        capture.handle(record)
        original(self, record)

    monkeypatch.setattr(logging.Logger, "callHandlers", call_handlers)
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    root_level = logging.root.level
    streamlit_level = streamlit.logger._global_log_level
    logging.disable(logging.NOTSET)
    logging.root.setLevel(logging.DEBUG)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    streamlit.logger.set_log_level("debug")
    try:
        yield capture
    finally:
        streamlit.logger.set_log_level(streamlit_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        logging.root.setLevel(root_level)


def Server(app: object) -> LiveServer:
    """uvicorn as ``manage.py api`` runs it (its logging configuration, at DEBUG)."""
    return LiveServer(
        app,
        log_config=logging_config("DEBUG"),
        log_level="debug",
        access_log=False,  # as manage.py api: our middleware logs each request
    )


def own_loopback_address() -> str:
    """A loopback address of this test alone: sign-in throttling counts per client."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def password_hashes(database, tenant_id: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with database.transaction(tenant_id) as session:
        rows = session.execute(
            text("SELECT username, password_hash FROM users WHERE tenant_id = :t"),
            {"t": tenant_id},
        )
        return {f"password hash of {name}": digest for name, digest in rows}


def in_process_manage(args: list[str], stdin: str, monkeypatch, capsys) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    import manage

    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = manage.main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_full_run_logs_no_password_token_cookie_or_secret(
    database, tenant, dashboard, every_log, monkeypatch, capsys
):
    settings = get_settings()
    found: dict[str, str] = {"JWT_SECRET": settings.jwt_secret, "COOKIE_KEY": settings.cookie_key}
    found |= {f"password of {name}": pw for name, pw in tenant.passwords.items()}
    shown_to_users: list[str] = []  # error messages and error bodies
    editor = tenant.editor
    password = tenant.passwords[editor.username]

    # -- the API, served by uvicorn -----------------------------------------------------
    request_ids: set[str] = set()
    transport = httpx.HTTPTransport(local_address=own_loopback_address())
    with (
        Server(create_app(database)) as server,
        httpx.Client(base_url=server.url, transport=transport, timeout=30) as http,
    ):

        def call(method: str, path: str, **kwargs: object) -> httpx.Response:
            response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
            request_ids.add(response.headers["X-Request-ID"])
            if response.status_code >= 400:
                shown_to_users.append(response.text)
            return response

        signed = call(
            "POST", "/api/auth/token", json={"username": editor.username, "password": password}
        )
        token = signed.json()["access_token"]
        found["API token"] = token
        wrong = f"Wrong-{secrets.token_urlsafe(12)}"
        found["wrong password"] = wrong
        assert (
            call(
                "POST", "/api/auth/token", json={"username": editor.username, "password": wrong}
            ).status_code
            == 401
        )
        guesses = [f"Guess-{secrets.token_urlsafe(12)}" for _ in range(6)]
        found |= {f"guess {i}": g for i, g in enumerate(guesses)}
        answers = [
            call(
                "POST", "/api/auth/token", json={"username": tenant.viewer.username, "password": g}
            ).status_code
            for g in guesses
        ]
        assert answers[-1] == 429
        bearer = {"Authorization": f"Bearer {token}"}
        assert (
            call("GET", "/api/customers", params={"search": "x"}, headers=bearer).status_code == 200
        )
        created = call(
            "POST",
            "/api/customers",
            json={"name": "Log Test", "email": f"log-{uuid.uuid4().hex[:8]}@example.com"},
            headers=bearer,
        )
        assert created.status_code == 201
        assert (
            call(
                "POST", "/api/customers", json={"name": "x", "email": "bad"}, headers=bearer
            ).status_code
            == 422
        )
        upload = {"file": ("c.csv", b"name,email\nA,a@example.com\nB,not-an-email\n", "text/csv")}
        assert (
            call("POST", "/api/customers/import", files=upload, headers=bearer).status_code == 200
        )
        assert call("GET", "/api/customers/export", headers=bearer).status_code == 200
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        found["forged token"] = forged
        assert (
            call("GET", "/api/customers", headers={"Authorization": f"Bearer {forged}"}).status_code
            == 401
        )
        expired, _ = issue_token(database, editor, now=datetime.now(UTC) - timedelta(days=2))
        found["expired token"] = expired
        assert (
            call(
                "GET", "/api/customers", headers={"Authorization": f"Bearer {expired}"}
            ).status_code
            == 401
        )
        assert (
            call(
                "GET", "/api/customers", headers={"Authorization": f"Basic {password}"}
            ).status_code
            == 401
        )

    # -- the dashboard ---------------------------------------------------------------------
    app = open_dashboard()
    form = {t.label: t for t in app.text_input}
    form["Username"].input(editor.username)
    form["Password"].input(password)
    button(app, "Sign in").click().run()
    assert not app.exception
    from ui.auth import PENDING_COOKIE

    found["re-login cookie"] = app.session_state[PENDING_COOKIE.name]
    app.switch_page("pages/account.py").run()
    new_password = f"New-{secrets.token_urlsafe(12)}"
    found["changed password"] = new_password
    fields = {t.label: t for t in app.text_input}
    fields["Current password"].input(password)
    fields["New password"].input(new_password)
    fields["New password again"].input(new_password)
    button(app, "Change password").click().run()
    assert any("password was changed" in t.value for t in app.toast), [e.value for e in app.error]
    button(app, "Create an API token").click().run()
    found["dashboard API token"] = app.code[0].value

    admin = dashboard(tenant.admin, "users")
    admin.selectbox(key="users_selected").set_value(tenant.viewer.username).run()
    button(admin, "Reset password").click().run()
    found["reset password"] = admin.code[0].value
    form = {t.label: t for t in admin.text_input}
    form["Username *"].input(f"made-{uuid.uuid4().hex[:8]}")
    button(admin, "Add user").click().run()
    found["generated password"] = admin.code[0].value
    for page in (app, admin):
        shown_to_users += [e.value for e in page.error]

    # -- the command line -------------------------------------------------------------------
    cli_user = f"cli-{uuid.uuid4().hex[:8]}"
    piped = f"Piped-{secrets.token_urlsafe(12)}"
    found["password on stdin"] = piped
    code, output = in_process_manage(
        ["create-user", cli_user, "--tenant", tenant.id, "--role", "viewer", "--password-stdin"],
        piped + "\n",
        monkeypatch,
        capsys,
    )
    assert code == 0, output
    shown_to_users.append(output)
    reset = f"Reset-{secrets.token_urlsafe(12)}"
    found["reset on stdin"] = reset
    code, output = in_process_manage(
        ["reset-password", cli_user, "--password-stdin"], reset + "\n", monkeypatch, capsys
    )
    assert code == 0, output
    shown_to_users.append(output)
    too_short = "Sh0rt!"
    code, output = in_process_manage(
        ["reset-password", cli_user, "--password-stdin"], too_short + "\n", monkeypatch, capsys
    )
    assert code == 1
    shown_to_users.append(output)
    found["refused password"] = too_short

    # -- what was logged, and what users saw --------------------------------------------------
    found |= password_hashes(database, tenant.id)
    logged = every_log.text
    names = {record.name for record, _ in every_log.records}
    # The capture saw every layer (or this test would prove nothing).
    assert "api.access" in names
    assert any(name.startswith("sqlalchemy.engine") for name in names)
    assert any(name.startswith("uvicorn") for name in names)
    assert any(name.startswith("streamlit") for name in names)
    leaks = [what for what, value in found.items() if value in logged]
    assert leaks == [], f"in the logs: {leaks}"
    said = "\n".join(shown_to_users)
    leaks = [what for what, value in found.items() if value in said]
    assert leaks == [], f"in error messages: {leaks}"
    # Each API request has one access line, under the request id its response carried.
    access = [(record, rid) for record, rid in every_log.records if record.name == "api.access"]
    assert {rid for _, rid in access} == request_ids
    assert len(access) == len(request_ids)


@pytest.mark.parametrize("command", ["api", "dashboard"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWT_SECRET", "changeme"),
        ("COOKIE_KEY", "some_key"),
        ("COOKIE_KEY", "too-short-to-be-a-key"),
        ("JWT_SECRET", "a" * 48),
        ("COOKIE_KEY", "abcdefgh" * 6),
    ],
    ids=["jwt-placeholder", "cookie-library-default", "cookie-too-short", "jwt-aaaa", "cookie-run"],
)
def test_serving_commands_refuse_a_guessable_secret_with_one_sentence(
    tmp_path, command, name, value
):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "COOKIE_KEY": secrets.token_urlsafe(48),
        name: value,
    }
    started = subprocess.run(
        [sys.executable, MANAGE, command, "--port", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2
    assert started.stdout == ""
    assert started.stderr.count("\n") == 1, started.stderr
    assert started.stderr.startswith(f"manage.py {command}: {name} ")
    assert value not in started.stderr
    assert "Traceback" not in started.stderr
    assert not (tmp_path / "never.db").exists()


# -- the secret check itself -------------------------------------------------------------

PREDICTABLE = [
    pytest.param("a" * 32, id="a-times-32"),
    pytest.param("a" * 200, id="a-times-200"),
    pytest.param("a" * 31 + "b", id="a-times-31-and-b"),
    pytest.param("ab" * 16, id="ab-repeated"),
    pytest.param("abc" * 11, id="abc-repeated"),
    pytest.param("abcdefgh" * 4, id="abcdefgh-repeated"),
    pytest.param("abcdefghijklmnopqrstuvwxyzABCDEFGH", id="alphabet-run"),
    pytest.param("zyxwvutsrqponmlkjihgfedcbaZYXWVU", id="backwards-run"),
    pytest.param("0123456789" * 4, id="digits-run"),
    pytest.param("Tr0ub4dor&3" * 3, id="a-password-said-three-times"),
    pytest.param("€" * 11, id="one-multibyte-character"),
]


@pytest.mark.parametrize("name", ["JWT_SECRET", "COOKIE_KEY"])
@pytest.mark.parametrize("value", PREDICTABLE)
def test_a_long_but_predictable_secret_is_refused_with_one_sentence(name, value):
    assert len(value.encode()) >= 32  # long enough: refused for its lack of variety
    with pytest.raises(ConfigError) as caught:
        check_secret(name, value)
    message = str(caught.value)
    assert message.startswith(f"{name} is too predictable")
    assert "\n" not in message
    assert value not in message
    with pytest.raises(ConfigError, match=f"^{name} is too predictable"):
        load_settings(
            {"JWT_SECRET": secrets.token_urlsafe(48), "COOKIE_KEY": secrets.token_urlsafe(48)}
            | {name: value}
        )


RANDOM_KEYS = {
    "token_urlsafe(24)": lambda: secrets.token_urlsafe(24),  # 32 characters
    "token_urlsafe(48)": lambda: secrets.token_urlsafe(48),  # what var/secrets.toml gets
    "token_hex(32)": lambda: secrets.token_hex(32),
    "openssl rand -base64 32": lambda: __import__("base64").b64encode(os.urandom(32)).decode(),
}


@pytest.mark.parametrize("make", list(RANDOM_KEYS.values()), ids=list(RANDOM_KEYS))
def test_random_keys_are_accepted(make):
    for _ in range(200):
        value = make()
        assert check_secret("JWT_SECRET", value) == value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("74f4ff473d888f66f3d0476f6d875861", id="openssl-rand-hex-16"),
        pytest.param(
            "0ac54cdffc8fa635f3a428bfb18d94ff601fe527206fe0b3dcbf815065710731", id="hex-64"
        ),
        pytest.param("DM3aMj8btlR4NvOPDXdn1281Ubs08uuWuXVVF/+n+2Q5", id="base64-44"),
    ],
)
def test_particular_random_keys_are_accepted(value):
    """Keys drawn once from os.urandom, kept here so that a rule refusing them fails always."""
    assert check_secret("COOKIE_KEY", value) == value
