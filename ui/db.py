"""The dashboard's way into the data layer: one database per process, sessions per user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from data.db import Database, get_database

if TYPE_CHECKING:
    from data.users import UserInfo


def database() -> Database:
    return get_database()


@contextmanager
def tenant_session(user: UserInfo, *, write: bool = False) -> Iterator[Session]:
    """A transaction in the signed-in user's tenant (the only tenant a page can reach)."""
    with database().transaction(user.tenant_id, write=write) as session:
        yield session
