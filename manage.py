#!/usr/bin/env python3
"""Inventory Pro — Customers: the operator's command line.

    python manage.py <command> --help

Exit codes: 0 done; 1 the work was refused (invalid rows, conflicts, unknown tenant);
2 usage, file, configuration or database-connection errors.  Errors are one sentence
on stderr, never a traceback (details of an unexpected failure go to var/log/).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

PROJECT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(PROJECT_DIR))

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
DEMO_CREDENTIALS = PROJECT_DIR / "var" / "demo-credentials.txt"


class UsageError(Exception):
    """Bad arguments or an unusable file: exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one sentence and exit code 2."""

    def error(self, message: str) -> NoReturn:
        sentence = message[0].upper() + message[1:] if message else "Invalid arguments"
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: {sentence.rstrip('.')}. Run '{self.prog} --help' for usage.\n",
        )


# -- helpers ------------------------------------------------------------------------


def settings():  # type: ignore[no-untyped-def]
    from config import get_settings

    return get_settings()


def database(*, check: bool = True):  # type: ignore[no-untyped-def]
    from data.db import get_database

    db = get_database()
    if check:
        db.check()
    return db


def resolve_tenant(db, key: str):  # type: ignore[no-untyped-def]
    from data.tenancy import get_tenant

    with db.transaction(None) as session:
        return get_tenant(session, key)


def operator_actor():  # type: ignore[no-untyped-def]
    from data.models import Role
    from data.tenancy import Actor

    user = os.environ.get("USER") or os.environ.get("USERNAME") or "operator"
    return Actor(f"cli:{user}", Role.ADMIN)


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


# -- commands -----------------------------------------------------------------------


def cmd_init_db(args: argparse.Namespace) -> int:
    db = database(check=False)
    before, after = db.migrate()
    if before == after:
        out(f"The schema is up to date (revision {after}).")
    elif before is None:
        out(f"Created the schema (revision {after}).")
    else:
        out(f"Upgraded the schema from revision {before} to {after}.")
    for warning in db.warnings():
        err(f"Warning: {warning}")
    return EXIT_OK


def cmd_create_tenant(args: argparse.Namespace) -> int:
    from data.tenancy import create_tenant

    db = database()
    with db.transaction(None, write=True) as session:
        tenant = create_tenant(session, args.name)
    out(tenant.id)
    return EXIT_OK


def cmd_create_user(args: argparse.Namespace) -> int:
    from data.tenancy import parse_role
    from data.users import check_password_rules, create_user

    role = parse_role(args.role)
    password = None
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise UsageError("No password came on standard input.")
        check_password_rules(password)
    db = database()
    tenant = resolve_tenant(db, args.tenant)
    with db.transaction(tenant.id, write=True) as session:
        user, password_used = create_user(
            session,
            tenant.id,
            args.username,
            role,
            password,
            display_name=args.display_name,
            email=args.email,
        )
    out(f"Created {user.role.value} {user.username!r} in tenant {tenant.name!r}.")
    if not args.password_stdin:
        out(f"Password: {password_used}")
    return EXIT_OK


def _write_demo_credentials(passwords: dict[str, str]) -> None:
    DEMO_CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(DEMO_CREDENTIALS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for username, password in passwords.items():
            handle.write(f"{username} {password}\n")


def _read_demo_credentials() -> dict[str, str]:
    try:
        lines = DEMO_CREDENTIALS.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in lines if " " in line)


def cmd_demo(args: argparse.Namespace) -> int:
    from data.demo import DEMO_TENANT, load_demo

    db = database(check=False)
    db.migrate()
    demo = load_demo(db)
    if demo.created:
        _write_demo_credentials(demo.passwords)
        out(f"Loaded the demo tenant {DEMO_TENANT!r} with 300 customers.")
    else:
        out(f"The demo tenant {DEMO_TENANT!r} is already loaded.")
    passwords = demo.passwords or _read_demo_credentials()
    out(f"Dashboard: http://localhost:{args.port}")
    if passwords:
        out("Sign in as one of (username / password):")
        for username, password in passwords.items():
            out(f"  {username:<8} {password}")
        out(f"(kept in {DEMO_CREDENTIALS.relative_to(PROJECT_DIR)}, readable only by you)")
    else:
        out(
            "Sign in with the demo users' passwords; reset one with "
            "'python manage.py reset-password admin'."
        )
    return EXIT_OK


def cmd_reset_password(args: argparse.Namespace) -> int:
    from data.errors import NotFound
    from data.users import UserDirectory, find_user

    db = database()
    user = find_user(db, args.username)
    if user is None:
        raise NotFound("user", repr(args.username))
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("No password came on standard input.")
    with db.transaction(user.tenant_id, write=True) as session:
        directory = UserDirectory(session, user.tenant_id, operator_actor())
        new_password = directory.reset_password(user.id, password)
    out(f"Reset the password of {user.username!r}.")
    if not args.password_stdin:
        out(f"Password: {new_password}")
    if user.username in _read_demo_credentials():
        creds = _read_demo_credentials()
        creds[user.username] = new_password
        _write_demo_credentials(creds)
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    settings()  # refuses placeholder secrets before anything starts
    database()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_DIR / "dashboard.py"),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
    ]
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host  # noqa: S104
    out(f"Dashboard: http://{shown}:{args.port}")
    sys.stdout.flush()
    os.execv(sys.executable, command)  # noqa: S606 - replaces this process, fixed arguments
    return EXIT_OK  # pragma: no cover


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the REST API with uvicorn (``api.main:create_app``)."""
    settings()  # refuses a placeholder or short JWT_SECRET before anything starts
    database()
    import uvicorn

    from api.main import logging_config

    if args.workers < 1:
        raise UsageError("--workers must be at least 1.")
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host  # noqa: S104
    out(f"API: http://{shown}:{args.port}/api/customers (documentation at /docs)")
    sys.stdout.flush()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,  # api.middleware logs each request with its request id
        log_config=logging_config(),
        server_header=False,
    )
    return EXIT_OK


# -- CSV import and export (SPEC §6) ------------------------------------------------


class _ProgressBar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        percent = int(100 * done / max(total, 1))
        if percent != self.shown:
            self.shown = percent
            bar = "#" * (percent // 4)
            sys.stderr.write(f"\r{self.label} [{bar:<25}] {percent:3d}%")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.shown >= 0:
            sys.stderr.write("\r" + " " * (len(self.label) + 35) + "\r")
            sys.stderr.flush()


def cmd_import_csv(args: argparse.Namespace) -> int:
    import tempfile

    from data.csv_import import import_csv

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path} is not a file.")
    db = database()
    tenant = resolve_tenant(db, args.tenant)
    errors_path = Path(args.errors) if args.errors else None
    report = None
    if errors_path is not None:
        report = tempfile.NamedTemporaryFile(  # noqa: SIM115 - renamed or removed below
            dir=errors_path.resolve().parent, prefix=".errors-", suffix=".csv", delete=False
        )
    bar = _ProgressBar(f"Importing {path.name}")
    try:
        with path.open("rb") as source:
            summary = import_csv(
                db,
                tenant.id,
                operator_actor(),
                source,
                filename=path.name,
                mode=args.mode,
                partial=args.partial,
                dry_run=args.dry_run,
                errors_out=report,
                progress=bar,
            )
    finally:
        bar.close()
        if report is not None:
            report.close()
    if report is not None and errors_path is not None:
        if summary.invalid:
            os.replace(report.name, errors_path)
        else:
            os.unlink(report.name)
    out(summary.line())
    details = [f"{summary.rows:,} rows read ({summary.encoding}, {summary.delimiter})"]
    if summary.unchanged:
        details.append(f"{summary.unchanged:,} unchanged")
    if summary.unknown_columns:
        details.append("ignored columns: " + ", ".join(summary.unknown_columns))
    err("; ".join(details) + ".")
    for error in summary.errors[:20]:
        err(str(error))
    if summary.invalid > 20 or (summary.invalid and errors_path is None):
        where = f"see {errors_path}" if errors_path else "write them all with --errors FILE"
        err(f"{summary.invalid:,} invalid rows in all; {where}.")
    if summary.invalid and errors_path is not None:
        err(f"The invalid rows, with an error column, are in {errors_path}.")
    if summary.dry_run:
        err("Dry run: nothing was written.")
        return EXIT_REFUSED if summary.refused else EXIT_OK
    if not summary.written:
        err(summary.sentence())
        return EXIT_REFUSED
    return EXIT_OK


def cmd_export_csv(args: argparse.Namespace) -> int:
    from data.csv_export import export_csv

    db = database()
    tenant = resolve_tenant(db, args.tenant)
    if args.out is None or args.out == "-":
        count = export_csv(
            db, tenant.id, operator_actor(), sys.stdout.buffer, search=args.search, bom=args.bom
        )
        sys.stdout.flush()
        err(f"Exported {count:,} customers.")
        return EXIT_OK
    target = Path(args.out)
    partial = target.with_name(f".{target.name}.part")
    try:
        with partial.open("wb") as handle:
            count = export_csv(
                db, tenant.id, operator_actor(), handle, search=args.search, bom=args.bom
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    err(f"Exported {count:,} customers to {target}.")
    return EXIT_OK


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {}


def build_parser() -> Parser:
    parser = Parser(
        prog="manage.py",
        description="Inventory Pro — Customers: operator commands.",
        epilog="Exit codes: 0 done, 1 refused (invalid input, conflict, not found), "
        "2 usage, file, configuration or database errors.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=Parser)
    sub.required = True

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> Parser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        return command  # type: ignore[return-value]

    add("init-db", cmd_init_db, "Create the database schema, or upgrade it; safe to repeat.")

    tenant = add("create-tenant", cmd_create_tenant, "Create a tenant and print its id.")
    tenant.add_argument("name", help="the tenant's name (unique)")

    user = add(
        "create-user",
        cmd_create_user,
        "Create a user in a tenant; prints a generated password unless one comes on stdin.",
    )
    user.add_argument("username", help="3–150 characters: letters, digits, . _ - @")
    user.add_argument("--tenant", required=True, help="tenant id or name")
    user.add_argument("--role", required=True, help="admin, editor or viewer")
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user.add_argument("--display-name", help="name shown in the dashboard")
    user.add_argument("--email", help="the user's email address")

    reset = add(
        "reset-password",
        cmd_reset_password,
        "Set a new password for a user (generated unless one comes on stdin).",
    )
    reset.add_argument("username")
    reset.add_argument("--password-stdin", action="store_true")

    demo = add(
        "demo",
        cmd_demo,
        "Load the demo tenant 'Acme Demo' (admin, editor, viewer, 300 customers) once, "
        "and print how to sign in.",
    )
    demo.add_argument("--port", type=int, default=8501, help="dashboard port to print")

    dash = add("dashboard", cmd_dashboard, "Run the Streamlit dashboard.")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=int, default=8501)

    api = add("api", cmd_api, "Run the REST API (FastAPI on uvicorn); documentation at /docs.")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=1, help="server processes (default 1)")

    imp = add(
        "import-csv",
        cmd_import_csv,
        "Import customers from a CSV file (UTF-8/UTF-16/Windows-1252; comma, semicolon "
        "or tab); prints created=N updated=N skipped=N invalid=N.",
    )
    imp.add_argument("file", help="the CSV file; the first line names the columns")
    imp.add_argument("--tenant", required=True, help="tenant id or name")
    imp.add_argument(
        "--mode",
        choices=["create", "upsert", "skip"],
        default="create",
        help="create: existing emails are errors (default); upsert: update by email; "
        "skip: leave existing emails alone",
    )
    imp.add_argument(
        "--partial",
        action="store_true",
        help="import the valid rows even if some are invalid (default: all or nothing)",
    )
    imp.add_argument("--dry-run", action="store_true", help="check and count only; write nothing")
    imp.add_argument(
        "--errors",
        metavar="OUT",
        help="write the invalid rows, with an error column, to this CSV file",
    )
    imp.epilog = (
        "Exit 0 when imported (or a clean dry run), 1 when refused because of invalid rows, "
        "2 when the file cannot be read."
    )

    exp = add("export-csv", cmd_export_csv, "Export a tenant's customers as CSV (UTF-8).")
    exp.add_argument("--tenant", required=True, help="tenant id or name")
    exp.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    exp.add_argument("--search", metavar="Q", help="only customers matching this search")
    exp.add_argument("--bom", action="store_true", help="start with a BOM (for Excel)")

    for name, (func, help_text) in COMMANDS.items():
        add(name, func, help_text)
    return parser


def _log_unexpected(exc: BaseException) -> str:
    folder = PROJECT_DIR / "var" / "log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "manage.log"
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"--- {datetime.now(UTC).isoformat()} {' '.join(sys.argv[1:2])}\n")
            handle.write("".join(traceback.format_exception(exc)))
    except OSError:
        return ""
    return f" (details in {path})"


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    from config import ConfigError
    from data.errors import DataError, ImportFailed, Invalid, Unavailable

    try:
        return int(args.func(args))
    except UsageError as exc:
        err(f"{parser.prog} {args.command}: {exc}")
        return EXIT_USAGE
    except (ConfigError, Unavailable, ImportFailed) as exc:
        err(f"{parser.prog} {args.command}: {exc}")
        return EXIT_USAGE
    except Invalid as exc:
        for field, message in exc.errors.items():
            err(f"{parser.prog} {args.command}: {message}" if message else field)
        return EXIT_REFUSED
    except DataError as exc:
        err(f"{parser.prog} {args.command}: {exc}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        err(f"{parser.prog} {args.command}: interrupted; the unfinished step wrote nothing.")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        err(f"{parser.prog} {args.command}: cannot use{where}: {exc.strerror or exc}.")
        return EXIT_USAGE
    except Exception as exc:
        hint = _log_unexpected(exc)
        err(f"{parser.prog} {args.command}: unexpected error {type(exc).__name__}{hint}.")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
