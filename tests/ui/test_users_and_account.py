"""Users (admin), Account (password, sessions, API tokens), and sign-out, through the
dashboard.  Every browser here holds a real session row (``identity_of``): what ends a
session on the server is seen by that browser's next run."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.ui.conftest import alerts, button, texts, titles

ENDED = "Your session has ended; please sign in again."
GONE = "Your account no longer exists; please contact your admin."


def authenticates(database, username: str, password: str) -> bool:  # type: ignore[no-untyped-def]
    from data.errors import Unauthenticated
    from data.signin import authenticate

    try:
        authenticate(database, username, password, client="192.0.2.1")
    except Unauthenticated:
        return False
    return True


def role_of(owner_sql, tenant, username: str) -> str | None:  # type: ignore[no-untyped-def]
    with owner_sql(tenant.id) as conn:
        found = conn.execute(
            text("SELECT role FROM users WHERE tenant_id = :t AND username = :u"),
            {"t": tenant.id, "u": username},
        ).scalar()
    return str(found) if found is not None else None


def stands(database, identity) -> bool:  # type: ignore[no-untyped-def]
    """Does the session or token behind ``identity`` still vouch for its user?"""
    from data.errors import Unauthenticated

    try:
        with database.scope(identity):
            return True
    except Unauthenticated:
        return False


def signed_out_with(app, notice: str) -> bool:  # type: ignore[no-untyped-def]
    return "Customers" not in titles(app) and alerts(app, "info") == [notice]


def test_users_page_lists_only_the_own_tenants_users(dashboard, tenant, other_tenant):
    app = dashboard(tenant.admin, page="users")
    listed = set(app.dataframe[0].value["Username"])
    assert listed == {tenant.admin.username, tenant.editor.username, tenant.viewer.username}
    assert other_tenant.admin.username not in texts(app)


def test_an_admin_adds_a_user_whose_generated_password_is_shown_once(
    dashboard, database, owner_sql, tenant
):
    app = dashboard(tenant.admin, page="users")
    form = {t.label: t for t in app.text_input}
    form["Username *"].input("new.person")
    button(app, "Add user").click().run()
    assert not app.exception
    password = app.code[0].value
    assert "User: new.person" in [t.value for t in app.text]
    assert [t.value for t in app.toast] == ["The user was added."]
    assert role_of(owner_sql, tenant, "new.person") == "editor"
    assert authenticates(database, "new.person", password)
    app.run()  # shown once: gone on the next run
    assert not app.code


def test_changing_a_role_takes_effect_and_ends_their_sessions(
    dashboard, database, owner_sql, identity_of, tenant
):
    editors_browser = identity_of(tenant.editor)
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.editor.username).run()
    app.selectbox(key=f"role:{tenant.editor.id}").set_value("viewer").run()
    button(app, "Change role").click().run()
    assert role_of(owner_sql, tenant, tenant.editor.username) == "viewer"
    assert [t.value for t in app.toast] == ["The role was changed; their sessions ended."]
    assert not stands(database, editors_browser)
    assert signed_out_with(dashboard(editors_browser), ENDED)


def test_the_last_admin_cannot_be_demoted(dashboard, owner_sql, tenant):
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.admin.username).run()
    app.selectbox(key=f"role:{tenant.admin.id}").set_value("editor").run()
    button(app, "Change role").click().run()
    assert alerts(app, "error") == ["The last admin of a tenant cannot be demoted."]
    assert role_of(owner_sql, tenant, tenant.admin.username) == "admin"


def test_reset_password_replaces_the_old_one_and_ends_their_sessions(
    dashboard, database, identity_of, tenant
):
    old = tenant.passwords[tenant.viewer.username]
    viewers_browser = identity_of(tenant.viewer)
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.viewer.username).run()
    button(app, "Reset password").click().run()
    new = app.code[0].value
    assert not authenticates(database, tenant.viewer.username, old)
    assert authenticates(database, tenant.viewer.username, new)
    assert signed_out_with(dashboard(viewers_browser), ENDED)


def test_removing_a_user_needs_a_tick_and_ends_their_session(
    dashboard, owner_sql, identity_of, tenant
):
    editors_browser = identity_of(tenant.editor)
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.editor.username).run()
    assert button(app, "Remove user").disabled
    app.checkbox(key=f"sure:{tenant.editor.id}").check().run()
    button(app, "Remove user").click().run()
    assert role_of(owner_sql, tenant, tenant.editor.username) is None
    # The removed editor's open browser is signed out on its next run.
    assert signed_out_with(dashboard(editors_browser), GONE)


def test_an_admin_cannot_remove_themselves(dashboard, owner_sql, tenant):
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.admin.username).run()
    app.checkbox(key=f"sure:{tenant.admin.id}").check().run()
    button(app, "Remove user").click().run()
    assert alerts(app, "error") == ["You cannot remove your own account."]
    assert role_of(owner_sql, tenant, tenant.admin.username) == "admin"


def test_an_admin_demoted_meanwhile_changes_no_role(dashboard, owner_sql, tenant, make_tenant):
    """The Users page was drawn for an admin; by the click they are an editor."""
    app = dashboard(tenant.admin, page="users")
    app.selectbox(key="users_selected").set_value(tenant.viewer.username).run()
    app.selectbox(key=f"role:{tenant.viewer.id}").set_value("admin").run()
    with owner_sql(tenant.id) as conn:  # a second admin, then the first one demoted
        conn.execute(
            text("UPDATE users SET role = 'admin' WHERE id = :id"), {"id": tenant.editor.id}
        )
        conn.execute(
            text("UPDATE users SET role = 'editor' WHERE id = :id"), {"id": tenant.admin.id}
        )
    button(app, "Change role").click().run()
    assert role_of(owner_sql, tenant, tenant.viewer.username) == "viewer"
    assert alerts(app, "error") == ["This page needs the admin role; you are signed in as editor."]
    assert not app.dataframe
    assert [b.label for b in app.button] == ["Sign out"]


def test_account_refuses_a_wrong_current_password(dashboard, database, tenant):
    app = dashboard(tenant.editor, page="account")
    fields = {t.label: t for t in app.text_input}
    fields["Current password"].input("wrong-wrong-wrong")
    fields["New password"].input("a brand new password")
    fields["New password again"].input("a brand new password")
    button(app, "Change password").click().run()
    assert alerts(app, "error") == ["The current password is not right."]
    assert authenticates(database, tenant.editor.username, tenant.passwords[tenant.editor.username])


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
    [error] = alerts(app, "error")
    assert error.startswith(message)


def test_changing_the_own_password_keeps_this_session_and_ends_the_others(
    dashboard, database, identity_of, tenant
):
    old = tenant.passwords[tenant.editor.username]
    elsewhere = identity_of(tenant.editor)
    here = identity_of(tenant.editor)
    app = dashboard(here, page="account")
    fields = {t.label: t for t in app.text_input}
    fields["Current password"].input(old)
    fields["New password"].input("correct horse battery")
    fields["New password again"].input("correct horse battery")
    button(app, "Change password").click().run()
    assert [t.value for t in app.toast] == [
        "Your password was changed. 1 other session(s) and token(s) ended."
    ]
    assert not authenticates(database, tenant.editor.username, old)
    assert authenticates(database, tenant.editor.username, "correct horse battery")
    assert stands(database, here)
    assert not stands(database, elsewhere)
    app.switch_page("pages/customers.py").run()
    assert titles(app) == ["Customers"]  # still signed in here


def sessions_table(app):  # type: ignore[no-untyped-def]
    [frame] = [f.value for f in app.dataframe if "Kind" in f.value.columns]
    return frame


def test_account_lists_the_own_sessions_and_tokens_only(dashboard, database, identity_of, tenant):
    identity_of(tenant.editor)  # another browser of the same user
    identity_of(tenant.viewer)  # someone else's
    app = dashboard(tenant.editor, page="account")
    listed = sessions_table(app)
    assert sorted(listed["Kind"]) == ["Browser session", "Browser session (this one)"]
    button(app, "Create an API token").click().run()
    assert sorted(sessions_table(app)["Kind"]) == [
        "API token",
        "Browser session",
        "Browser session (this one)",
    ]


def test_sign_out_everywhere_else_ends_the_other_sessions_and_tokens(
    dashboard, database, identity_of, tenant
):
    from data.credentials import decode_token, issue_token

    elsewhere = identity_of(tenant.editor)
    token, _ = issue_token(database, tenant.editor)
    tokens_identity, _ = decode_token(token)
    here = identity_of(tenant.editor)
    app = dashboard(here, page="account")
    assert len(sessions_table(app)) == 3
    button(app, "Sign out everywhere else").click().run()
    assert [t.value for t in app.toast] == ["Ended 2 other session(s) and token(s)."]
    assert list(sessions_table(app)["Kind"]) == ["Browser session (this one)"]
    assert stands(database, here)
    assert not stands(database, elsewhere)
    assert not stands(database, tokens_identity)
    assert signed_out_with(dashboard(elsewhere), ENDED)


def choose_credential(app, kind: str):  # type: ignore[no-untyped-def]
    """Click the row of the sessions table whose Kind is ``kind`` (it must be one)."""
    frame = app.dataframe[0]
    [row] = [i for i, k in enumerate(frame.value["Kind"]) if k == kind]
    app.session_state[frame.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return app.run()


def test_ending_one_session_from_the_list_signs_that_browser_out(
    dashboard, database, identity_of, tenant
):
    elsewhere = identity_of(tenant.editor)
    here = identity_of(tenant.editor)
    app = dashboard(here, page="account")
    assert button(app, "End the chosen one").disabled  # nothing chosen yet
    choose_credential(app, "Browser session")
    button(app, "End the chosen one").click().run()
    assert [t.value for t in app.toast] == ["The browser session was ended."]
    assert not stands(database, elsewhere)
    assert stands(database, here)
    assert list(sessions_table(app)["Kind"]) == ["Browser session (this one)"]
    assert button(app, "End the chosen one").disabled  # the choice went with the row
    assert signed_out_with(dashboard(elsewhere), ENDED)


def test_ending_this_browsers_own_session_signs_out(dashboard, database, identity_of, tenant):
    here = identity_of(tenant.editor)
    app = dashboard(here, page="account")
    choose_credential(app, "Browser session (this one)")
    button(app, "End the chosen one").click().run()
    assert not stands(database, here)
    assert [t.label for t in app.text_input] == ["Username", "Password"]
    assert "Account" not in titles(app)


def _whoami() -> None:
    import streamlit as st

    from ui import auth

    signed_in = auth.resolve()
    st.text(f"user={signed_in.actor.username if signed_in else None}")


def test_a_sign_out_request_ends_the_session_on_the_server_and_drops_the_cookie(
    database, identity_of, tenant
):
    """What the sidebar's Sign out button asks for (the browser test clicks it for real)."""
    from streamlit.testing.v1 import AppTest

    from ui.auth import DROP_COOKIE, IDENTITY, SIGN_OUT_REQUESTED, SIGNED_OUT

    identity = identity_of(tenant.viewer)
    app = AppTest.from_function(_whoami, default_timeout=30)
    app.session_state[IDENTITY.name] = identity
    app.run()
    assert app.text[0].value == f"user={tenant.viewer.username}"
    app.session_state[SIGN_OUT_REQUESTED.name] = ""
    app.run()
    assert app.text[0].value == "user=None"
    assert IDENTITY.name not in app.session_state
    assert app.session_state[SIGNED_OUT.name] is True
    # The cookie component is asked to delete the cookie until the browser confirms.
    assert app.session_state[DROP_COOKIE.name] is True
    # And the session is over on the server: its cookie, copied, signs in nobody.
    assert not stands(database, identity)


def test_account_creates_an_api_token_for_the_signed_in_user(dashboard, database, tenant):
    from data.credentials import decode_token

    app = dashboard(tenant.viewer, page="account")
    button(app, "Create an API token").click().run()
    token = app.code[0].value
    identity, role = decode_token(token)
    assert (identity.user_id, identity.tenant_id, role.value) == (
        tenant.viewer.id,
        tenant.id,
        "viewer",
    )
    with database.scope(identity) as scope:
        assert scope.actor.username == tenant.viewer.username
    app.run()
    assert not app.code  # shown once
