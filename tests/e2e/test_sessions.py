"""Sessions that end, and writes that re-check the writer's rights (SPEC §9), in Chromium.

Two browsers (two contexts: two cookie jars) of the same tenant.  What one does to a
session, or an admin does to a user, shows in the other browser's very next action:
the sign-in page with one sentence saying why.  A button clicked after its user was
demoted or removed writes nothing: the database and the audit log are checked.

Runs on SQLite and, when ``TEST_DATABASE_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import io
import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from data.sample import customers
from tests.e2e.conftest import (
    BACKENDS,
    Grid,
    Server,
    Shots,
    alert,
    button,
    click,
    go_to,
    main,
    settle,
    sign_in,
    sign_in_page_says,
    toast,
)

ON_BOTH = pytest.mark.parametrize("server", BACKENDS, indirect=True, scope="module")
ENDED = "Your session has ended; please sign in again."
GONE = "Your account no longer exists; please contact your admin."


def new_tenant(server: Server, count: int = 3) -> tuple[str, str]:
    """A tenant of its own with ``count`` customers: (tenant id, username prefix)."""
    name = f"sess-{uuid.uuid4().hex[:8]}"
    tenant = server.tenant(name)
    server.add_customers(tenant, list(customers(count, seed=5)))
    return tenant, name


def next_action(page: Page, title: str = "Overview") -> None:
    """What a user does next: open another page from the sidebar."""
    click(page, page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True))


def events_by(server: Server, tenant: str, username: str) -> int:
    with server.as_owner(tenant) as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM audit_events WHERE tenant_id = :t AND actor = :a"),
                {"t": tenant, "a": username},
            ).scalar_one()
        )


def demote_behind_the_apps_back(server: Server, tenant: str, username: str) -> None:
    """The role changes in the database and nothing else: no session is ended."""
    with server.as_owner(tenant) as conn:
        conn.execute(
            text("UPDATE users SET role = 'viewer' WHERE tenant_id = :t AND username = :u"),
            {"t": tenant, "u": username},
        )


def sessions_table(page: Page) -> Grid:
    grid = Grid(page, 0)
    expect(grid.table.locator("thead th").first).to_have_text("Kind")
    return grid


@ON_BOTH
@pytest.mark.parametrize("how", ["sign-out-everywhere-else", "end-the-chosen-one"])
def test_ending_another_browsers_session_signs_it_out_on_its_next_action(
    page: Page, second_page: Page, server: Server, shot: Shots, how: str
) -> None:
    _tenant, name = new_tenant(server)
    sign_in(page, server, f"{name}-editor")
    sign_in(second_page, server, f"{name}-editor")
    go_to(page, "Account")
    kinds = sessions_table(page)
    kinds.expect_column("Kind", ["Browser session", "Browser session (this one)"])
    shot(page, "two-sessions", full_page=True)

    if how == "sign-out-everywhere-else":
        click(page, button(page, "Sign out everywhere else"))
        toast(page, "Ended 1 other session(s) and token(s).")
    else:
        expect(button(page, "End the chosen one")).to_be_disabled()
        kinds.choose(0)  # the other browser's, the newest first
        click(page, button(page, "End the chosen one"))
        toast(page, "The browser session was ended.")
    sessions_table(page).expect_column("Kind", ["Browser session (this one)"])
    shot(page, "one-session-left", full_page=True)

    next_action(second_page)
    sign_in_page_says(second_page, ENDED)
    shot(second_page, "other-browser-signed-out")
    # This browser goes on.
    next_action(page)
    expect(main(page).get_by_role("heading", name="Overview", exact=True)).to_be_visible()


@ON_BOTH
def test_a_role_change_by_an_admin_signs_the_user_out_everywhere(
    page: Page, second_page: Page, server: Server, shot: Shots
) -> None:
    _tenant, name = new_tenant(server)
    editor = f"{name}-editor"
    sign_in(page, server, editor)
    sign_in(second_page, server, f"{name}-admin")
    go_to(second_page, "Users")
    main(second_page).get_by_role("combobox", name="User", exact=True).click()
    click(second_page, second_page.get_by_role("option", name=editor, exact=True))
    main(second_page).get_by_role("combobox", name="Role", exact=True).click()
    click(second_page, second_page.get_by_role("option", name="viewer", exact=True))
    click(second_page, button(second_page, "Change role"))
    toast(second_page, "The role was changed; their sessions ended.")
    shot(second_page, "role-changed")

    next_action(page)
    sign_in_page_says(page, ENDED)
    shot(page, "editor-signed-out")
    # Signing in again gives the new role.
    sign_in(page, server, editor)
    expect(button(page, "Add Customer")).to_have_count(0)
    expect(
        page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {editor} · viewer")
    ).to_be_visible()


@ON_BOTH
def test_a_user_removed_while_history_is_open_restores_nothing(
    page: Page, second_page: Page, server: Server, shot: Shots
) -> None:
    tenant, name = new_tenant(server)
    editor = f"{name}-editor"
    [gone] = server.add_customers(tenant, [{"name": "Gone Person", "email": "gone@example.com"}])
    with server.customers(tenant, write=True) as repository:
        repository.delete(gone.id)
    sign_in(page, server, editor)
    go_to(page, "History")
    Grid(page).choose(0)
    restore = main(page).get_by_role("button", name="Restore")
    expect(restore).to_be_visible()

    sign_in(second_page, server, f"{name}-admin")  # meanwhile, the admin removes them
    go_to(second_page, "Users")
    main(second_page).get_by_role("combobox", name="User", exact=True).click()
    click(second_page, second_page.get_by_role("option", name=editor, exact=True))
    click(second_page, main(second_page).get_by_text("Yes, remove this user"))
    click(second_page, button(second_page, "Remove user"))
    toast(second_page, "The user was removed.")

    click(page, restore)
    sign_in_page_says(page, GONE)
    expect(alert(page, re.compile("."))).to_have_count(1)  # one sentence, nothing else
    shot(page, "removed-user-clicked-restore")
    assert not [c for c in server.all_customers(tenant) if c.id == gone.id]
    assert events_by(server, tenant, editor) == 0


def _undo_import_setup(server: Server, tenant: str) -> None:
    from data.identity import Identity
    from data.importing import import_file

    summary = import_file(
        server.database(),
        Identity.of_operator(tenant, "e2e-setup"),
        io.BytesIO(b"name,email\nAnn Import,ann.import@example.com\n"),
        filename="two.csv",
    )
    assert summary.created == 1


@ON_BOTH
@pytest.mark.parametrize("action", ["save-customer", "restore", "undo-import"])
def test_an_editor_demoted_meanwhile_writes_nothing_and_is_told_once(
    page: Page, server: Server, shot: Shots, action: str
) -> None:
    tenant, name = new_tenant(server)
    editor = f"{name}-editor"
    before = {c.id: c.version for c in server.all_customers(tenant)}
    if action == "restore":
        [gone] = server.add_customers(tenant, [{"name": "Gone Person", "email": "g@example.com"}])
        with server.customers(tenant, write=True) as repository:
            repository.delete(gone.id)
    if action == "undo-import":
        _undo_import_setup(server, tenant)
    expected = {c.id: c.version for c in server.all_customers(tenant)}
    sign_in(page, server, editor)

    if action == "save-customer":
        click(page, button(page, "Add Customer"))
        form = page.get_by_role("dialog")
        form.get_by_label("Customer Name *").fill("Late Writer")
        form.get_by_label("Email *").fill("late.writer@example.com")
        clicked = form.get_by_role("button", name="Save Customer")
        refusal = "Your role (viewer) does not allow you to change customers."
    else:
        go_to(page, "History")
        Grid(page).choose(0)
        clicked = main(page).get_by_role(
            "button", name="Restore" if action == "restore" else "Undo this import"
        )
        refusal = (
            "Your role (viewer) does not allow you to change customers."
            if action == "restore"
            else "Your role (viewer) does not allow you to import customers."
        )
    expect(clicked).to_be_visible()
    shot(page, "before-the-click")

    demote_behind_the_apps_back(server, tenant, editor)
    click(page, clicked)
    expect(alert(page, refusal)).to_be_visible()
    expect(
        main(page).locator("[data-testid=stAlert], [class*='st-key-literal-alert-']")
    ).to_have_count(1)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_test_id("stToast")).to_have_count(0)
    shot(page, "refused")
    settle(page)
    assert {c.id: c.version for c in server.all_customers(tenant)} == expected
    assert events_by(server, tenant, editor) == 0
    if action == "save-customer":
        assert set(expected) == set(before)
