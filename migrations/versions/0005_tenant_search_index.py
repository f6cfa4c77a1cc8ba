"""PostgreSQL: the trigram search index leads with the tenant.

``ix_customers_search`` indexed ``search_text`` alone, so a search read every tenant's
matches from it and dropped the other tenants' rows afterwards: a tenant of 1,000
customers searching "nakamura" beside a tenant of 100,000 read 4,193 index entries and
725 table pages to find its 34 (1.7 ms; it grows with the neighbours).  With
``btree_gin`` the tenant is a key of the same GIN index, which intersects it with the
trigrams: 34 entries, 28 pages, 0.5 ms, whatever the other tenants hold (issue 15).

``btree_gin`` ships with PostgreSQL (contrib) and is a trusted extension, like
``pg_trgm``: the database's owner may create it.  The index is built in this migration's
transaction; it blocks writes to customers while it builds (about 2 s per 100,000
customers).  Nothing on SQLite, whose FTS index is read within the tenant's rowid range.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.execute(
        "CREATE INDEX ix_customers_tenant_search ON customers "
        "USING gin (tenant_id, search_text gin_trgm_ops)"
    )
    op.execute("DROP INDEX ix_customers_search")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_customers_search ON customers USING gin (search_text gin_trgm_ops)")
    op.execute("DROP INDEX ix_customers_tenant_search")
