"""What each role sees: a viewer reads and exports but has no edit controls; only an
admin reaches Users.  A page above the role is not in the menu, and its URL gets one
sentence and nothing else."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from data.sample import customers
from tests.e2e.conftest import (
    Grid,
    Server,
    Shots,
    alert,
    go_to,
    main,
    open_app,
    settle,
    sign_in,
)

EDIT_CONTROLS = ["Add Customer", "Edit", "Delete", "Save changes", "Discard"]


@pytest.fixture(scope="module")
def tenant(server: Server) -> str:
    tenant = server.tenant("roles")
    server.add_customers(tenant, list(customers(6, seed=31)))
    return tenant


def sidebar_pages(page: Page) -> list[str]:
    links = page.get_by_test_id("stSidebarNav").get_by_role("link").all_inner_texts()
    return [re.sub(r"^\S+\n", "", str(text)).strip() for text in links]


def test_viewer_sees_the_customers_without_any_edit_control(
    page: Page, server: Server, tenant: str, shot: Shots
) -> None:
    sign_in(page, server, "roles-viewer")
    expect(main(page).get_by_text("Showing 1–6 of 6 customers")).to_be_visible()
    with server.customers(tenant) as repository:
        names = [c.name for c in repository.list(sort="name").items]
    grid = Grid(page)
    grid.expect_column("Name", names)
    grid.expect_headers(["Name", "Email", "Phone", "Address"])  # no tick boxes
    for label in EDIT_CONTROLS:
        expect(main(page).get_by_role("button", name=re.compile(f"^(\\w+)?{label}"))).to_have_count(
            0
        )
    expect(main(page).get_by_role("button", name=re.compile("Export CSV"))).to_be_visible()
    assert sidebar_pages(page) == ["Customers", "Overview", "Duplicates", "History", "Account"]
    shot(page, "viewer-customers")

    # The table is read-only: typing on a cell opens no editor.
    box = grid.canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 60, box["y"] + 36 + 17)
    page.keyboard.press("x")
    settle(page)
    expect(page.locator("#portal textarea.gdg-input")).to_have_count(0)
    Grid(page).expect_column("Name", names)

    # Users and Import are not pages for a viewer, even by their URLs.
    for path, needed in (("users", "admin"), ("import_csv", "editor")):
        open_app(page, server, path)
        expect(
            alert(page, f"This page needs the {needed} role; you are signed in as viewer.")
        ).to_be_visible()
        expect(main(page).get_by_role("heading")).to_have_count(0)
        expect(main(page).get_by_test_id("stDataFrame")).to_have_count(0)
        expect(main(page).get_by_test_id("stFileUploader")).to_have_count(0)
        assert "roles-admin" not in page.content()
        assert sidebar_pages(page) == ["Customers", "Overview", "Duplicates", "History", "Account"]
    shot(page, "viewer-refused-import-by-url")


def test_editor_has_import_but_not_users(page: Page, server: Server, tenant: str) -> None:
    sign_in(page, server, "roles-editor")
    assert sidebar_pages(page) == [
        "Customers",
        "Overview",
        "Duplicates",
        "Import CSV",
        "History",
        "Account",
    ]
    open_app(page, server, "users")
    expect(
        alert(page, "This page needs the admin role; you are signed in as editor.")
    ).to_be_visible()
    assert "roles-viewer" not in page.content()


def test_admin_also_manages_users(page: Page, server: Server, tenant: str, shot: Shots) -> None:
    sign_in(page, server, "roles-admin")
    assert sidebar_pages(page) == [
        "Customers",
        "Overview",
        "Duplicates",
        "Import CSV",
        "History",
        "Users",
        "Account",
    ]
    go_to(page, "Users")
    for username in ("roles-admin", "roles-editor", "roles-viewer"):
        expect(main(page).get_by_text(username, exact=True)).not_to_have_count(0)
    shot(page, "admin-users")
