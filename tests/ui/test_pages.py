"""Every page × every role, through the real dashboard entry (AppTest)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import PROJECT, button, texts

PAGES = ["customers", "overview", "history", "users", "account"]


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
    assert [e.value for e in app.error] == ["Wrong username or password."]
    assert "Customers" not in [t.value for t in app.title]


def test_repeated_failures_are_throttled_with_a_wait_time(dashboard, tenant):
    app = dashboard()
    for _ in range(5):
        app.text_input[0].input(tenant.viewer.username)
        app.text_input[1].input("still-not-the-password")
        button(app, "Sign in").click().run()
    message = app.error[0].value
    assert message.startswith("Too many failed sign-in attempts; try again in ")
    # Even the right password is refused while the lock lasts.
    app.text_input[1].input(tenant.passwords[tenant.viewer.username])
    button(app, "Sign in").click().run()
    assert app.error[0].value.startswith("Too many failed sign-in attempts")
    assert "Customers" not in [t.value for t in app.title]


ROLE_PAGES = {
    # page: roles that may open it
    "customers": {"admin", "editor", "viewer"},
    "overview": {"admin", "editor", "viewer"},
    "history": {"admin", "editor", "viewer"},
    "account": {"admin", "editor", "viewer"},
    "users": {"admin"},
}


@pytest.mark.parametrize("role", ["admin", "editor", "viewer"])
def test_the_navigation_offers_each_role_its_pages(dashboard, tenant, role):
    user = getattr(tenant, role)
    app = dashboard(user)
    assert not app.exception
    for page, roles in ROLE_PAGES.items():
        if role in roles:
            app.switch_page(f"pages/{page}.py").run()
            assert not app.exception, page
            assert not app.error or page == "customers", (page, [e.value for e in app.error])


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_the_users_page_refuses_non_admins_even_by_direct_url(database, tenant, role):
    from ui.auth import remember_for_run  # noqa: F401  (the guard reads what the entry stored)

    user = getattr(tenant, role)
    app = AppTest.from_file(str(PROJECT / "pages" / "users.py"), default_timeout=30)
    app.session_state["_auth_user_this_run"] = user
    app.run()
    assert [e.value for e in app.error] == [
        f"This page needs the admin role; you are signed in as {role}."
    ]
    assert not app.dataframe


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
    duplicates = app.dataframe[0].value
    assert list(duplicates["Customers"]) == [2]


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
    labels = [e.label for e in app.expander]
    assert any("Deleted · Gone Person" in label for label in labels)
    assert any("Added · Kept Person" in label for label in labels)
    assert not any("Stranger" in label for label in labels)
    button(app, "Restore").click().run()
    assert not app.exception
    with customers_of(tenant) as repository:
        restored = repository.get(gone.id)
    assert restored.email == "gone@example.com"
    assert kept.id != restored.id


def test_history_filters_by_customer_text(dashboard, tenant, customers_of):
    with customers_of(tenant, write=True) as repository:
        repository.create({"name": "Müller Findme", "email": "mf@example.com"})
        repository.create({"name": "Someone Else", "email": "se@example.com"})
    app = dashboard(tenant.viewer, page="history")
    app.text_input[0].input("müller").run()
    labels = [e.label for e in app.expander]
    assert len(labels) == 1
    assert "Müller Findme" in labels[0]
