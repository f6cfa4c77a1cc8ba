"""Every page × every role, through the real dashboard entry (AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import PROJECT, alerts, button, texts, titles

PAGES = ["customers", "overview", "duplicates", "import_csv", "history", "users", "account"]


def test_signed_out_only_the_sign_in_page_exists_and_no_customer_data(
    dashboard, tenant, add_customers
):
    created = add_customers(tenant, 3)
    app = dashboard()
    shown = texts(app)
    assert "Sign in" in shown
    assert [t.label for t in app.text_input] == ["Username", "Password"]
    for customer in created:
        assert customer.name not in shown
        assert customer.email not in shown
    assert not app.dataframe


@pytest.mark.parametrize("page", PAGES)
def test_a_page_opened_directly_without_a_session_shows_nothing(
    database, tenant, add_customers, page
):
    created = add_customers(tenant, 2)
    app = AppTest.from_file(str(PROJECT / "pages" / f"{page}.py"), default_timeout=30).run()
    assert not app.exception
    assert not app.title
    assert not app.dataframe
    assert not app.button
    assert not app.text_input
    shown = texts(app)
    for customer in created:
        assert customer.email not in shown


def test_the_right_password_signs_in_and_shows_only_the_own_tenants_customers(
    dashboard, tenant, other_tenant, add_customers
):
    mine = add_customers(tenant, 3)
    theirs = add_customers(other_tenant, 3)
    app = dashboard()
    app.text_input[0].input(tenant.admin.username)
    app.text_input[1].input(tenant.passwords[tenant.admin.username])
    button(app, "Sign in").click().run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Customers"]
    grid = app.dataframe[0].value
    assert sorted(grid["Email"]) == sorted(c.email for c in mine)
    for customer in theirs:
        assert customer.email not in texts(app)


def test_a_wrong_password_shows_one_sentence_and_stays_signed_out(dashboard, tenant):
    app = dashboard()
    app.text_input[0].input(tenant.editor.username)
    app.text_input[1].input("not-the-password")
    button(app, "Sign in").click().run()
    assert alerts(app, "error") == ["Wrong username or password."]
    assert "Customers" not in titles(app)


def test_repeated_failures_are_throttled_with_a_wait_time(dashboard, tenant):
    app = dashboard()
    for _ in range(5):
        app.text_input[0].input(tenant.viewer.username)
        app.text_input[1].input("still-not-the-password")
        button(app, "Sign in").click().run()
    [message] = alerts(app, "error")
    assert message.startswith("Too many failed sign-in attempts; try again in ")
    # Even the right password is refused from this client while the lock lasts.
    app.text_input[1].input(tenant.passwords[tenant.viewer.username])
    button(app, "Sign in").click().run()
    [message] = alerts(app, "error")
    assert message.startswith("Too many failed sign-in attempts")
    assert "Customers" not in titles(app)


ROLE_PAGES = {
    # page: roles that may open it
    "customers": {"admin", "editor", "viewer"},
    "overview": {"admin", "editor", "viewer"},
    "duplicates": {"admin", "editor", "viewer"},
    "history": {"admin", "editor", "viewer"},
    "account": {"admin", "editor", "viewer"},
    "import_csv": {"admin", "editor"},
    "users": {"admin"},
}


NEEDED = {"import_csv": "editor", "users": "admin"}


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_each_role_gets_its_pages_and_a_refusal_for_the_others(dashboard, tenant, role):
    user = getattr(tenant, role)
    app = dashboard(user)
    assert not app.exception
    for page, roles in ROLE_PAGES.items():
        app.switch_page(f"pages/{page}.py").run()
        assert not app.exception, page
        if role in roles:
            assert not alerts(app, "error"), (page, alerts(app, "error"))
            assert titles(app), page
        else:  # out of the menu; by its URL, one sentence and nothing else
            assert alerts(app, "error") == [
                f"This page needs the {NEEDED[page]} role; you are signed in as {role}."
            ]
            assert not titles(app)
            assert not app.dataframe
            assert not app.button or [b.label for b in app.button] == ["Sign out"]


@pytest.mark.parametrize(
    ("page", "role", "needed"),
    [
        ("users", "editor", "admin"),
        ("users", "viewer", "admin"),
        ("import_csv", "viewer", "editor"),
    ],
)
def test_a_page_refuses_a_role_below_it_even_by_direct_url(
    database, tenant, identity_of, add_customers, page, role, needed
):
    from ui.auth import IDENTITY

    created = add_customers(tenant, 2)
    app = AppTest.from_file(str(PROJECT / "pages" / f"{page}.py"), default_timeout=30)
    app.session_state[IDENTITY.name] = identity_of(getattr(tenant, role))  # a signed-in browser
    app.run()
    assert not app.exception
    assert alerts(app, "error") == [
        f"This page needs the {needed} role; you are signed in as {role}."
    ]
    assert not app.title
    assert not app.dataframe
    assert not app.button
    assert not app.file_uploader
    shown = texts(app)
    for user in (tenant.admin, tenant.editor, tenant.viewer):
        assert user.username not in shown
    for customer in created:
        assert customer.email not in shown


def test_a_viewer_sees_the_customers_read_only(dashboard, tenant, add_customers):
    add_customers(tenant, 2)
    app = dashboard(tenant.viewer)
    assert [f.editing_mode for f in app.dataframe] == ["read_only"]
    labels = {b.label for b in app.button}
    assert not labels & {"Add Customer", "Edit", "Delete", "Save changes", "Discard"}


@pytest.mark.parametrize("role", ["admin", "editor"])
def test_editors_get_the_editable_grid_and_the_add_button(dashboard, tenant, add_customers, role):
    add_customers(tenant, 2)
    app = dashboard(getattr(tenant, role))
    assert [f.editing_mode for f in app.dataframe] == ["add"]
    assert "Add Customer" in {b.label for b in app.button}


def test_an_empty_tenant_gets_a_hint_to_add_or_import(dashboard, tenant):
    app = dashboard(tenant.editor)
    assert any("No customers yet" in i.value for i in app.info)


def test_overview_counts_the_tenants_customers_and_gaps(
    dashboard, tenant, other_tenant, customers_of
):
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": "Ann Lee", "email": "ann@example.com", "phone": "1"})
        repository.create({"name": "ann lee ", "email": "ann2@example.com"})
        repository.create({"name": "Bo", "email": "bo@example.com", "address": "Main St 1"})
    with customers_of(other_tenant, write=True) as repository:
        repository.create({"name": "Other", "email": "other@example.com"})
    app = dashboard(tenant.viewer, page="overview")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Customers"] == "3"
    assert metrics["Added this month"] == "3"
    assert metrics["Missing phone or address"] == "3"
    # "Ann Lee" and "ann lee " at one company domain: one suspected pair, linked.
    assert metrics["Suspected duplicate pairs"] == "1"
    assert [link.proto.page for link in app.get("page_link")] == ["duplicates"]


def history_rows(app):  # type: ignore[no-untyped-def]
    """The History table as (Action, About, By) rows, newest first."""
    table = app.dataframe[0].value
    assert list(table.columns) == ["When", "Action", "About", "By"]
    return list(zip(table["Action"], table["About"], table["By"], strict=True))


def choose_event(app, row: int):  # type: ignore[no-untyped-def]
    """Click a row of the History table (its selection, as the browser reports it)."""
    table = app.dataframe[0]
    app.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return app.run()


def test_history_lists_the_tenants_events_and_restores_a_deleted_customer(
    dashboard, tenant, other_tenant, customers_of
):
    with customers_of(tenant, write=True) as repository:
        kept = repository.create({"name": "Kept Person", "email": "kept@example.com"})
        gone = repository.create({"name": "Gone Person", "email": "gone@example.com"})
        repository.delete(gone.id)
    with customers_of(other_tenant, write=True) as repository:
        repository.create({"name": "Stranger", "email": "stranger@example.com"})
    app = dashboard(tenant.editor, page="history")
    editor = tenant.editor.username
    assert history_rows(app) == [
        ("Deleted", "Gone Person", editor),
        ("Added", "Gone Person", editor),
        ("Added", "Kept Person", editor),
    ]
    assert "Stranger" not in texts(app)
    assert not [b for b in app.button if b.label == "Restore"]  # nothing chosen yet

    choose_event(app, 0)
    assert any(
        str(t.value).endswith(f" · Deleted · Gone Person · by {editor}") for t in app.text
    ), [t.value for t in app.text]
    detail = app.dataframe[1].value
    assert dict(zip(detail["Field"], detail["Before"], strict=True))["Name"] == "Gone Person"
    assert set(detail["After"]) == {"—"}
    button(app, "Restore").click().run()
    assert not app.exception
    assert [t.value for t in app.toast] == ["The customer was restored."]
    with customers_of(tenant) as repository:
        restored = repository.get(gone.id)
    assert restored.email == "gone@example.com"
    assert kept.id != restored.id
    assert history_rows(app)[0] == ("Restored", "Gone Person", editor)
    # The choice is cleared: the rows moved under it.
    assert not [b for b in app.button if b.label == "Restore"]
    assert len(app.dataframe) == 1


def test_history_detail_of_a_change_shows_only_what_changed(dashboard, tenant, customers_of):
    with customers_of(tenant, write=True) as repository:
        ann = repository.create({"name": "Ann Lee", "email": "ann@example.com"})
        repository.update(ann.id, {"name": "Ann Lee", "email": "ann@example.com", "phone": "7"})
    app = dashboard(tenant.viewer, page="history")
    assert [row[:2] for row in history_rows(app)] == [("Changed", "Ann Lee"), ("Added", "Ann Lee")]
    choose_event(app, 0)
    detail = app.dataframe[1].value
    assert detail.to_dict("records") == [{"Field": "Phone", "Before": "—", "After": "7"}]
    assert not [b for b in app.button if b.label == "Restore"]


def test_history_filters_by_customer_text(dashboard, tenant, customers_of):
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": "Müller Findme", "email": "mf@example.com"})
        repository.create({"name": "Someone Else", "email": "se@example.com"})
    app = dashboard(tenant.viewer, page="history")
    assert len(history_rows(app)) == 2
    app.text_input[0].input("müller").run()
    assert [row[:2] for row in history_rows(app)] == [("Added", "Müller Findme")]


def test_history_pages_through_more_events_than_fit(dashboard, tenant, add_customers):
    add_customers(tenant, 55)  # 55 "Added" events
    app = dashboard(tenant.viewer, page="history")
    assert len(history_rows(app)) == 50
    assert "Events 1–50 of 55" in texts(app)
    assert button(app, "Newer").disabled
    button(app, "Older").click().run()
    assert len(history_rows(app)) == 5
    assert "Events 51–55 of 55" in texts(app)
    assert button(app, "Older").disabled
    button(app, "Newer").click().run()
    assert len(history_rows(app)) == 50


@pytest.mark.parametrize("page", PAGES)
def test_every_page_checks_the_session_and_role_on_its_first_line(page):
    """SPEC §4: the first statement after the imports is ``... = auth.require(Permission.X)``."""
    import ast

    tree = ast.parse((PROJECT / "pages" / f"{page}.py").read_text())
    body = [
        node
        for node in tree.body
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    first = body[0]
    assert isinstance(first, ast.Assign), ast.dump(first)
    call = first.value
    assert isinstance(call, ast.Call)
    assert ast.unparse(call.func) == "auth.require"
    assert len(call.args) == 1
    assert ast.unparse(call.args[0]).startswith("Permission.")
