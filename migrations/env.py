"""Alembic environment: runs on the connection ``data.schema.migrate`` hands it.

Run from the command line (``alembic upgrade head``) it uses DATABASE_URL from the
settings, connecting as the URL's own user (the owner of the tables), never as the
application role.
"""

from alembic import context
from sqlalchemy import Connection

from data.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from config import get_settings
    from data.db import Database

    database = Database(get_settings().database_url, app_role=None)
    with database.owner_engine().connect() as conn:
        run(conn)
        conn.commit()
