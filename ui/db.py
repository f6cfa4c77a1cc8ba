"""The dashboard's way into the data layer: one database per process, a scope per action."""

from __future__ import annotations

from contextlib import AbstractContextManager

from data.db import Database, get_database
from data.identity import Identity
from data.scope import Scope


def database() -> Database:
    return get_database()


def scope(identity: Identity, *, write: bool = False) -> AbstractContextManager[Scope]:
    """A transaction of the signed-in user's tenant, with their rights read in it.

    Every write of the dashboard opens its own (``write=True``): a user demoted, removed
    or signed out since the page was drawn writes nothing.
    """
    return database().scope(identity, write=write)
