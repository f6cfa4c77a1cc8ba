"""Counters of changes per sort, so page anchors outlive writes that move no row there.

Deep Customers pages are anchor seeks (data/paging.py); the anchors of a sort were keyed
by ``customer_counts.changes``, which every insert, update and delete bumps, so any write
to a tenant made the next deep page of every sort recompute its anchors: one scan of the
tenant's index per sort, 0.6-2 s at a million customers.  An update that changes only a
phone number moves no row in the name, email, address or creation order, though.

``customer_counts`` gains, kept by the same triggers in the same transaction:

* ``moves``: inserts and deletes (they shift every order);
* ``name_changes``, ``email_changes``, ``phone_changes``, ``address_changes``: updates
  that changed that sort's key (``email_key`` for the email sort).

``changes`` stays as it was (every write): the "last changed" order moves on every
update.  The creation order moves only with ``moves``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = ("moves", "name_changes", "email_changes", "phone_changes", "address_changes")
# sort key column of each per-column counter
KEYS = {
    "name_changes": "name",
    "email_changes": "email_key",
    "phone_changes": "phone",
    "address_changes": "address",
}


def upgrade() -> None:
    for counter in COUNTERS:
        op.add_column(
            "customer_counts",
            sa.Column(counter, sa.BigInteger, nullable=False, server_default="0"),
        )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_triggers()
    else:
        _postgresql_triggers()


def _sqlite_triggers() -> None:
    for trigger in ("customers_ai", "customers_ad", "customers_changed"):
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute(
        """CREATE TRIGGER customers_ai AFTER INSERT ON customers BEGIN
            INSERT INTO customers_fts (rowid, name, email, phone)
                VALUES (new.seq, new.name, new.email, new.phone);
            INSERT INTO customer_counts (tenant_id, n, changes, moves)
                VALUES (new.tenant_id, 1, 1, 1)
                ON CONFLICT (tenant_id) DO UPDATE
                SET n = n + 1, changes = changes + 1, moves = moves + 1;
        END"""
    )
    op.execute(
        """CREATE TRIGGER customers_ad AFTER DELETE ON customers BEGIN
            INSERT INTO customers_fts (customers_fts, rowid, name, email, phone)
                VALUES ('delete', old.seq, old.name, old.email, old.phone);
            UPDATE customer_counts SET n = n - 1, changes = changes + 1, moves = moves + 1
                WHERE tenant_id = old.tenant_id;
        END"""
    )
    per_column = ", ".join(
        f"{counter} = {counter} + (old.{column} IS NOT new.{column})"
        for counter, column in KEYS.items()
    )
    op.execute(
        f"""CREATE TRIGGER customers_changed AFTER UPDATE ON customers BEGIN
            UPDATE customer_counts SET changes = changes + 1,
                moves = moves + (old.tenant_id IS NOT new.tenant_id OR old.id IS NOT new.id),
                {per_column}
                WHERE tenant_id = new.tenant_id;
        END"""
    )


def _postgresql_triggers() -> None:
    op.execute(
        """CREATE OR REPLACE FUNCTION customer_counts_after_insert() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO customer_counts (tenant_id, n, changes, moves)
                SELECT tenant_id, count(*), count(*), count(*) FROM new_rows GROUP BY tenant_id
                ON CONFLICT (tenant_id) DO UPDATE SET n = customer_counts.n + excluded.n,
                    changes = customer_counts.changes + excluded.changes,
                    moves = customer_counts.moves + excluded.moves;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE OR REPLACE FUNCTION customer_counts_after_delete() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE customer_counts AS c
                SET n = c.n - d.n, changes = c.changes + d.n, moves = c.moves + d.n
                FROM (SELECT tenant_id, count(*) AS n FROM old_rows GROUP BY tenant_id) AS d
                WHERE c.tenant_id = d.tenant_id;
            RETURN NULL;
        END $$"""
    )
    filters = ",\n".join(
        f"count(*) FILTER (WHERE o.{column} IS DISTINCT FROM r.{column}) AS {counter}"
        for counter, column in KEYS.items()
    )
    sets = ", ".join(f"{counter} = c.{counter} + d.{counter}" for counter in KEYS)
    # A row whose tenant or id changed (nothing does that) counts as moved.  The join of
    # the transition tables (no indexes) needs a hash or merge join: the CSV importer
    # turns both off for its own statements (data/csv_import.py, Stage.create), and a
    # nested loop here made an upsert of a million rows quadratic (15x its anchor).  A
    # function's SET clause holds while it runs and is undone when it returns.
    op.execute(
        f"""CREATE OR REPLACE FUNCTION customer_counts_after_update() RETURNS trigger
        LANGUAGE plpgsql SET enable_hashjoin = on SET enable_mergejoin = on AS $$
        BEGIN
            UPDATE customer_counts AS c SET changes = c.changes + d.n,
                moves = c.moves + d.moved, {sets}
                FROM (SELECT r.tenant_id, count(*) AS n,
                        count(*) FILTER (WHERE o.id IS NULL) AS moved,
                        {filters}
                    FROM new_rows r LEFT JOIN old_rows o
                        ON o.tenant_id = r.tenant_id AND o.id = r.id
                    GROUP BY r.tenant_id) AS d
                WHERE c.tenant_id = d.tenant_id;
            RETURN NULL;
        END $$"""
    )
    op.execute("DROP TRIGGER customers_count_update ON customers")
    op.execute(
        "CREATE TRIGGER customers_count_update AFTER UPDATE ON customers "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION customer_counts_after_update()"
    )


def downgrade() -> None:
    """Back to 0001: the triggers without the new counters, then drop the columns."""
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("customers_ai", "customers_ad", "customers_changed"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute(
            """CREATE TRIGGER customers_ai AFTER INSERT ON customers BEGIN
                INSERT INTO customers_fts (rowid, name, email, phone)
                    VALUES (new.seq, new.name, new.email, new.phone);
                INSERT INTO customer_counts (tenant_id, n, changes) VALUES (new.tenant_id, 1, 1)
                    ON CONFLICT (tenant_id) DO UPDATE SET n = n + 1, changes = changes + 1;
            END"""
        )
        op.execute(
            """CREATE TRIGGER customers_ad AFTER DELETE ON customers BEGIN
                INSERT INTO customers_fts (customers_fts, rowid, name, email, phone)
                    VALUES ('delete', old.seq, old.name, old.email, old.phone);
                UPDATE customer_counts SET n = n - 1, changes = changes + 1
                    WHERE tenant_id = old.tenant_id;
            END"""
        )
        op.execute(
            """CREATE TRIGGER customers_changed AFTER UPDATE ON customers BEGIN
                UPDATE customer_counts SET changes = changes + 1
                    WHERE tenant_id = new.tenant_id;
            END"""
        )
    else:
        op.execute(
            """CREATE OR REPLACE FUNCTION customer_counts_after_insert() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO customer_counts (tenant_id, n, changes)
                    SELECT tenant_id, count(*), count(*) FROM new_rows GROUP BY tenant_id
                    ON CONFLICT (tenant_id) DO UPDATE SET n = customer_counts.n + excluded.n,
                        changes = customer_counts.changes + excluded.changes;
                RETURN NULL;
            END $$"""
        )
        op.execute(
            """CREATE OR REPLACE FUNCTION customer_counts_after_delete() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE customer_counts AS c SET n = c.n - d.n, changes = c.changes + d.n
                    FROM (SELECT tenant_id, count(*) AS n FROM old_rows GROUP BY tenant_id) AS d
                    WHERE c.tenant_id = d.tenant_id;
                RETURN NULL;
            END $$"""
        )
        op.execute(
            """CREATE OR REPLACE FUNCTION customer_counts_after_update() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE customer_counts AS c SET changes = c.changes + d.n
                    FROM (SELECT tenant_id, count(*) AS n FROM new_rows GROUP BY tenant_id) AS d
                    WHERE c.tenant_id = d.tenant_id;
                RETURN NULL;
            END $$"""
        )
        op.execute("DROP TRIGGER customers_count_update ON customers")
        op.execute(
            "CREATE TRIGGER customers_count_update AFTER UPDATE ON customers "
            "REFERENCING NEW TABLE AS new_rows "
            "FOR EACH STATEMENT EXECUTE FUNCTION customer_counts_after_update()"
        )
    for counter in COUNTERS:
        op.drop_column("customer_counts", counter)
