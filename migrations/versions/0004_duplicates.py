"""Duplicates: normalised keys beside every customer, and the pairs found with them.

* ``tenants.phone_region``: the region a tenant's national phone numbers are read in
  ("DE").  Existing tenants get the installation's ``DEFAULT_PHONE_REGION`` (none when
  unset); ``manage.py set-region`` changes it later.
* ``customers`` gains the duplicate keys of ``data.duplicates.keys`` (``phone_key``,
  ``email_canon``, ``email_domain``, ``name_key``, ``address_key``), computed here in
  Python for the existing rows, as every write computes them, and an index per block key
  ``(tenant_id, <key>, name_key) WHERE <key> IS NOT NULL``, which the pair finder reads
  in order and the write hook seeks.
* ``import_changes.before`` (an import's before-images, which its undo puts back) gains
  the same keys, so that undoing an import of an older release restores them too.
* ``duplicate_pairs``: the suspected pairs per tenant, with reasons, score and status;
  row-level security enabled and forced, as on every table.

The key backfill runs per tenant, in batches of 5,000, in this migration's transaction:
about a minute per million customers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from data.duplicates.keys import DUPLICATE_KEYS, KEY_LIMITS, duplicate_keys
from data.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOCK_KEYS = ("phone_key", "email_canon", "email_domain", "address_key")
FIELDS = ("name", "email", "phone", "address")
TENANT = "current_setting('app.tenant_id', true)"
BATCH = 5000


def _default_region() -> str | None:
    from config import ConfigError, get_settings

    try:
        return get_settings().default_phone_region
    except ConfigError:
        return None


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    op.add_column("tenants", sa.Column("phone_region", sa.String(3)))
    for key in DUPLICATE_KEYS:
        op.add_column("customers", sa.Column(key, sa.String(KEY_LIMITS[key])))
    op.create_table(
        "duplicate_pairs",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("customer_a", sa.String(36), nullable=False),
        sa.Column("customer_b", sa.String(36), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("reasons", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False, server_default="open"),
        sa.Column("found_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(150)),
        sa.Column("decided_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("tenant_id", "customer_a", "customer_b", name="pk_duplicate_pairs"),
        sa.CheckConstraint("customer_a < customer_b", name="ck_duplicate_pairs_ordered"),
        sa.CheckConstraint("status IN ('open', 'dismissed')", name="ck_duplicate_pairs_status"),
    )
    op.create_index("ix_duplicate_pairs_tenant_b", "duplicate_pairs", ["tenant_id", "customer_b"])
    # The queue, best first (not covering the ids: see data.models.DuplicatePair).
    op.create_index(
        "ix_duplicate_pairs_tenant_queue", "duplicate_pairs", ["tenant_id", "status", "score"]
    )

    if dialect == "postgresql":
        # The owner is held to the policies too (FORCE): it reads every tenant with them
        # off for a moment, then enters each tenant to rewrite its rows.
        op.execute("ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY")
    default = _default_region()
    tenants = sa.table("tenants", sa.column("id"), sa.column("phone_region"))
    if default is not None:
        bind.execute(sa.update(tenants).values(phone_region=default))
    tenant_ids = [str(row.id) for row in bind.execute(sa.select(tenants.c.id))]
    if dialect == "postgresql":
        op.execute("ALTER TABLE tenants FORCE ROW LEVEL SECURITY")
    for tenant_id in tenant_ids:
        if dialect == "postgresql":
            bind.execute(sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})
        _backfill_customers(bind, tenant_id, default)
        _backfill_before_images(bind, tenant_id, default)
    if dialect == "postgresql":
        bind.execute(sa.text("SELECT set_config('app.tenant_id', '', true)"))

    for key in BLOCK_KEYS:
        op.create_index(
            f"ix_customers_tenant_{key}",
            "customers",
            ["tenant_id", key, "name_key"],
            sqlite_where=sa.text(f"{key} IS NOT NULL"),
            postgresql_where=sa.text(f"{key} IS NOT NULL"),
        )
    if dialect == "postgresql":
        op.execute("ALTER TABLE duplicate_pairs ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE duplicate_pairs FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON duplicate_pairs USING (tenant_id = {TENANT}) "
            f"WITH CHECK (tenant_id = {TENANT})"
        )


def _backfill_customers(bind: sa.Connection, tenant_id: str, region: str | None) -> None:
    """Every customer's keys, computed in Python (as every write does), in batches."""
    last = ""
    assignments = ", ".join(f"{key} = :{key}" for key in DUPLICATE_KEYS)
    update = sa.text(f"UPDATE customers SET {assignments} WHERE tenant_id = :t AND id = :id")
    while True:
        rows = bind.execute(
            sa.text(
                f"SELECT id, {', '.join(FIELDS)} FROM customers "
                "WHERE tenant_id = :t AND id > :last ORDER BY id LIMIT :n"
            ),
            {"t": tenant_id, "last": last, "n": BATCH},
        ).all()
        if not rows:
            return
        bind.execute(
            update,
            [
                {"t": tenant_id, "id": row.id, **duplicate_keys(row._mapping, region)}
                for row in rows
            ],
        )
        last = str(rows[-1].id)


def _backfill_before_images(bind: sa.Connection, tenant_id: str, region: str | None) -> None:
    """The keys in the before-images of an import's updated customers (its undo data)."""
    rows = bind.execute(
        sa.text(
            "SELECT import_id, customer_id, before FROM import_changes "
            "WHERE tenant_id = :t AND kind = 'updated' AND before IS NOT NULL"
        ),
        {"t": tenant_id},
    ).all()
    cast = "CAST(:before AS jsonb)" if bind.dialect.name == "postgresql" else ":before"
    update = sa.text(
        f"UPDATE import_changes SET before = {cast} "
        "WHERE tenant_id = :t AND import_id = :i AND customer_id = :c"
    )
    for row in rows:
        image: dict[str, Any] = (
            dict(row.before) if isinstance(row.before, dict) else json.loads(row.before)
        )
        image.update(duplicate_keys(image, region))
        bind.execute(
            update,
            {
                "t": tenant_id,
                "i": row.import_id,
                "c": row.customer_id,
                "before": json.dumps(image, ensure_ascii=False),
            },
        )


def downgrade() -> None:
    for key in BLOCK_KEYS:
        op.drop_index(f"ix_customers_tenant_{key}", "customers")
    op.drop_index("ix_duplicate_pairs_tenant_queue", "duplicate_pairs")
    op.drop_index("ix_duplicate_pairs_tenant_b", "duplicate_pairs")
    op.drop_table("duplicate_pairs")
    # Plain ALTER TABLE, not a batch (copy-and-rename): other tables and triggers refer to
    # these tables.  The before-images keep their extra keys: older undo code ignores them.
    for key in DUPLICATE_KEYS:
        op.execute(f"ALTER TABLE customers DROP COLUMN {key}")
    op.execute("ALTER TABLE tenants DROP COLUMN phone_region")
