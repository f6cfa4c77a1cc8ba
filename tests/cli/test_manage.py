"""``python manage.py``, run as the operator runs it: a subprocess with DATABASE_URL set.

Every command has ``--help``; success exits 0; refused work exits 1; usage, file,
configuration and connection errors exit 2; every error is ONE line on stderr, a
sentence naming the command, and never a traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
MANAGE = PROJECT_DIR / "manage.py"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
GOOD_PASSWORD = "a good long password"


def manage(
    *args: str | bytes, url: str | None = None, stdin: str | bytes | None = None, **env: str
):  # type: ignore[no-untyped-def]
    """Run manage.py; ``bytes`` arguments or stdin carry text that is not valid UTF-8."""
    raw = isinstance(stdin, bytes)
    environment = dict(os.environ)
    environment.pop("DATABASE_URL", None)
    if url is not None:
        environment["DATABASE_URL"] = url
    environment.update(env)
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=not raw,
        timeout=120,
        env=environment,
        cwd=PROJECT_DIR,
        check=False,
    )
    if raw:
        result.stdout = result.stdout.decode("utf-8", "replace")
        result.stderr = result.stderr.decode("utf-8", "replace")
    return result


def assert_error(result, code: int, sentence: str | re.Pattern[str]) -> str:  # type: ignore[no-untyped-def]
    """Exit ``code``, exactly one line on stderr matching ``sentence``, no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("manage.py"), line
    assert line.endswith("."), line
    if isinstance(sentence, str):
        assert line.endswith(sentence), line
    else:
        assert sentence.search(line), line
    return line


def assert_ok(result) -> list[str]:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert result.stderr == ""
    return result.stdout.splitlines()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- help and usage (no database needed) ----------------------------------------------


def subcommands() -> list[str]:
    sys.path.insert(0, str(PROJECT_DIR))
    import manage as module

    parser = module.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)  # type: ignore[arg-type]


def test_every_core_command_is_there():
    assert {"init-db", "create-tenant", "create-user", "reset-password", "demo"} <= set(
        subcommands()
    )


@pytest.mark.parametrize("command", [None, *subcommands()])
def test_help_on_every_command_exits_0(command):
    args = ["--help"] if command is None else [command, "--help"]
    lines = assert_ok(manage(*args, url="sqlite:////nonexistent/never/used.db"))
    assert lines[0].startswith("usage: manage.py")
    if command is not None:
        assert command in lines[0]


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        ([], "The following arguments are required: <command>. Run 'manage.py --help' for usage."),
        (["frobnicate"], re.compile(r"invalid choice: 'frobnicate'")),
        (
            ["create-user", "someone"],
            "The following arguments are required: --tenant, --role. "
            "Run 'manage.py create-user --help' for usage.",
        ),
        (["create-tenant"], re.compile(r"required: name\. Run 'manage.py create-tenant --help'")),
        (["create-tenant", "a", "b"], re.compile(r"^manage.py: Unrecognized arguments: b\.")),
        (["demo", "--port", "http"], re.compile(r"'http' is not a port number")),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, sentence):
    assert_error(manage(*args, url="sqlite:////nonexistent/never/used.db"), 2, sentence)


@pytest.mark.parametrize(
    ("name", "value", "commands"),
    [
        ("JWT_SECRET", "some_key", [["init-db"], ["create-tenant", "Acme"]]),
        ("COOKIE_KEY", "short", [["init-db"]]),
    ],
)
def test_a_placeholder_or_short_secret_stops_the_command(tmp_path, name, value, commands):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    for command in commands:
        line = assert_error(manage(*command, url=url, **{name: value}), 2, re.compile(name))
        assert value not in line.split(":", 1)[1].replace(name, "")
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("mysql://u@localhost/db", "Database 'mysql' is not supported; use SQLite or PostgreSQL."),
        ("::not a url::", "DATABASE_URL is not a valid database URL."),
    ],
)
def test_an_unusable_database_url_is_one_sentence(url, sentence):
    assert_error(manage("init-db", url=url), 2, sentence)


def test_an_unreachable_postgresql_is_one_sentence_without_the_password():
    url = "postgresql://someone:hunter2-secret@127.0.0.1:1/nowhere"
    for command in (["init-db"], ["create-tenant", "Acme"]):
        line = assert_error(
            manage(*command, url=url),
            2,
            re.compile(r"cannot be reached; check that it is running\.$"),
        )
        assert "hunter2" not in line
        assert "127.0.0.1:1/nowhere" in line


def test_a_database_folder_that_cannot_be_created_is_one_sentence(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker / 'sub' / 'inventory.db'}"
    assert_error(
        manage("init-db", url=url),
        2,
        f"Cannot create the database folder {blocker / 'sub'}: Not a directory.",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_database_folder_is_one_sentence(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert_error(
            manage("init-db", url=f"sqlite:///{folder / 'inventory.db'}"),
            2,
            f"The database folder {folder} is not writable.",
        )
    finally:
        folder.chmod(0o700)


def test_a_file_that_is_not_a_database_is_one_sentence(tmp_path):
    path = tmp_path / "inventory.db"
    path.write_bytes(b"this is not an SQLite database, just some text " * 100)
    assert_error(manage("init-db", url=f"sqlite:///{path}"), 2, re.compile("not a database"))


def test_commands_on_an_uninitialised_database_ask_for_init_db(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert_error(
        manage("create-tenant", "Acme", url=url),
        2,
        "The database is not initialised; run 'python manage.py init-db' first.",
    )


# -- init-db ---------------------------------------------------------------------------


@pytest.fixture
def fresh_url(backend, test_database, tmp_path):  # type: ignore[no-untyped-def]
    """An empty database of this backend, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'inventory.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(test_database.url)
    name = f"inventory_cli_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        from data.db import runtime_role_name

        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            # The runtime role init-db made for it (roles are server-wide).
            conn.execute(text(f'DROP ROLE IF EXISTS "{runtime_role_name(url)}"'))
        admin.dispose()


def test_init_db_twice_creates_then_says_up_to_date(fresh_url):
    first = assert_ok(manage("init-db", url=fresh_url))
    assert len(first) == 1
    assert re.fullmatch(r"Created the schema \(revision \w+\)\.", first[0])
    revision = re.search(r"revision (\w+)", first[0]).group(1)  # type: ignore[union-attr]
    second = assert_ok(manage("init-db", url=fresh_url))
    assert second == [f"The schema is up to date (revision {revision})."]
    tenant_id = assert_ok(manage("create-tenant", unique("After Init"), url=fresh_url))[0]
    assert UUID_RE.match(tenant_id)


def test_init_db_on_the_migrated_test_database_changes_nothing(test_database):
    lines = assert_ok(manage("init-db", url=test_database.url))
    assert re.fullmatch(r"The schema is up to date \(revision \w+\)\.", lines[0])


# -- create-tenant ---------------------------------------------------------------------


def test_create_tenant_prints_its_id(database, test_database):
    from data.tenancy import find_tenant

    name = unique("Tenant Ünïcode")
    lines = assert_ok(manage("create-tenant", name, url=test_database.url))
    assert len(lines) == 1
    assert UUID_RE.match(lines[0])
    with database.transaction(None) as session:
        found = find_tenant(session, lines[0])
    assert found is not None
    assert found.name == name


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("   ", "Tenant name is required."),
        ("t" * 201, "Tenant name must be at most 200 characters."),
    ],
)
def test_create_tenant_refuses_bad_names(test_database, name, sentence):
    assert_error(
        manage("create-tenant", name, url=test_database.url), 1, f"create-tenant: {sentence}"
    )


def test_create_tenant_refuses_a_taken_name_whatever_its_case(test_database, tenant):
    assert_error(
        manage("create-tenant", tenant.name.upper(), url=test_database.url),
        1,
        f"A tenant named {tenant.name.upper()!r} already exists.",
    )


# -- create-user -----------------------------------------------------------------------


@pytest.mark.parametrize("tenant_by", ["id", "name"])
def test_create_user_with_a_generated_password(database, test_database, tenant, tenant_by):
    from data.signin import authenticate

    username = unique("ops")
    key = tenant.id if tenant_by == "id" else tenant.name.upper()
    lines = assert_ok(
        manage("create-user", username, "--tenant", key, "--role", "Editor", url=test_database.url)
    )
    assert lines[0] == f"Created editor {username!r} in tenant {tenant.name!r}."
    assert lines[1].startswith("Password: ")
    password = lines[1].removeprefix("Password: ")
    assert len(password) >= 10
    user = authenticate(database, username, password, "cli-test")
    assert (user.tenant_id, user.role.value) == (tenant.id, "editor")


def test_create_user_with_password_on_stdin_does_not_print_it(database, test_database, tenant):
    from data.signin import authenticate

    username = unique("stdin")
    result = manage(
        "create-user",
        username,
        "--tenant",
        tenant.id,
        "--role",
        "viewer",
        "--password-stdin",
        "--display-name",
        "Stdin User",
        "--email",
        "stdin@example.com",
        url=test_database.url,
        stdin=GOOD_PASSWORD + "\n",
    )
    lines = assert_ok(result)
    assert lines == [f"Created viewer {username!r} in tenant {tenant.name!r}."]
    assert GOOD_PASSWORD not in result.stdout
    user = authenticate(database, username, GOOD_PASSWORD, "cli-test")
    assert (user.display_name, user.email) == ("Stdin User", "stdin@example.com")


@pytest.mark.parametrize(
    ("args", "stdin", "code", "sentence"),
    [
        pytest.param(
            ["--role", "boss"],
            None,
            2,
            re.compile(
                r"^manage\.py create-user: Argument --role: invalid choice: 'boss' "
                r"\(choose from 'admin', 'editor', 'viewer'\)\. "
                r"Run 'manage\.py create-user --help' for usage\.$"
            ),
            id="bad-role",
        ),
        pytest.param(
            ["--role", "editor", "--password-stdin"],
            "too short\n",
            1,
            "Password must be at least 10 characters long.",
            id="weak-password",
        ),
        pytest.param(
            ["--role", "editor", "--password-stdin"],
            "é" * 37 + "\n",
            1,
            "Password must be at most 72 bytes (this one is 74 bytes in UTF-8); use a shorter one.",
            id="password-over-72-bytes",
        ),
        pytest.param(
            ["--role", "editor", "--password-stdin"],
            "",
            2,
            "No password came on standard input.",
            id="empty-stdin",
        ),
        pytest.param(
            ["--role", "editor", "--password-stdin"],
            "\n",
            2,
            "No password came on standard input.",
            id="blank-stdin",
        ),
    ],
)
def test_create_user_refuses_bad_arguments_before_touching_the_database(
    tmp_path, args, stdin, code, sentence
):
    url = f"sqlite:///{tmp_path / 'never-created.db'}"
    result = manage("create-user", "someone", "--tenant", "Acme", *args, url=url, stdin=stdin)
    if isinstance(sentence, str):
        sentence = f"create-user: {sentence}"
    assert_error(result, code, sentence)
    assert not (tmp_path / "never-created.db").exists()


def test_create_user_in_an_unknown_tenant_is_refused(test_database):
    result = manage(
        "create-user",
        unique("u"),
        "--tenant",
        "No Such Tenant",
        "--role",
        "editor",
        url=test_database.url,
    )
    assert_error(result, 1, "The tenant 'No Such Tenant' was not found.")
    missing_id = str(uuid.uuid4())
    result = manage(
        "create-user",
        unique("u"),
        "--tenant",
        missing_id,
        "--role",
        "editor",
        url=test_database.url,
    )
    assert_error(result, 1, f"The tenant {missing_id!r} was not found.")


def test_create_user_refuses_a_bad_username(test_database, tenant):
    result = manage(
        "create-user",
        "has space",
        "--tenant",
        tenant.id,
        "--role",
        "editor",
        url=test_database.url,
    )
    assert_error(result, 1, re.compile(r"create-user: Username must be 3–150 characters"))


def test_create_user_refuses_a_taken_username(test_database, tenant, other_tenant):
    taken = tenant.editor.username
    result = manage(
        "create-user",
        taken.upper(),
        "--tenant",
        other_tenant.id,
        "--role",
        "viewer",
        url=test_database.url,
    )
    assert_error(result, 1, f"The username {taken!r} is already taken.")


# -- reset-password --------------------------------------------------------------------


def test_reset_password_generates_a_new_one(database, test_database, tenant):
    from data.errors import Unauthenticated
    from data.signin import authenticate

    user = tenant.viewer
    old = tenant.passwords[user.username]
    lines = assert_ok(manage("reset-password", user.username.upper(), url=test_database.url))
    assert lines[0] == f"Reset the password of {user.username!r}."
    new = lines[1].removeprefix("Password: ")
    assert authenticate(database, user.username, new, "cli-test").id == user.id
    with pytest.raises(Unauthenticated):
        authenticate(database, user.username, old, "cli-test")


def test_reset_password_ends_the_users_sessions_and_tokens(database, test_database, tenant):
    from data.credentials import decode_token, issue_token, open_session
    from data.errors import Unauthenticated

    user = tenant.editor
    token, _ = issue_token(database, user)
    _, session = open_session(database, user)
    _, bystander = open_session(database, tenant.viewer)
    assert_ok(manage("reset-password", user.username, url=test_database.url))
    for ended in (decode_token(token)[0], session):
        with pytest.raises(Unauthenticated), database.scope(ended):
            pass
    with database.scope(bystander) as scope:  # another user's session goes on
        assert scope.actor.username == tenant.viewer.username


def test_reset_password_from_stdin(database, test_database, tenant):
    from data.signin import authenticate

    user = tenant.editor
    result = manage(
        "reset-password",
        user.username,
        "--password-stdin",
        url=test_database.url,
        stdin=GOOD_PASSWORD + "\r\n",
    )
    assert assert_ok(result) == [f"Reset the password of {user.username!r}."]
    assert authenticate(database, user.username, GOOD_PASSWORD, "cli-test").id == user.id


@pytest.mark.parametrize(
    ("who", "stdin", "code", "sentence"),
    [
        ("nobody", None, 1, re.compile(r"reset-password: The user 'nobody-\w+' was not found\.$")),
        ("editor", "short\n", 1, "reset-password: Password must be at least 10 characters long."),
        ("editor", "", 2, "reset-password: No password came on standard input."),
    ],
)
def test_reset_password_refusals(database, test_database, tenant, who, stdin, code, sentence):
    from data.signin import authenticate

    username = unique("nobody") if who == "nobody" else tenant.editor.username
    args = ["--password-stdin"] if stdin is not None else []
    result = manage("reset-password", username, *args, url=test_database.url, stdin=stdin)
    assert_error(result, code, sentence)
    if who == "editor":  # the old password still works
        password = tenant.passwords[username]
        assert authenticate(database, username, password, "cli-test").id == tenant.editor.id


# -- text that is not valid UTF-8 -----------------------------------------------------


def test_a_tenant_name_that_is_not_utf8_is_refused_with_a_sentence(test_database):
    assert_error(
        manage("create-tenant", b"Bad\xffName", url=test_database.url),
        1,
        "create-tenant: Tenant name contains invalid Unicode (a lone surrogate).",
    )


def test_a_tenant_key_that_is_not_utf8_is_not_found(test_database):
    result = manage(
        "create-user", unique("u"), "--tenant", b"T\xff", "--role", "viewer", url=test_database.url
    )
    assert_error(result, 1, re.compile(r"create-user: The tenant .* was not found\.$"))


def test_user_details_that_are_not_utf8_are_refused_with_a_sentence(test_database, tenant):
    result = manage(
        "create-user",
        unique("u"),
        "--tenant",
        tenant.id,
        "--role",
        "viewer",
        "--display-name",
        b"D\xff",
        url=test_database.url,
    )
    assert_error(
        result, 1, "create-user: Display name contains invalid Unicode (a lone surrogate)."
    )
    result = manage(
        "create-user",
        unique("u"),
        "--tenant",
        tenant.id,
        "--role",
        "viewer",
        "--email",
        "not an email",
        url=test_database.url,
    )
    assert_error(result, 1, re.compile(r"create-user: Email is not a valid address: "))


def test_a_password_on_stdin_that_is_not_utf8_is_refused(tmp_path):
    result = manage(
        "create-user",
        "someone",
        "--tenant",
        "Acme",
        "--role",
        "viewer",
        "--password-stdin",
        url=f"sqlite:///{tmp_path / 'never-created.db'}",
        stdin=b"long enough \xff password\n",
    )
    assert_error(result, 1, "create-user: Password contains invalid Unicode (a lone surrogate).")


# -- api: execs python -m api -----------------------------------------------------------


def test_the_api_command_checks_then_execs_python_m_api(database, monkeypatch, capsys):
    import manage as module

    calls: list[tuple[str, list[str], str]] = []

    class Execed(BaseException):  # not caught by main(), as a real exec never returns
        pass

    def fake_execv(path: str, argv: list[str]) -> None:
        calls.append((path, list(argv), os.getcwd()))
        raise Execed

    monkeypatch.setattr(module.os, "execv", fake_execv)
    monkeypatch.chdir("/")
    with pytest.raises(Execed):
        module.main(["api", "--host", "0.0.0.0", "--port", "9001", "--workers", "2"])  # noqa: S104
    assert calls == [
        (
            sys.executable,
            [sys.executable, "-m", "api", "--host", "0.0.0.0", "--port", "9001", "--workers", "2"],  # noqa: S104
            str(PROJECT_DIR),
        )
    ]
    assert capsys.readouterr().out == (
        "API: http://localhost:9001/api/customers (documentation at /docs)\n"
    )
    with pytest.raises(Execed):  # no --workers: python -m api chooses (a process per core)
        module.main(["api"])
    assert calls[-1][1] == [sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", "8000"]


def test_the_api_command_refuses_zero_workers_before_execing(database, monkeypatch, capsys):
    import manage as module

    monkeypatch.setattr(module.os, "execv", lambda *args: pytest.fail("it exec'd"))
    assert module.main(["api", "--workers", "0"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "manage.py api: --workers must be at least 1.\n"
    assert captured.out == ""
