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
from typing import IO, TYPE_CHECKING, NoReturn

PROJECT_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(PROJECT_DIR))

if TYPE_CHECKING:
    from config import Settings
    from data.db import Database
    from data.identity import Identity
    from data.tenancy import TenantInfo

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
DEMO_CREDENTIALS = PROJECT_DIR / "var" / "demo-credentials.txt"


class UsageError(Exception):
    """Bad arguments or an unusable file: exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one sentence and exit code 2.

    ``epilog_of``, when set, makes the epilog only when help is shown: the import's help
    text lives with the import pipeline, which every other command need not load.
    """

    epilog_of: Callable[[], str] | None = None

    def format_help(self) -> str:
        if self.epilog_of is not None:
            self.epilog = self.epilog_of()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        sentence = message[0].upper() + message[1:] if message else "Invalid arguments"
        self.exit(
            EXIT_USAGE,
            f"{self.prog}: {sentence.rstrip('.')}. Run '{self.prog} --help' for usage.\n",
        )


# -- helpers ------------------------------------------------------------------------


def settings() -> Settings:
    from config import get_settings

    return get_settings()


def database(*, check: bool = True) -> Database:
    from data.db import get_database

    db = get_database()
    if check:
        db.check()
    return db


def resolve_tenant(db: Database, key: str) -> TenantInfo:
    from data.tenancy import get_tenant

    with db.transaction(None) as session:
        return get_tenant(session, key)


def operator(tenant_id: str) -> Identity:
    """The command line acts as an operator: whoever may run it on the server."""
    from data.identity import Identity

    user = os.environ.get("USER") or os.environ.get("USERNAME") or "operator"
    return Identity.of_operator(tenant_id, f"cli:{user}")


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
        tenant = create_tenant(session, args.name, region=args.region)
    out(tenant.id)
    return EXIT_OK


def cmd_create_user(args: argparse.Namespace) -> int:
    from data.passwords import check_password_rules
    from data.users import create_user

    role = args.role
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
    from data.users import find_user

    db = database()
    user = find_user(db, args.username)
    if user is None:
        raise NotFound("user", repr(args.username))
    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("No password came on standard input.")
    with db.scope(operator(user.tenant_id), write=True) as scope:
        new_password = scope.users.reset_password(user.id, password)
    out(f"Reset the password of {user.username!r}.")
    if not args.password_stdin:
        out(f"Password: {new_password}")
    if user.username in _read_demo_credentials():
        creds = _read_demo_credentials()
        creds[user.username] = new_password
        _write_demo_credentials(creds)
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> NoReturn:
    settings()  # refuses placeholder secrets before anything starts
    database()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_DIR / "server.py"),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(settings().max_upload_mb),
    ]
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host  # noqa: S104
    out(f"Dashboard: http://{shown}:{args.port}")
    sys.stdout.flush()
    os.execv(sys.executable, command)  # noqa: S606 - replaces this process, fixed arguments


def cmd_api(args: argparse.Namespace) -> NoReturn:
    """Serve the REST API: ``python -m api`` (uvicorn) replaces this process."""
    settings()  # refuses a placeholder or short JWT_SECRET before anything starts
    database()
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1.")
    shown = "localhost" if args.host in ("0.0.0.0", "127.0.0.1") else args.host  # noqa: S104
    out(f"API: http://{shown}:{args.port}/api/customers (documentation at /docs)")
    sys.stdout.flush()
    command = [
        sys.executable,
        "-m",
        "api",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    if args.workers is not None:  # else python -m api's default (api.default_workers)
        command += ["--workers", str(args.workers)]
    os.chdir(PROJECT_DIR)
    os.execv(sys.executable, command)  # noqa: S606 - replaces this process, fixed arguments


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


def parse_map(values: Sequence[str] | None) -> dict[str, str] | None:
    """``--map "Handy=phone" --map "Notes="``: header → field ("" = ignore the column)."""
    if not values:
        return None
    mapping: dict[str, str] = {}
    for value in values:
        header, sep, target = value.partition("=")
        header = header.strip()
        if not sep or not header:
            raise UsageError(
                f'--map {value!r} is not COLUMN=FIELD; write for example --map "Handy=phone" '
                'or --map "Notes=" to ignore a column.'
            )
        if header in mapping:
            raise UsageError(f"--map names the column {header!r} twice.")
        mapping[header] = target.strip().lower()
    return mapping


def cmd_import_csv(args: argparse.Namespace) -> int:
    import tempfile

    from data.importing import import_file

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path} is not a file.")
    mapping = parse_map(args.map)
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
            summary = import_file(
                db,
                operator(tenant.id),
                source,
                filename=path.name,
                mode=args.mode,
                partial=args.partial,
                dry_run=args.dry_run,
                mapping=mapping,
                sheet=args.sheet,
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
    details = [f"{summary.rows:,} rows read ({summary.source()})"]
    if summary.unchanged:
        details.append(f"{summary.unchanged:,} unchanged")
    if summary.unknown_columns:
        details.append("ignored columns: " + ", ".join(summary.unknown_columns))
    err("; ".join(details) + ".")
    for line in summary.explained:
        err(line)
    where = "Line" if summary.file_format == "csv" else "Row"  # a sheet's rows
    for error in summary.errors[:20]:
        err(f"{where} {error.line}: {error.message}")
    if summary.invalid > 20 or (summary.invalid and errors_path is None):
        where = f"see {errors_path}" if errors_path else "write them all with --errors FILE"
        err(f"{summary.invalid:,} invalid rows in all; {where}.")
    if summary.invalid and errors_path is not None:
        err(f"The invalid rows, with their line and an error column, are in {errors_path}.")
    if summary.dry_run:
        err(f"Dry run: nothing was written; the valid rows would give {summary.would_have()}.")
        return EXIT_REFUSED if summary.refused else EXIT_OK
    if not summary.written:
        err(summary.sentence())
        err(f"Nothing was written; the valid rows would have given {summary.would_have()}.")
        return EXIT_REFUSED
    return EXIT_OK


def export_format(args: argparse.Namespace) -> str:
    """``csv`` or ``xlsx``: ``--format``, else the extension of ``--out``, else CSV."""
    chosen: str | None = args.format
    if chosen is None:
        chosen = "xlsx" if args.out and Path(args.out).suffix.lower() == ".xlsx" else "csv"
    if chosen == "xlsx" and args.bom:
        raise UsageError("--bom is for CSV files; an .xlsx workbook needs none.")
    return chosen


def cmd_export_csv(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from data.csv_export import export_csv

    chosen = export_format(args)
    db = database()
    tenant = resolve_tenant(db, args.tenant)
    identity = operator(tenant.id)

    def write(handle: IO[bytes]) -> int:
        if chosen == "xlsx":
            from data.xlsx_export import ExportTooLarge, export_xlsx  # xlsxwriter: only here

            try:
                return export_xlsx(db, identity, handle, search=args.search)
            except ExportTooLarge as exc:
                raise UsageError(str(exc)) from None
        return export_csv(db, identity, handle, search=args.search, bom=args.bom)

    if args.out is None or args.out == "-":
        if chosen == "xlsx":  # a workbook is assembled at the end: build it, then send it
            with tempfile.TemporaryFile() as spool:
                count = write(spool)
                spool.seek(0)
                shutil.copyfileobj(spool, sys.stdout.buffer)
        else:
            count = write(sys.stdout.buffer)
        sys.stdout.flush()
        err(f"Exported {count:,} customers.")
        return EXIT_OK
    target = Path(args.out)
    partial = target.with_name(f".{target.name}.part")
    try:
        with partial.open("wb") as handle:
            count = write(handle)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    err(f"Exported {count:,} customers to {target}.")
    return EXIT_OK


def region(value: str) -> str:
    """A phone region for ``--region``: a two-letter country code, or ``none``."""
    from data.duplicates.keys import parse_region

    try:
        parse_region(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).rstrip(".")) from None
    return value


def score(value: str) -> int:
    """A score for ``--min-score``: 0–100."""
    if not value.isdigit() or not 0 <= int(value) <= 100:
        raise argparse.ArgumentTypeError(f"{value!r} is not a score from 0 to 100")
    return int(value)


DUPLICATES_HEADER = ("score", "reasons", "id_1", "name_1", "email_1", "id_2", "name_2", "email_2")


def cmd_duplicates(args: argparse.Namespace) -> int:
    """The tenant's suspected duplicate pairs as CSV, best first (after a rebuild on request)."""
    import csv

    from data.cells import neutralise_cell
    from data.duplicates.bulk import rebuild

    db = database()
    tenant = resolve_tenant(db, args.tenant)
    if args.rebuild:
        with db.scope(operator(tenant.id), write=True) as scope:
            err(rebuild(scope, rekey_first=True).sentence())
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(DUPLICATES_HEADER)
    with db.scope(operator(tenant.id)) as scope:
        for pair in scope.duplicates.each(min_score=args.min_score):
            cells = [
                str(pair.score),
                " ".join(reason.value for reason in pair.reasons),
                *(
                    value
                    for customer in (pair.first, pair.second)
                    for value in (customer.id, customer.name, customer.email)
                ),
            ]
            writer.writerow([neutralise_cell(cell) for cell in cells])
    return EXIT_OK


def cmd_set_region(args: argparse.Namespace) -> int:
    """Change a tenant's default phone region, then compute its keys and pairs again."""
    from data.duplicates.bulk import rebuild
    from data.tenancy import set_phone_region

    db = database()
    tenant = resolve_tenant(db, args.tenant)
    with db.owner_engine().begin() as connection:
        stored = set_phone_region(connection, tenant.id, args.region)
    with db.scope(operator(tenant.id), write=True) as scope:
        result = rebuild(scope, rekey_first=True)
    out(
        f"The default phone region of {tenant.name} is now {stored or 'none'}; the keys of "
        f"{result.rekeyed:,} customers were computed again. {result.sentence()}"
    )
    return EXIT_OK


def port(value: str) -> int:
    """A TCP port for ``--port``: 1–65535, else a usage error (exit 2)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port number (1-65535)")
    return number


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {}


def build_parser() -> Parser:
    from data.identity import Role

    parser = Parser(
        prog="manage.py",
        description="Inventory Pro — Customers: operator commands.",
        epilog="Exit codes: 0 done, 1 refused (invalid input, conflict, not found), "
        "2 usage, file, configuration or database errors.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=Parser)
    sub.required = True

    def add(
        name: str,
        func: Callable[[argparse.Namespace], int],
        help_text: str,
        aliases: Sequence[str] = (),
    ) -> Parser:
        command = sub.add_parser(name, help=help_text, description=help_text, aliases=list(aliases))
        command.set_defaults(func=func)
        return command

    add("init-db", cmd_init_db, "Create the database schema, or upgrade it; safe to repeat.")

    tenant = add("create-tenant", cmd_create_tenant, "Create a tenant and print its id.")
    tenant.add_argument("name", help="the tenant's name (unique)")
    tenant.add_argument(
        "--region",
        type=region,
        help="the country whose national phone numbers the tenant's customers have (DE, "
        "US, ...; 'none'); default: the DEFAULT_PHONE_REGION setting",
    )

    user = add(
        "create-user",
        cmd_create_user,
        "Create a user in a tenant; prints a generated password unless one comes on stdin.",
    )
    user.add_argument("username", help="3–150 characters: letters, digits, . _ - @")
    user.add_argument("--tenant", required=True, help="tenant id or name")
    user.add_argument(
        "--role",
        required=True,
        type=str.lower,  # "Editor" is the editor role, as it always was
        choices=[role.value for role in Role],
    )
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
    demo.add_argument("--port", type=port, default=8501, help="dashboard port to print")

    dash = add("dashboard", cmd_dashboard, "Run the Streamlit dashboard.")
    dash.add_argument("--host", default="127.0.0.1")
    dash.add_argument("--port", type=port, default=8501)

    api = add("api", cmd_api, "Run the REST API (FastAPI on uvicorn); documentation at /docs.")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=port, default=8000)
    api.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server processes (default: on SQLite one per core, at most 2; on PostgreSQL 1)",
    )

    imp = add(
        "import-csv",
        cmd_import_csv,
        "Import customers from a CSV file (UTF-8/UTF-16/Windows-1252; comma, semicolon or "
        "tab) or a spreadsheet (.xlsx, .xls, .ods); prints a one-line summary.",
        aliases=["import"],
    )
    imp.add_argument(
        "file",
        help="the CSV file (its first line names the columns) or the workbook (the header "
        "row may sit below title rows); the content decides which",
    )
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
        help="write the invalid rows to this CSV file: their line (or sheet row) first, the "
        "row as read, then an error column",
    )
    imp.add_argument(
        "--sheet",
        metavar="NAME",
        help="the sheet of a workbook to import (default: the first sheet with data)",
    )
    imp.add_argument(
        "--map",
        action="append",
        metavar="COLUMN=FIELD",
        help="feed FIELD (name, email, phone, address, first_name, middle_name, last_name, "
        "company) from COLUMN, overriding the automatic matching; 'COLUMN=' ignores the "
        "column; repeat for more columns",
    )

    def import_epilog() -> str:
        from data.importing import SUMMARY_LINE_HELP

        return (
            SUMMARY_LINE_HELP + " Exit 0 when imported (or a clean dry run), 1 when refused "
            "because of invalid rows, 2 when the file cannot be read or an argument is wrong."
        )

    imp.epilog_of = import_epilog

    exp = add(
        "export-csv",
        cmd_export_csv,
        "Export a tenant's customers as CSV (UTF-8) or as an Excel workbook (.xlsx).",
        aliases=["export"],
    )
    exp.add_argument("--tenant", required=True, help="tenant id or name")
    exp.add_argument(
        "--out",
        metavar="FILE",
        help="write here instead of standard output; a name ending in .xlsx writes a workbook",
    )
    exp.add_argument(
        "--format",
        choices=["csv", "xlsx"],
        help="csv or xlsx (default: from the --out name, else csv)",
    )
    exp.add_argument("--search", metavar="Q", help="only customers matching this search")
    exp.add_argument("--bom", action="store_true", help="start with a BOM (for Excel; CSV only)")
    exp.epilog = (
        "A workbook holds at most 1,048,575 customers (one sheet); a larger export is "
        "refused with exit 2 and no file."
    )

    dup = add(
        "duplicates",
        cmd_duplicates,
        "Print a tenant's suspected duplicate customers as CSV, best first: score, reasons, "
        "then id, name and email of each customer.",
    )
    dup.add_argument("--tenant", required=True, help="tenant id or name")
    dup.add_argument(
        "--min-score", type=score, default=0, metavar="S", help="only pairs scoring S or more"
    )
    dup.add_argument(
        "--rebuild",
        action="store_true",
        help="first compute every customer's keys and find every pair again (a minute or "
        "more per million customers; says on stderr what it found)",
    )
    reg = add(
        "set-region",
        cmd_set_region,
        "Set a tenant's default phone region, then compute its customers' phone keys and "
        "duplicate pairs again.",
    )
    reg.add_argument("region", type=region, help="a two-letter country code (DE, US ...), or none")
    reg.add_argument("--tenant", required=True, help="tenant id or name")

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
