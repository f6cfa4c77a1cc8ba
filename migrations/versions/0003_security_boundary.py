"""The security boundary: server-side sessions and tokens, row-level security everywhere.

* ``credentials``: dashboard sessions (the keyed hash of the cookie's secret) and API
  tokens (the JWT's ``jti``), so that both can be listed and revoked.
* PostgreSQL: row-level security, enabled and forced, on every table, ``tenants`` and
  ``auth_throttle`` included.  A transaction sees its own tenant's row of ``tenants``,
  or one row it looks up by id or name (``app.lookup_tenant``, the command line), and
  may insert only the tenant it has entered; nobody may rename it, and only the owner
  may delete it (the runtime role has no such privilege: ``data.administration.RUNTIME_GRANTS``).
  ``auth_throttle`` shows a transaction only the counters it names
  (``app.throttle_keys``).  The sign-in lookup of ``users`` by id is gone: cookies now
  name a session (``credentials``, by ``app.login_secret``), not a user.
* ``import_changes`` keeps the before-image of an updated customer as one JSON value of
  its stored columns, so that a new customer field needs no new column here.
* SQLite: every tenant gets a number (``tenants.seq``) and its customers' rowids the
  range ``seq << 40`` … ``(seq + 1) << 40``, so that a search reads the FTS5 index within
  that range only: its cost no longer depends on other tenants' customers.  A trigger
  refuses a customer whose rowid lies outside its tenant's range.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
BEFORE_COLUMNS = ("name", "email", "phone", "address")
TENANT = "current_setting('app.tenant_id', true)"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "credentials",
        sa.Column(
            "tenant_id",
            sa.String(36),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column(
            "user_id",
            sa.String(36),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("secret_hash", sa.String(64)),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_credentials"),
        sa.UniqueConstraint("secret_hash", name="uq_credentials_secret_hash"),
        sa.CheckConstraint("kind IN ('session', 'token')", name="ck_credentials_kind"),
    )
    op.create_index("ix_credentials_tenant_user", "credentials", ["tenant_id", "user_id"])
    op.create_index("ix_credentials_user_id", "credentials", ["user_id"])

    if dialect == "postgresql":
        # The owner runs this; with FORCE it is held to the policies too.
        op.execute("ALTER TABLE import_changes NO FORCE ROW LEVEL SECURITY")
    op.add_column("import_changes", sa.Column("before", JSON))
    # The key is computed in Python, as every write computes it (data.keys): the
    # databases' own lower() folds ASCII only (SQLite) or by locale (PostgreSQL).
    bind = op.get_bind()
    changes = sa.table(
        "import_changes",
        sa.column("tenant_id"),
        sa.column("import_id"),
        sa.column("customer_id"),
        sa.column("before", JSON),
        *(sa.column(f"before_{c}") for c in BEFORE_COLUMNS),
        sa.column("kind"),
    )
    rows = bind.execute(
        sa.select(
            changes.c.tenant_id,
            changes.c.import_id,
            changes.c.customer_id,
            *(changes.c[f"before_{c}"] for c in BEFORE_COLUMNS),
        ).where(changes.c.kind == "updated")
    ).all()
    for row in rows:
        image = {c: getattr(row, f"before_{c}") for c in BEFORE_COLUMNS}
        image["email_key"] = (image["email"] or "").strip().lower() or None
        bind.execute(
            sa.update(changes)
            .where(
                changes.c.tenant_id == row.tenant_id,
                changes.c.import_id == row.import_id,
                changes.c.customer_id == row.customer_id,
            )
            .values(before=image)
        )
    with op.batch_alter_table("import_changes") as batch:
        for column in BEFORE_COLUMNS:
            batch.drop_column(f"before_{column}")
    if dialect == "postgresql":
        op.execute("ALTER TABLE import_changes FORCE ROW LEVEL SECURITY")
        _postgresql_policies()
    else:
        _sqlite_tenant_ranges()


def _postgresql_policies() -> None:
    for table in ("tenants", "auth_throttle", "credentials"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    lookup = "current_setting('app.lookup_tenant', true)"
    op.execute(
        f"CREATE POLICY tenant_read ON tenants FOR SELECT USING (id = {TENANT} "
        f"OR id = {lookup} OR lower(name) = lower({lookup}))"
    )
    op.execute(f"CREATE POLICY tenant_create ON tenants FOR INSERT WITH CHECK (id = {TENANT})")
    op.execute(f"CREATE POLICY tenant_delete ON tenants FOR DELETE USING (id = {TENANT})")
    keys = "string_to_array(current_setting('app.throttle_keys', true), E'\\n')"
    op.execute(
        f"CREATE POLICY named_keys ON auth_throttle USING (key = ANY({keys})) "
        f"WITH CHECK (key = ANY({keys}))"
    )
    op.execute(
        "CREATE POLICY tenant_isolation ON credentials USING ("
        f"tenant_id = {TENANT} OR (kind = 'session' "
        "AND secret_hash = current_setting('app.login_secret', true))) "
        f"WITH CHECK (tenant_id = {TENANT})"
    )
    op.execute("DROP POLICY tenant_isolation ON users")
    op.execute(
        "CREATE POLICY tenant_isolation ON users USING ("
        f"tenant_id = {TENANT} OR username = current_setting('app.login_username', true)) "
        f"WITH CHECK (tenant_id = {TENANT})"
    )


SQLITE_SEQ_BITS = 40


def _sqlite_tenant_ranges() -> None:
    op.execute("ALTER TABLE tenants ADD COLUMN seq INTEGER")
    op.execute(
        "UPDATE tenants SET seq = (SELECT n FROM (SELECT id, row_number() OVER "
        "(ORDER BY created_at, id) AS n FROM tenants) AS numbered "
        "WHERE numbered.id = tenants.id)"
    )
    op.execute("CREATE UNIQUE INDEX uq_tenants_seq ON tenants (seq)")
    # New rowids start above every old one (tenant numbers start at 1), so moving the
    # rows one by one never collides.
    op.execute(
        f"UPDATE customers SET seq = ((SELECT t.seq FROM tenants t "
        f"WHERE t.id = customers.tenant_id) << {SQLITE_SEQ_BITS}) + (SELECT n FROM ("
        "SELECT seq AS old, row_number() OVER (PARTITION BY tenant_id ORDER BY seq) AS n "
        "FROM customers) AS numbered WHERE numbered.old = customers.seq)"
    )
    op.execute("INSERT INTO customers_fts (customers_fts) VALUES ('rebuild')")
    op.execute(
        f"""CREATE TRIGGER customers_seq_in_range BEFORE INSERT ON customers
        WHEN new.seq IS NULL OR (new.seq >> {SQLITE_SEQ_BITS}) IS NOT
            (SELECT seq FROM tenants WHERE id = new.tenant_id)
        BEGIN
            SELECT RAISE(ABORT, 'a customer''s seq must lie in its tenant''s range');
        END"""
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for policy, table in (
            ("tenant_read", "tenants"),
            ("tenant_create", "tenants"),
            ("tenant_delete", "tenants"),
            ("named_keys", "auth_throttle"),
        ):
            op.execute(f"DROP POLICY {policy} ON {table}")
        for table in ("tenants", "auth_throttle"):
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute("DROP POLICY tenant_isolation ON users")
        op.execute(
            "CREATE POLICY tenant_isolation ON users USING ("
            f"tenant_id = {TENANT} OR username = current_setting('app.login_username', true)"
            " OR id = current_setting('app.login_user_id', true)) "
            f"WITH CHECK (tenant_id = {TENANT})"
        )
        op.execute("ALTER TABLE import_changes NO FORCE ROW LEVEL SECURITY")
    else:
        op.execute("DROP TRIGGER customers_seq_in_range")
        op.execute("DROP INDEX uq_tenants_seq")
        # Not a batch (copy-and-rename) table: other tables refer to this one.
        op.execute("ALTER TABLE tenants DROP COLUMN seq")
    with op.batch_alter_table("import_changes") as batch:
        for column in BEFORE_COLUMNS:
            batch.add_column(sa.Column(f"before_{column}", sa.String(500)))
    if dialect == "postgresql":
        for column in BEFORE_COLUMNS:
            op.execute(
                f"UPDATE import_changes SET before_{column} = before ->> '{column}' "
                "WHERE before IS NOT NULL"
            )
        op.execute("ALTER TABLE import_changes FORCE ROW LEVEL SECURITY")
    else:
        for column in BEFORE_COLUMNS:
            op.execute(
                f"UPDATE import_changes SET before_{column} = json_extract(before, '$.{column}') "
                "WHERE before IS NOT NULL"
            )
    op.drop_column("import_changes", "before")
    op.drop_table("credentials")
