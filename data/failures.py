"""Telling database failures apart: busy, disk full, contention, or down."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, OperationalError


def is_locked(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and (
        "locked" in str(orig) or "busy" in str(orig)
    )


def first_failure(exc: DBAPIError) -> DBAPIError:
    """The database error that started a chain of them.

    After a disk or I/O error SQLite rolls the whole transaction back by itself, so the
    rollback of the savepoint that follows fails with "no such savepoint"; that second
    error must not hide the first.
    """
    first = exc
    earlier = exc.__context__
    while earlier is not None and _is_database_error(earlier):
        if isinstance(earlier, OperationalError):
            first = earlier
        earlier = earlier.__context__
    return first


def _is_database_error(error: BaseException) -> bool:
    return isinstance(error, DBAPIError | sqlite3.Error) or type(error).__module__.startswith(
        "psycopg"
    )


def is_disk_full(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, sqlite3.Error):
        return getattr(orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == "53100"  # PostgreSQL: disk_full


# PostgreSQL gave up on a transaction because of other transactions, not because it is
# down: serialization failure, deadlock, lock not available.
CONTENTION_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_contention(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) in CONTENTION_SQLSTATES
