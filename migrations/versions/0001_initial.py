"""Initial schema: tenants, users, customers, audit, import changes, sign-in throttle.

Beyond the tables, per database:

* PostgreSQL: the ``pg_trgm`` search index, the counter triggers, an application role
  that does not own the tables, and row-level security (``FORCE``) on every tenant
  table, keyed on the transaction setting ``app.tenant_id``.
* SQLite: an ``INTEGER PRIMARY KEY`` on customers (stable rowid), an FTS5 trigram index
  kept in sync by triggers, and the counter triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from data.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "inventory_app"
TENANT_TABLES = ("users", "customers", "customer_counts", "audit_events", "import_changes")
ALL_TABLES = ("tenants", "auth_throttle", *TENANT_TABLES)
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def _tenant_fk() -> sa.Column[str]:
    return sa.Column(
        "tenant_id",
        sa.String(36),
        sa.ForeignKey("tenants.id", ondelete="CASCADE", name=None),
        nullable=False,
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name

    op.create_table(
        "tenants",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        _tenant_fk(),
        sa.Column("username", sa.String(150), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("password_hash", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("credentials_changed_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint("role IN ('admin', 'editor', 'viewer')", name="ck_users_role"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])

    customer_columns: list[sa.Column[object] | sa.Constraint] = []
    if dialect == "sqlite":
        # A rowid that VACUUM never renumbers, for the external-content FTS5 index.
        customer_columns.append(sa.Column("seq", sa.Integer, primary_key=True))
    customer_columns += [
        _tenant_fk(),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_key", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(50)),
        sa.Column("address", sa.String(500)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.UniqueConstraint("tenant_id", "email_key", name="uq_customers_tenant_email"),
    ]
    if dialect == "sqlite":
        customer_columns.append(
            sa.UniqueConstraint("tenant_id", "id", name="uq_customers_tenant_id")
        )
    else:
        customer_columns.append(sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_customers"))
    op.create_table("customers", *customer_columns)
    op.create_index("ix_customers_tenant_name", "customers", ["tenant_id", "name", "id"])
    for column in ("phone", "address"):
        # Empty values sort last ascending on both databases.  PostgreSQL's B-tree does
        # that by itself; SQLite needs "col IS NULL" first in the index to read the order
        # from the index instead of sorting the whole tenant.
        parts = ["tenant_id", column, "id"]
        if dialect == "sqlite":
            parts = ["tenant_id", sa.text(f"{column} IS NULL"), column, "id"]
        op.create_index(f"ix_customers_tenant_{column}", "customers", parts)
    op.create_index("ix_customers_tenant_created", "customers", ["tenant_id", "created_at", "id"])
    op.create_index("ix_customers_tenant_updated", "customers", ["tenant_id", "updated_at", "id"])

    op.create_table(
        "customer_counts",
        _tenant_fk(),
        sa.Column("n", sa.Integer, nullable=False, server_default="0"),
        sa.Column("changes", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_customer_counts"),
    )
    op.create_table(
        "audit_events",
        _tenant_fk(),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(150), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.String(36)),
        sa.Column("before", JSON),
        sa.Column("after", JSON),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_tenant_at", "audit_events", ["tenant_id", "at"])
    op.create_index(
        "ix_audit_events_tenant_customer", "audit_events", ["tenant_id", "customer_id", "at"]
    )
    op.create_table(
        "import_changes",
        _tenant_fk(),
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("version_after", sa.Integer, nullable=False),
        sa.Column("before_name", sa.String(200)),
        sa.Column("before_email", sa.String(254)),
        sa.Column("before_phone", sa.String(50)),
        sa.Column("before_address", sa.String(500)),
        sa.Column("before_version", sa.Integer),
        sa.Column("before_updated_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("tenant_id", "import_id", "customer_id", name="pk_import_changes"),
    )
    op.create_table(
        "auth_throttle",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_failure_at", UTCDateTime()),
        sa.Column("locked_until", UTCDateTime()),
    )

    if dialect == "sqlite":
        _sqlite_search_and_counts()
    else:
        _postgresql_search_and_counts()
        _postgresql_security()


def _sqlite_search_and_counts() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE customers_fts USING fts5("
        "name, email, phone, content='customers', content_rowid='seq', tokenize='trigram')"
    )
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
            UPDATE customer_counts SET changes = changes + 1 WHERE tenant_id = new.tenant_id;
        END"""
    )
    op.execute(
        """CREATE TRIGGER customers_au AFTER UPDATE OF name, email, phone ON customers BEGIN
            INSERT INTO customers_fts (customers_fts, rowid, name, email, phone)
                VALUES ('delete', old.seq, old.name, old.email, old.phone);
            INSERT INTO customers_fts (rowid, name, email, phone)
                VALUES (new.seq, new.name, new.email, new.phone);
        END"""
    )


def _postgresql_search_and_counts() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "ALTER TABLE customers ADD COLUMN search_text text GENERATED ALWAYS AS "
        "(name || ' ' || email || ' ' || coalesce(phone, '')) STORED"
    )
    op.execute("CREATE INDEX ix_customers_search ON customers USING gin (search_text gin_trgm_ops)")
    # Under row-level security PostgreSQL only lets a condition use an index when its
    # function is LEAKPROOF; ILIKE's function (texticlike) is not marked so, although its
    # errors depend on the pattern alone, never on the row.  Marking it needs a superuser;
    # without one, search still works but scans the tenant's rows (init-db says so).
    op.execute(
        """DO $$
        BEGIN
            IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF;
            END IF;
        END $$"""
    )
    op.execute(
        """CREATE FUNCTION customer_counts_after_insert() RETURNS trigger
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
        """CREATE FUNCTION customer_counts_after_delete() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE customer_counts AS c SET n = c.n - d.n, changes = c.changes + d.n
                FROM (SELECT tenant_id, count(*) AS n FROM old_rows GROUP BY tenant_id) AS d
                WHERE c.tenant_id = d.tenant_id;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        """CREATE FUNCTION customer_counts_after_update() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE customer_counts AS c SET changes = c.changes + d.n
                FROM (SELECT tenant_id, count(*) AS n FROM new_rows GROUP BY tenant_id) AS d
                WHERE c.tenant_id = d.tenant_id;
            RETURN NULL;
        END $$"""
    )
    op.execute(
        "CREATE TRIGGER customers_count_insert AFTER INSERT ON customers "
        "REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION customer_counts_after_insert()"
    )
    op.execute(
        "CREATE TRIGGER customers_count_update AFTER UPDATE ON customers "
        "REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION customer_counts_after_update()"
    )
    op.execute(
        "CREATE TRIGGER customers_count_delete AFTER DELETE ON customers "
        "REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION customer_counts_after_delete()"
    )


def _postgresql_security() -> None:
    op.execute(
        f"""DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
            END IF;
            IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
               AND NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
            END IF;
        END $$"""
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    for table in ALL_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    tenant = "current_setting('app.tenant_id', true)"
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        if table == "users":
            # Signing in must find a user before the tenant is known: by username
            # (password form) or by id (cookie, token).  Nothing else crosses tenants.
            visible = (
                f"tenant_id = {tenant}"
                " OR username = current_setting('app.login_username', true)"
                " OR id = current_setting('app.login_user_id', true)"
            )
        else:
            visible = f"tenant_id = {tenant}"
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING ({visible}) "
            f"WITH CHECK (tenant_id = {tenant})"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS customers_fts")
    for table in ("auth_throttle", "import_changes", "audit_events", "customer_counts"):
        op.drop_table(table)
    op.drop_table("customers")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS customer_counts_after_insert()")
        op.execute("DROP FUNCTION IF EXISTS customer_counts_after_delete()")
        op.execute("DROP FUNCTION IF EXISTS customer_counts_after_update()")
    op.drop_table("users")
    op.drop_table("tenants")
