"""A button clicked after the user lost the right to write writes nothing (SPEC §9).

Streamlit runs a button's callback before the page script, so a callback that trusted
the user of the previous run would act for a user demoted or removed in between.  Each
case here draws the page for an editor, changes that editor behind the application's
back (as the tables' owner: the role only, no session ended, so what is proved is the
re-check inside the write's own transaction), clicks, and checks the database, the audit
log and the one sentence the user gets.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import alerts, button, titles

DEMOTED = "Your role (viewer) does not allow you to change customers."
GONE = "Your account no longer exists; please contact your admin."


def demote(owner_sql: Any, tenant: Any, user: Any) -> None:
    with owner_sql(tenant.id) as conn:
        conn.execute(text("UPDATE users SET role = 'viewer' WHERE id = :id"), {"id": user.id})


def remove(owner_sql: Any, tenant: Any, user: Any) -> None:
    with owner_sql(tenant.id) as conn:
        conn.execute(text("DELETE FROM users WHERE id = :id"), {"id": user.id})


CHANGES: dict[str, Callable[[Any, Any, Any], None]] = {"demoted": demote, "removed": remove}


def events_by(owner_sql: Any, tenant: Any, username: str) -> int:
    with owner_sql(tenant.id) as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM audit_events WHERE tenant_id = :t AND actor = :a"),
                {"t": tenant.id, "a": username},
            ).scalar_one()
        )


def told(app: AppTest, change: str) -> None:
    """The one sentence: a refusal on the page, or Sign in saying the account is gone."""
    if change == "demoted":
        assert alerts(app, "error") == [DEMOTED]
        assert not app.toast
    else:
        assert "Customers" not in titles(app)
        assert alerts(app, "info") == [GONE]
        assert [t.label for t in app.text_input] == ["Username", "Password"]
        assert not alerts(app, "error")


def choose_event(app: AppTest, row: int) -> AppTest:
    table = app.dataframe[0]
    app.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return app.run()


@pytest.mark.parametrize("change", list(CHANGES))
def test_save_customer_after_losing_the_right_writes_nothing(
    dashboard: Any, tenant: Any, owner_sql: Any, customers_of: Any, change: str
) -> None:
    app = dashboard(tenant.editor)
    button(app, "Add Customer").click().run()
    fields = {t.label: t for t in app.text_input}
    fields["Customer Name *"].input("Late Writer")
    fields["Email *"].input("late@example.com")
    before = events_by(owner_sql, tenant, tenant.editor.username)
    CHANGES[change](owner_sql, tenant, tenant.editor)
    button(app, "Save Customer").click().run()
    assert not app.exception
    with customers_of(tenant, tenant.admin) as repository:
        assert repository.find_by_email("late@example.com") is None
    assert events_by(owner_sql, tenant, tenant.editor.username) == before
    told(app, change)
    assert "Customer Name *" not in [t.label for t in app.text_input]  # the dialog closed


@pytest.mark.parametrize("change", list(CHANGES))
def test_restore_after_losing_the_right_restores_nothing(
    dashboard: Any, tenant: Any, owner_sql: Any, customers_of: Any, change: str
) -> None:
    with customers_of(tenant, tenant.admin, write=True) as repository:
        gone = repository.create({"name": "Gone Person", "email": "gone@example.com"})
        repository.delete(gone.id)
    app = choose_event(dashboard(tenant.editor, page="history"), 0)
    restore = button(app, "Restore")
    before = events_by(owner_sql, tenant, tenant.editor.username)
    CHANGES[change](owner_sql, tenant, tenant.editor)
    restore.click().run()
    assert not app.exception
    with customers_of(tenant, tenant.admin) as repository:
        assert repository.find(gone.id) is None
    assert events_by(owner_sql, tenant, tenant.editor.username) == before == 0
    told(app, change)
    assert not [b for b in app.button if b.label == "Restore"]


@pytest.mark.parametrize("change", list(CHANGES))
def test_undo_import_after_losing_the_right_undoes_nothing(
    dashboard: Any,
    database: Any,
    identity_of: Any,
    tenant: Any,
    owner_sql: Any,
    customers_of: Any,
    change: str,
) -> None:
    from data.importing import import_file

    summary = import_file(
        database,
        identity_of(tenant.admin),
        io.BytesIO(b"name,email\nAnn,ann@example.com\nBo,bo@example.com\n"),
        filename="two.csv",
    )
    assert summary.created == 2
    app = choose_event(dashboard(tenant.editor, page="history"), 0)
    undo = button(app, "Undo this import")
    CHANGES[change](owner_sql, tenant, tenant.editor)
    undo.click().run()
    assert not app.exception
    with customers_of(tenant, tenant.admin) as repository:
        assert {c.email for c in repository.iter_all()} == {"ann@example.com", "bo@example.com"}
    assert events_by(owner_sql, tenant, tenant.editor.username) == 0
    if change == "demoted":
        assert alerts(app, "error") == [
            "Your role (viewer) does not allow you to import customers."
        ]
        assert not app.toast
    else:
        told(app, change)
