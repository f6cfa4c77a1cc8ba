"""Every write re-checks the actor's rights in its own transaction (SPEC §9, issue 13).

A role change through the application also ends the user's sessions and tokens, so a
demoted user is signed out anyway.  These tests take that away: the user's role is
changed (or the user deleted) behind the application's back, with SQL as the tables'
owner, so the session stays standing.  A scope opened afterwards must read the new role
from the database and refuse every write it no longer allows (``Forbidden``), writing
nothing at all, not even an audit event; a removed user's session is nobody.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, update

from data.credentials import open_session
from data.errors import Forbidden, Unauthenticated
from data.identity import Role
from data.importing import import_file, undo_import
from data.models import User
from data.scope import ACCOUNT_GONE
from tests.faults.helpers import tenant_state


def new_customer() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"name": f"Person {tag}", "email": f"person.{tag}@example.com"}


@pytest.fixture
def set_role(owner_sql):  # type: ignore[no-untyped-def]
    """``set_role(user, role)`` by SQL as the owner: no session or token is revoked."""

    def change(user: Any, role: Role) -> None:
        with owner_sql(user.tenant_id) as conn:
            changed = conn.execute(
                update(User)
                .where(User.tenant_id == user.tenant_id, User.id == user.id)
                .values(role=role.value)
            ).rowcount
        assert changed == 1

    return change


@pytest.fixture
def stage(database, tenant, scope_of):  # type: ignore[no-untyped-def]
    """A customer, a deleted customer and an import, made while the editor was an editor."""
    with scope_of(tenant, tenant.editor, write=True) as scope:
        kept = scope.customers.create(new_customer())
        gone = scope.customers.create(new_customer())
        scope.customers.delete(gone.id)
    _, editor = open_session(database, tenant.editor)
    row = new_customer()
    summary = import_file(
        database,
        editor,
        io.BytesIO(f"name,email\n{row['name']},{row['email']}\n".encode()),
        filename="before.csv",
    )
    assert summary.written
    return {"kept": kept, "gone": gone, "import_id": summary.import_id}


WRITES: dict[str, Callable[[Any, dict[str, Any], Any], Any]] = {
    "create": lambda scope, stage, database: scope.customers.create(new_customer()),
    "update": lambda scope, stage, database: scope.customers.update(
        stage["kept"].id, new_customer()
    ),
    "update-if-version": lambda scope, stage, database: scope.customers.update(
        stage["kept"].id, new_customer(), expected_version=stage["kept"].version
    ),
    "delete": lambda scope, stage, database: scope.customers.delete(stage["kept"].id),
    "delete-many": lambda scope, stage, database: scope.customers.delete_many([stage["kept"].id]),
    "restore": lambda scope, stage, database: scope.customers.restore(stage["gone"].id),
    "undo-import": lambda scope, stage, database: undo_import(scope, stage["import_id"]),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_an_editor_demoted_behind_the_apps_back_writes_nothing(
    database, tenant, identity_of, set_role, stage, write
):
    signed_in = identity_of(tenant.editor)  # a session that stays standing
    set_role(tenant.editor, Role.VIEWER)
    before = tenant_state(database, tenant.id)
    with database.scope(signed_in, write=True) as scope:
        assert scope.actor.role == Role.VIEWER  # read now, from the database
        with pytest.raises(Forbidden, match=r"^Your role \(viewer\) does not allow you to "):
            WRITES[write](scope, stage, database)
    assert tenant_state(database, tenant.id) == before  # no customer, no audit event


def test_a_demoted_editors_import_writes_nothing(database, tenant, identity_of, set_role):
    signed_in = identity_of(tenant.editor)
    set_role(tenant.editor, Role.VIEWER)
    before = tenant_state(database, tenant.id)
    row = new_customer()
    with pytest.raises(Forbidden, match=r"^Your role \(viewer\) does not allow you to import"):
        import_file(
            database,
            signed_in,
            io.BytesIO(f"name,email\n{row['name']},{row['email']}\n".encode()),
            filename="after.csv",
        )
    assert tenant_state(database, tenant.id) == before


def test_the_same_session_writes_again_once_promoted_back(database, tenant, identity_of, set_role):
    """The check reads the role each time: it is not a one-way latch."""
    signed_in = identity_of(tenant.editor)
    set_role(tenant.editor, Role.VIEWER)
    with pytest.raises(Forbidden), database.scope(signed_in, write=True) as scope:
        scope.customers.create(new_customer())
    set_role(tenant.editor, Role.EDITOR)
    with database.scope(signed_in, write=True) as scope:
        made = scope.customers.create(new_customer())
    with database.scope(signed_in) as scope:
        assert scope.customers.get(made.id).name == made.name


USER_CHANGES: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda scope, tenant: scope.users.add(f"new-{uuid.uuid4().hex[:8]}", Role.ADMIN),
    "change-role": lambda scope, tenant: scope.users.change_role(tenant.viewer.id, Role.ADMIN),
    "reset-password": lambda scope, tenant: scope.users.reset_password(tenant.viewer.id),
    "remove": lambda scope, tenant: scope.users.remove(tenant.viewer.id),
    "list-others-sessions": lambda scope, tenant: scope.credentials.list(tenant.viewer.id),
    "end-others-sessions": lambda scope, tenant: scope.credentials.revoke_all(tenant.viewer.id),
}


@pytest.mark.parametrize("change", list(USER_CHANGES))
def test_an_admin_demoted_behind_the_apps_back_manages_no_user(
    database, tenant, identity_of, set_role, owner_sql, change
):
    signed_in = identity_of(tenant.admin)
    viewer_session = identity_of(tenant.viewer)
    set_role(tenant.admin, Role.EDITOR)

    def users() -> list[tuple[Any, ...]]:
        with database.scope(signed_in) as scope:
            return [
                (u.id, u.username, u.role, u.credentials_changed_at) for u in scope.users.list()
            ]

    before = users()
    refused = r"^Your role \(editor\) does not allow you to manage"
    with database.scope(signed_in, write=True) as scope, pytest.raises(Forbidden, match=refused):
        USER_CHANGES[change](scope, tenant)
    assert users() == before
    with database.scope(viewer_session) as scope:  # the viewer's session was not ended
        assert scope.actor.role == Role.VIEWER


def test_a_user_deleted_behind_the_apps_back_is_nobody(database, tenant, identity_of, owner_sql):
    signed_in = identity_of(tenant.editor)
    with owner_sql(tenant.id) as conn:
        conn.execute(delete(User).where(User.tenant_id == tenant.id, User.id == tenant.editor.id))
    before = tenant_state(database, tenant.id)
    with pytest.raises(Unauthenticated) as caught, database.scope(signed_in, write=True) as scope:
        scope.customers.create(new_customer())
    assert str(caught.value) == ACCOUNT_GONE
    assert tenant_state(database, tenant.id) == before
