"""Planning a batch of staged rows, set-based: what happens to each (create, update ...).

A row repeating an earlier row's email is an error naming both lines.  A row whose email
exists in the tenant is, by mode, an error (create), an update or *unchanged* (upsert:
every field equal to the stored one, NULL-safe), or skipped (skip), and carries that
customer's id in place of its new one.  Rows left unmarked (``action`` NULL) are created.

Every lookup is a correlated scalar subquery, one index seek per staged row: a join
here may be planned as a hash join over every customer of the tenant (the statistics lag
behind a bulk import), once per batch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from data.customers.columns import C
from data.fields import FIELD_NAMES
from data.importing.results import ImportMode
from data.importing.staging import ERROR_COLUMNS, IMPORT_ERRORS, IMPORT_ROWS, Stage, affected

R = IMPORT_ROWS.c
E = IMPORT_ERRORS.c


def repeated_email(email: ColumnElement[str], first: ColumnElement[Any]) -> ColumnElement[str]:
    """The sentence for a row whose email is also on an earlier line ``first``."""
    return (
        literal("Email ")
        + email
        + literal(" is also on line ")
        + cast(first, String)
        + literal(" of this file; each email can appear only once.")
    )


def first_line_of_email() -> Any:
    """The first staged line with the email key of the row at hand (correlated)."""
    earlier = IMPORT_ROWS.alias("e")
    return (
        select(func.min(earlier.c.line)).where(earlier.c.email_key == R.email_key).scalar_subquery()
    )


def add_errors(stage: Stage, rows: Any) -> int:
    """``INSERT INTO import_errors SELECT ...``; returns how many errors it added."""
    return affected(stage.session, insert(IMPORT_ERRORS).from_select(ERROR_COLUMNS, rows))


def unstage_errors(stage: Stage, lo: int, hi: int) -> None:
    """Take the rows of lines lo..hi that became errors out of the plan."""
    stage.session.execute(
        delete(IMPORT_ROWS).where(R.line.in_(select(E.line).where(E.line.between(lo, hi))))
    )


def plan_batch(
    stage: Stage,
    lo: int,
    hi: int,
    mode: ImportMode,
    *,
    match_existing: bool = True,
    check_duplicates: bool = True,
) -> int:
    """Plan the staged rows of lines lo..hi; returns how many became errors.

    ``check_duplicates=False`` leaves duplicates inside the file to the write, which finds
    them through the unique key (PostgreSQL, empty tenant); ``match_existing=False`` is
    for a tenant without customers, where no email can match.
    """
    span = R.line.between(lo, hi)
    duplicates = 0
    if check_duplicates:
        first = first_line_of_email().label("first")
        staged = select(R.line, R.email, first).where(span).subquery("d")
        duplicates = add_errors(
            stage,
            select(
                staged.c.line, literal("email"), repeated_email(staged.c.email, staged.c.first)
            ).where(staged.c.first < staged.c.line),
        )
        if duplicates:
            unstage_errors(stage, lo, hi)
    if not match_existing:
        # An empty tenant has no emails to match; rows repeating an email of this file
        # were caught above.  (A writer racing us into this tenant makes the insert fail
        # on the unique key: the import then stops with Conflict.)
        return duplicates
    session, tenant = stage.session, stage.tenant_id
    # One statement marks the rows whose email the tenant has: a row is written once (a
    # new version of it on PostgreSQL), and a row without a match is not written at all.
    same_email = and_(C.tenant_id == tenant, C.email_key == R.email_key)
    action: Any
    if mode is ImportMode.UPSERT:
        unchanged = and_(*(C[name].is_not_distinct_from(R[name]) for name in FIELD_NAMES))
        action = (
            select(case((unchanged, literal("unchanged")), else_=literal("update")))
            .where(same_email)
            .scalar_subquery()
        )
    else:
        action = literal("skip" if mode is ImportMode.SKIP else "exists")
    existing = select(C.id).where(same_email).scalar_subquery()
    session.execute(
        update(IMPORT_ROWS)
        .where(span, existing.is_not(None))  # not EXISTS, which may become a hash join
        .values(customer_id=existing, action=action)
    )
    conflicts = 0
    if mode is ImportMode.CREATE:
        conflicts = add_errors(
            stage,
            select(
                R.line,
                literal("email"),
                literal("A customer with the email ")
                + R.email
                + literal(" already exists; import in upsert or skip mode to update or keep it."),
            ).where(span, R.action == "exists"),
        )
        if conflicts:
            session.execute(delete(IMPORT_ROWS).where(span, R.action == "exists"))
    return duplicates + conflicts
