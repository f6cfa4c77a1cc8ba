"""Users (admin), Account, and sign-out, through the dashboard."""

from __future__ import annotations

import pytest

from tests.ui.conftest import button, texts


def authenticates(database, username: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    from data.users import Unauthenticated, authenticate

    try:
        authenticate(database, username, password, client=None)
    except Unauthenticated:
        return False
    return True


def role_of(database, tenant, username: str) -> str | None:  # type: ignore[no-untyped-def]
    from data.users import UserDirectory

    with database.transaction(tenant.id) as session:
        users = {u.username: u.role.value for u in UserDirectory(session, tenant.id).list()}
    return users.get(username)


def test_users_page_lists_only_the_own_tenants_users(dashboard, tenant, other_tenant):
    app = dashboard(tenant.admin, page="users")
    listed = set(app.dataframe[0].value["Username"])
    assert listed == {tenant.admin.username, tenant.editor.username, tenant.viewer.username}
    assert other_tenant.admin.username not in texts(app)


def test_an_admin_adds_a_user_whose_generated_password_is_shown_once(dashboard, database, tenant):
    app = dashboard(tenant.admin, page="users")
    form = {t.label: t for t in app.text_input}
    form["Username *"].input("new.person")
    button(app, "Add user").click().run()
    assert not app.exception
    password = app.code[0].value
    assert role_of(database, tenant, "new.person") == "editor"
    assert authenticates(database, "new.person", password)
    app.run()  # shown once: gone on the next run
    assert not app.code


def test_changing_a_role_takes_effect(dashboard, database, tenant):
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.editor.username).run()
    app.selectbox(key=f"role:{tenant.editor.id}").set_value("viewer").run()
    button(app, "Change role").click().run()
    assert role_of(database, tenant, tenant.editor.username) == "viewer"


def test_the_last_admin_cannot_be_demoted(dashboard, database, tenant):
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.admin.username).run()
    app.selectbox(key=f"role:{tenant.admin.id}").set_value("editor").run()
    button(app, "Change role").click().run()
    assert [e.value for e in app.error] == ["The last admin of a tenant cannot be demoted."]
    assert role_of(database, tenant, tenant.admin.username) == "admin"


def test_reset_password_replaces_the_old_one(dashboard, database, tenant):
    old = tenant.passwords[tenant.viewer.username]
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.viewer.username).run()
    button(app, "Reset password").click().run()
    new = app.code[0].value
    assert not authenticates(database, tenant.viewer.username, old)
    assert authenticates(database, tenant.viewer.username, new)


def test_removing_a_user_needs_a_tick_and_ends_their_session(dashboard, database, tenant):
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.editor.username).run()
    assert button(app, "Remove user").disabled
    app.checkbox(key=f"sure:{tenant.editor.id}").check().run()
    button(app, "Remove user").click().run()
    assert role_of(database, tenant, tenant.editor.username) is None
    # The removed editor's open session is refused on its next click.
    removed = dashboard(tenant.editor)
    assert "Customers" not in [t.value for t in removed.title]
    assert any("no longer exists" in i.value for i in removed.info)


def test_an_admin_cannot_remove_themselves(dashboard, database, tenant):
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.admin.username).run()
    app.checkbox(key=f"sure:{tenant.admin.id}").check().run()
    button(app, "Remove user").click().run()
    assert [e.value for e in app.error] == ["You cannot remove your own account."]


def test_account_refuses_a_wrong_current_password(dashboard, database, tenant):
    app = dashboard(tenant.editor, page="account")
    fields = {t.label: t for t in app.text_input}
    fields["Current password"].input("wrong-wrong-wrong")
    fields["New password"].input("a brand new password")
    fields["New password again"].input("a brand new password")
    button(app, "Change password").click().run()
    assert [e.value for e in app.error] == ["The current password is not right."]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short", "Password must be at least 10 characters long."),
        ("ü" * 40, "Password must be at most 72 bytes"),
    ],
    ids=["too-short", "too-many-bytes"],
)
def test_account_explains_a_password_that_breaks_the_rules(dashboard, tenant, new, message):
    app = dashboard(tenant.editor, page="account")
    fields = {t.label: t for t in app.text_input}
    fields["Current password"].input(tenant.passwords[tenant.editor.username])
    fields["New password"].input(new)
    fields["New password again"].input(new)
    button(app, "Change password").click().run()
    assert app.error[0].value.startswith(message)


def test_changing_the_own_password_keeps_this_session_and_retires_the_old_one(
    dashboard, database, tenant
):
    old = tenant.passwords[tenant.editor.username]
    app = dashboard(tenant.editor, page="account")
    fields = {t.label: t for t in app.text_input}
    fields["Current password"].input(old)
    fields["New password"].input("correct horse battery")
    fields["New password again"].input("correct horse battery")
    button(app, "Change password").click().run()
    assert app.success
    assert not authenticates(database, tenant.editor.username, old)
    assert authenticates(database, tenant.editor.username, "correct horse battery")
    app.switch_page("pages/customers.py").run()
    assert [t.value for t in app.title] == ["Customers"]  # still signed in here


def _whoami() -> None:
    import streamlit as st

    from ui import auth

    user = auth.resolve_user()
    st.text(f"user={user.username if user else None}")


def test_a_sign_out_request_ends_the_session_and_drops_the_cookie(database, tenant):
    """What the sidebar's Sign out button asks for (the browser test clicks it for real)."""
    import time

    from streamlit.testing.v1 import AppTest

    from ui.auth import DROP_COOKIE, SESSION, SIGN_OUT_REQUESTED, SIGNED_OUT, SignedIn

    app = AppTest.from_function(_whoami, default_timeout=30)
    app.session_state[SESSION] = SignedIn(tenant.viewer.id, time.time())
    app.run()
    assert app.text[0].value == f"user={tenant.viewer.username}"
    app.session_state[SIGN_OUT_REQUESTED] = True
    app.run()
    assert app.text[0].value == "user=None"
    assert SESSION not in app.session_state
    assert app.session_state[SIGNED_OUT] is True
    # The cookie component is asked to delete the cookie until the browser confirms.
    assert app.session_state[DROP_COOKIE] is True


def test_account_creates_an_api_token_for_the_signed_in_user(dashboard, database, tenant):
    from api.security import authenticate_token

    app = dashboard(tenant.viewer, page="account")
    button(app, "Create an API token").click().run()
    token = app.code[0].value
    principal = authenticate_token(database, token)
    assert principal.user.id == tenant.viewer.id
    assert principal.tenant_id == tenant.id
    assert principal.role.value == "viewer"
    app.run()
    assert not app.code  # shown once
