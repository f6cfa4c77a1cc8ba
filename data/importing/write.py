"""Writing a planned batch, set-based: new customers, changed customers, their undo data.

* New customers (``action`` NULL): one ``INSERT ... SELECT`` from the staging table.  On
  SQLite each gets a rowid (``seq``) from its tenant's range: the first free one is
  looked up once per batch (``next_seq``) and the rows numbered from it in line order.
* Changed customers (``update``): first their before-image goes to ``import_changes``
  (every stored column as JSON, the version and the time of the last change), then one
  ``UPDATE ... FROM`` sets the stored columns (on SQLite those that some row of the
  batch changes) and ``stamp(now)``.
* ``import_changes`` also records each created customer, so that History can undo the
  whole import (``data.importing.undo``).

The columns come from the tables and ``validation.STORED`` (``data.fields`` and
``data.keys``): a new field or key needs no change here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from data.customers.columns import C
from data.customers.writes import SQLITE_CUSTOMERS, next_seq, stamp
from data.importing.plan import add_errors, first_line_of_email, repeated_email, unstage_errors
from data.importing.staging import IMPORT_ROWS, Stage, affected
from data.importing.validation import STORED
from data.models import CUSTOMERS, ImportChange, UTCDateTime

R = IMPORT_ROWS.c
CHANGES = cast("Table", ImportChange.__table__)
CHANGE_COLUMNS = ("tenant_id", "import_id", "customer_id", "kind", "version_after")
# The stored columns of a new customer, in the order its INSERT ... SELECT names them.
NEW_COLUMNS = ("tenant_id", "id", *STORED, "created_at", "updated_at", "version")


def before_image(dialect: str) -> ColumnElement[Any]:
    """The stored columns of a customer as one JSON object (``import_changes.before``)."""
    build = func.jsonb_build_object if dialect == "postgresql" else func.json_object
    pairs: list[Any] = []
    for name in STORED:
        pairs += [literal(name), C[name]]
    return build(*pairs)


def _new_customers(stage: Stage, span: ColumnElement[bool], now: datetime) -> Select[Any]:
    """The rows of new customers of lines lo..hi, in line order, for ``NEW_COLUMNS``."""
    at = literal(now, UTCDateTime())
    return (
        select(
            literal(stage.tenant_id),
            R.customer_id,
            *(R[name] for name in STORED),
            at,
            at,
            literal(1),
        )
        .where(span, R.action.is_(None))
        .order_by(R.line)
    )


def _insert_customers(stage: Stage, span: ColumnElement[bool], now: datetime) -> Insert:
    rows = _new_customers(stage, span, now)
    if stage.dialect != "sqlite":
        return insert(CUSTOMERS).from_select(NEW_COLUMNS, rows)
    # SQLite: rowids from the tenant's range, numbered in line order from the first free.
    first = next_seq(stage.session, stage.tenant_id)
    numbered = rows.add_columns(literal(first - 1) + func.row_number().over(order_by=R.line))
    return insert(SQLITE_CUSTOMERS).from_select((*NEW_COLUMNS, "seq"), numbered)


def _changes_of_created(stage: Stage, import_id: str, customer_id: Any) -> Any:
    return (
        literal(stage.tenant_id),
        literal(import_id),
        customer_id,
        literal("created"),
        literal(1),
    )


def write_batch(
    stage: Stage, lo: int, hi: int, import_id: str, now: datetime, *, unchecked: int = 0
) -> int:
    """Write the planned rows of lines lo..hi: creates, updates, and their undo data.

    ``unchecked`` is the number of rows to create whose duplicates inside the file were
    not looked for (PostgreSQL, empty tenant): the unique key finds them instead, and
    they become errors here.  Returns how many rows became errors.
    """
    span = R.line.between(lo, hi)
    duplicates = 0
    if unchecked:
        if _create_unchecked(stage, span, import_id, now) < unchecked:
            duplicates = _refused_creates(stage, lo, hi)
        # An empty tenant has nothing to update, and the UPDATE ... FROM would still be
        # planned: with the statistics of a table this transaction filled, PostgreSQL
        # chose a nested loop over the new customers that ran for minutes (bench,
        # 100,000-row workbook, second run on one database).
        return duplicates
    stage.session.execute(
        insert(CHANGES).from_select(
            CHANGE_COLUMNS,
            select(*_changes_of_created(stage, import_id, R.customer_id)).where(
                span, R.action.is_(None)
            ),
        )
    )
    stage.session.execute(_insert_customers(stage, span, now))
    _update(stage, span, import_id, now)
    return duplicates


def _create_unchecked(
    stage: Stage, span: ColumnElement[bool], import_id: str, now: datetime
) -> int:
    """PostgreSQL: the new customers and their undo rows in one statement (from the
    insert's RETURNING); a row whose email is taken is left out.  Returns how many were
    created."""
    created = (
        pg_insert(CUSTOMERS)
        .from_select(NEW_COLUMNS, _new_customers(stage, span, now))
        .on_conflict_do_nothing(index_elements=[C.tenant_id, C.email_key])
        .returning(C.id)
        .cte("created")
    )
    return affected(
        stage.session,
        insert(CHANGES)
        .from_select(CHANGE_COLUMNS, select(*_changes_of_created(stage, import_id, created.c.id)))
        .add_cte(created),
    )


def _update(stage: Stage, span: ColumnElement[bool], import_id: str, now: datetime) -> None:
    """The customers planned for ``update``: their before-images, then the new values."""
    tenant = stage.tenant_id
    its_customer = and_(C.tenant_id == tenant, C.id == R.customer_id)
    updating = and_(span, R.action == "update")
    stage.session.execute(
        insert(CHANGES).from_select(
            (*CHANGE_COLUMNS, "before", "before_version", "before_updated_at"),
            select(
                literal(tenant),
                literal(import_id),
                C.id,
                literal("updated"),
                C.version + 1,
                before_image(stage.dialect),
                C.version,
                C.updated_at,
            )
            .select_from(IMPORT_ROWS.join(CUSTOMERS, its_customer))
            .where(updating),
        )
    )
    names = STORED if stage.dialect != "sqlite" else _changed_columns(stage, updating, its_customer)
    if not names:
        return  # no customer of these lines changes
    stage.session.execute(
        update(CUSTOMERS)
        .where(updating, its_customer)
        .values({**{name: R[name] for name in names}, **stamp(now)})
    )


def _changed_columns(
    stage: Stage, updating: ColumnElement[bool], its_customer: ColumnElement[bool]
) -> tuple[str, ...]:
    """SQLite: the stored columns that at least one customer of the batch changes.

    SQLite rewrites the entry of every index on a column the ``UPDATE`` assigns, and
    fires the search index's ``AFTER UPDATE OF name, email, phone`` trigger, whether the
    value changed or not; so the batch's ``UPDATE`` assigns only these (a column no row
    of the batch changes keeps its value either way).  An upsert of 20,000 customers
    whose phones changed took 1.1 s instead of 2.4 s.  PostgreSQL decides by value, and
    puts a new entry in every index of a row that is not updated in place anyway (the
    time of the change is indexed): there the list changes nothing.
    """
    changed = stage.session.execute(
        select(
            *(func.max(case((C[name].is_distinct_from(R[name]), 1), else_=0)) for name in STORED)
        )
        .select_from(IMPORT_ROWS.join(CUSTOMERS, its_customer))
        .where(updating)
    ).one()
    return tuple(name for name, flag in zip(STORED, changed, strict=True) if flag)


def _refused_creates(stage: Stage, lo: int, hi: int) -> int:
    """Rows of lines lo..hi the unique key kept out: errors naming the earlier line."""
    first = first_line_of_email().label("first")
    kept_out = (
        select(R.line, R.email, first)
        .where(
            R.line.between(lo, hi),
            R.action.is_(None),
            ~exists().where(C.tenant_id == stage.tenant_id, C.id == R.customer_id),
        )
        .subquery("d")
    )
    message = case(
        (
            kept_out.c.first < kept_out.c.line,
            repeated_email(kept_out.c.email, kept_out.c.first),
        ),
        else_=literal("A customer with the email ")
        + kept_out.c.email
        + literal(" was added while this file was being imported."),
    )
    found = add_errors(stage, select(kept_out.c.line, literal("email"), message))
    unstage_errors(stage, lo, hi)
    return found
