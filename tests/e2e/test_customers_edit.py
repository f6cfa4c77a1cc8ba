"""Changing customers in the browser: the Add/Edit dialog, the grid's Save, its errors,
a conflict between two browsers, delete with confirmation, and Undo.

Every test works in a tenant of its own, and checks the database after each step.
The core flows (add, edit and Save, conflict, delete and Undo) run on SQLite and, when
``TEST_DATABASE_URL`` is set, on PostgreSQL as well; the others on SQLite only, as what
they check is the page, not the database.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Locator, Page, expect

from data.sample import customers
from tests.e2e.conftest import (
    BACKENDS,
    Grid,
    Server,
    Shots,
    alert,
    button,
    click,
    dialog,
    main,
    settle,
    sign_in,
    toast,
)

# A name that markdown would turn into a link and bold text; it must stay plain text.
MARKDOWN_NAME = 'Zoë [O\'Neil](https://evil.example) **"Zed" Ltd**'
ON_BOTH = pytest.mark.parametrize("server", BACKENDS, indirect=True, scope="module")
ON_SQLITE = pytest.mark.parametrize("server", ["sqlite"], indirect=True, scope="module")
SEED = 4  # the same realistic customers in every test's tenant (Latin, Cyrillic, Greek...)


def new_tenant(server: Server, count: int = 6) -> tuple[str, str, list[object]]:
    """A tenant of its own with ``count`` customers; (tenant id, name prefix, by name)."""
    name = f"edit-{uuid.uuid4().hex[:8]}"
    tenant = server.tenant(name)
    server.add_customers(tenant, list(customers(count, seed=SEED)))
    return tenant, name, listed(server, tenant)


def listed(server: Server, tenant: str) -> list[object]:
    """The tenant's customers in the grid's order (by name, as the database sorts)."""
    with server.customers(tenant) as repository:
        return list(repository.list(sort="name").items)


def stored(server: Server, tenant: str, customer_id: str):  # type: ignore[no-untyped-def]
    with server.customers(tenant) as repository:
        return repository.find(customer_id)


def save_button(page: Page) -> Locator:
    return main(page).get_by_role("button", name=re.compile(r"^(save)?Save changes"))


@ON_BOTH
def test_add_customer_dialog_refuses_bad_input_then_saves_the_customer(
    page: Page, server: Server, shot: Shots
) -> None:
    tenant, name, before = new_tenant(server, 3)
    sign_in(page, server, f"{name}-editor")
    click(page, button(page, "Add Customer"))
    form = dialog(page)
    expect(form.get_by_role("heading", name="Add Customer")).to_be_visible()
    form.get_by_label("Customer Name *").fill(MARKDOWN_NAME)
    form.get_by_label("Email *").fill("zoe.oneil-at-example.com")
    shot(page, "add-dialog-filled")
    click(page, form.get_by_role("button", name="Save Customer"))
    expect(form.get_by_text(re.compile("Email is not a valid address"))).to_be_visible()
    assert len(server.all_customers(tenant)) == len(before)
    shot(page, "add-dialog-error")

    form.get_by_label("Email *").fill("Zoe.ONeil@Example.com")
    form.get_by_label("Phone").fill("+44 20 7946 0000")
    form.get_by_label("Address").fill("1 Long Road\nLondon, N1 1AA")
    click(page, form.get_by_role("button", name="Save Customer"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    toast(page, "The customer was added.")  # a fixed sentence: toasts name no one
    shot(page, "added")

    added = [c for c in server.all_customers(tenant) if c.email == "Zoe.ONeil@Example.com"]
    assert len(added) == 1
    assert (added[0].name, added[0].phone, added[0].address) == (
        MARKDOWN_NAME,
        "+44 20 7946 0000",
        "1 Long Road\nLondon, N1 1AA",
    )
    expect(main(page).get_by_text(f"of {len(before) + 1} customers")).to_be_visible()
    Grid(page).expect_column("Name", [c.name for c in listed(server, tenant)])  # type: ignore[attr-defined]
    # Shown as typed in the grid: no link, no bold.
    expect(page.locator("a[href*='evil.example']")).to_have_count(0)
    expect(page.locator("strong, b")).to_have_count(0)


@ON_SQLITE
def test_edit_button_opens_the_ticked_customer_prefilled_and_saves_it(
    page: Page, server: Server, shot: Shots
) -> None:
    tenant, name, before = new_tenant(server, 4)
    target = before[1]
    sign_in(page, server, f"{name}-editor")
    grid = Grid(page)
    expect(grid.cell(1, "Name")).to_have_text(target.name)  # type: ignore[attr-defined]
    expect(button(page, "Edit")).to_be_disabled()
    grid.tick(1)
    click(page, button(page, "Edit"))
    form = dialog(page)
    expect(form.get_by_role("heading", name="Edit Customer")).to_be_visible()
    expect(form.get_by_label("Customer Name *")).to_have_value(target.name)  # type: ignore[attr-defined]
    expect(form.get_by_label("Email *")).to_have_value(target.email)  # type: ignore[attr-defined]
    shot(page, "edit-dialog-prefilled")

    form.get_by_label("Phone").fill("+1 212 555 0199")
    click(page, form.get_by_role("button", name="Save Customer"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    toast(page, "The customer was saved.")
    after = stored(server, tenant, target.id)  # type: ignore[attr-defined]
    assert after.phone == "+1 212 555 0199"
    assert after.version == target.version + 1  # type: ignore[attr-defined]


@ON_BOTH
def test_edit_cells_in_the_grid_and_save_writes_the_database(
    page: Page, server: Server, shot: Shots
) -> None:
    tenant, name, before = new_tenant(server, 5)
    sign_in(page, server, f"{name}-editor")
    grid = Grid(page)
    grid.expect_column("Name", [c.name for c in before])  # type: ignore[attr-defined]
    expect(save_button(page)).to_be_disabled()

    grid.type_into(0, "Phone", "+49 30 1234567")
    grid.type_into(2, "Address", "Hauptstraße 5, 10115 Berlin")
    expect(save_button(page)).to_have_text(re.compile(r"Save changes \(2\)"))
    expect(main(page).get_by_text("You have unsaved changes on this page")).to_be_visible()
    shot(page, "edited-cells")
    assert stored(server, tenant, before[0].id).phone == before[0].phone  # type: ignore[attr-defined]

    click(page, save_button(page))
    toast(page, "Saved 2 customers.")
    expect(save_button(page)).to_be_disabled()
    shot(page, "saved")
    first = stored(server, tenant, before[0].id)  # type: ignore[attr-defined]
    third = stored(server, tenant, before[2].id)  # type: ignore[attr-defined]
    assert (first.phone, first.version) == ("+49 30 1234567", before[0].version + 1)  # type: ignore[attr-defined]
    assert third.address == "Hauptstraße 5, 10115 Berlin"
    untouched = [stored(server, tenant, c.id) for c in (before[1], before[3], before[4])]  # type: ignore[attr-defined]
    assert [c.version for c in untouched] == [1, 1, 1]
    expect(Grid(page).cell(0, "Phone")).to_have_text("+49 30 1234567")


@ON_SQLITE
@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("Email", "no-at-sign.example.com", "Email is not a valid address"),
        ("Email", "DUPLICATE", "Another customer already uses the email"),
    ],
    ids=["malformed-email", "duplicate-email"],
)
def test_invalid_edit_shows_its_error_next_to_the_row_and_writes_nothing(
    page: Page, server: Server, shot: Shots, column: str, value: str, message: str
) -> None:
    tenant, name, before = new_tenant(server, 4)
    if value == "DUPLICATE":
        value = before[3].email.upper()  # type: ignore[attr-defined]
    sign_in(page, server, f"{name}-editor")
    grid = Grid(page)
    grid.type_into(1, column, value)
    click(page, save_button(page))

    expect(alert(page, "1 row could not be saved; the Problem column says why")).to_be_visible()
    grid = Grid(page)
    grid.expect_headers(["Select", "Problem", "Name", "Email", "Phone", "Address"])
    expect(grid.cell(1, "Problem")).to_contain_text(message)
    expect(grid.cell(1, column)).to_have_text(value)  # the user's text is kept for correcting
    assert [grid.text(row, "Problem") for row in (0, 2, 3)] == ["", "", ""]
    shot(page, "problem-shown")
    after = server.all_customers(tenant)
    assert {(c.id, c.email, c.version) for c in after} == {
        (c.id, c.email, c.version) for c in before
    }  # type: ignore[attr-defined]

    click(page, main(page).get_by_role("button", name="Discard"))
    expect(alert(page, "could not be saved")).to_have_count(0)
    Grid(page).expect_headers(["Select", "Name", "Email", "Phone", "Address"])
    expect(Grid(page).cell(1, column)).to_have_text(getattr(before[1], column.lower()))


@ON_BOTH
@pytest.mark.parametrize("choice", ["Keep theirs", "Use mine"], ids=["keep-theirs", "use-mine"])
def test_save_after_someone_else_changed_the_row_shows_the_conflict(
    page: Page, second_page: Page, server: Server, shot: Shots, choice: str
) -> None:
    tenant, name, before = new_tenant(server, 3)
    target = before[0]
    sign_in(page, server, f"{name}-editor")
    sign_in(second_page, server, f"{name}-admin")

    # The first browser starts editing the row, then the second one saves it first.
    mine = Grid(page)
    mine.type_into(0, "Phone", "+33 1 11 11 11 11")
    theirs = Grid(second_page)
    theirs.type_into(0, "Phone", "+33 2 22 22 22 22")
    click(second_page, save_button(second_page))
    toast(second_page, "Saved 1 customer.")
    assert stored(server, tenant, target.id).phone == "+33 2 22 22 22 22"  # type: ignore[attr-defined]

    click(page, save_button(page))
    panel = alert(page, "Changed by someone else since you loaded it")
    expect(panel).to_be_visible()
    compared = Grid(page, 1)  # field by field: theirs beside mine
    compared.expect_headers(["Field", "Your values", "Saved by someone else"])
    compared.expect_column("Field", ["Name", "Email", "Phone", "Address"])
    expect(compared.cells("Your values").nth(2)).to_have_text("+33 1 11 11 11 11")
    expect(compared.cells("Saved by someone else").nth(2)).to_have_text("+33 2 22 22 22 22")
    shot(page, "conflict")
    after = stored(server, tenant, target.id)  # type: ignore[attr-defined]
    assert (after.phone, after.version) == ("+33 2 22 22 22 22", target.version + 1)  # type: ignore[attr-defined]

    if choice == "Keep theirs":
        click(page, main(page).get_by_role("button", name="Keep theirs"))
        expect(panel).to_have_count(0)
        expect(save_button(page)).to_be_disabled()
        expect(Grid(page).cell(0, "Phone")).to_have_text("+33 2 22 22 22 22")
        assert stored(server, tenant, target.id).phone == "+33 2 22 22 22 22"  # type: ignore[attr-defined]
    else:
        click(page, main(page).get_by_role("button", name=re.compile("^Use mine")))
        expect(panel).to_have_count(0)
        click(page, save_button(page))
        toast(page, "Saved 1 customer.")
        after = stored(server, tenant, target.id)  # type: ignore[attr-defined]
        assert (after.phone, after.version) == ("+33 1 11 11 11 11", target.version + 2)  # type: ignore[attr-defined]
        expect(Grid(page).cell(0, "Phone")).to_have_text("+33 1 11 11 11 11")
    shot(page, "resolved")


@ON_BOTH
def test_delete_asks_for_confirmation_and_undo_brings_the_customers_back(
    page: Page, server: Server, shot: Shots
) -> None:
    tenant, name, before = new_tenant(server, 5)
    doomed = before[:2]
    names = [c.name for c in doomed]  # type: ignore[attr-defined]
    sign_in(page, server, f"{name}-editor")
    grid = Grid(page)
    expect(button(page, "Delete")).to_be_disabled()
    grid.tick(0)
    grid.tick(1)

    click(page, button(page, "Delete"))
    confirm = dialog(page)
    expect(confirm.get_by_role("heading", name="Delete 2 customers?")).to_be_visible()
    for doomed_name in names:
        expect(confirm).to_contain_text(doomed_name)
    shot(page, "confirm-delete")
    click(page, confirm.get_by_role("button", name="Cancel"))
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert len(server.all_customers(tenant)) == 5

    click(page, button(page, "Delete"))
    click(page, dialog(page).get_by_role("button", name="Delete", exact=True))
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(alert(page, f"Deleted 2 customers: {names[0]}, {names[1]}")).to_be_visible()
    assert {c.id for c in server.all_customers(tenant)} == {c.id for c in before[2:]}  # type: ignore[attr-defined]
    shot(page, "deleted-with-undo")

    click(page, main(page).get_by_role("button", name="Undo"))
    toast(page, "Restored 2 customers.")
    expect(alert(page, "Deleted 2 customers")).to_have_count(0)
    expect(main(page).get_by_text("Showing 1–5 of 5 customers")).to_be_visible()
    Grid(page).expect_column("Name", [c.name for c in before])  # type: ignore[attr-defined]
    assert {c.id for c in server.all_customers(tenant)} == {c.id for c in before}  # type: ignore[attr-defined]
    shot(page, "undone")
    settle(page)


# -- what the page shows after a change -----------------------------------------------


@ON_SQLITE
@pytest.mark.parametrize("change", ["delete", "edit-dialog"])
def test_after_a_change_to_ticked_rows_the_grid_shows_the_stored_rows_unticked(
    page: Page, server: Server, shot: Shots, change: str
) -> None:
    tenant, name, _before = new_tenant(server, 4)
    sign_in(page, server, f"{name}-editor")
    grid = Grid(page)
    grid.tick(0)
    if change == "delete":
        click(page, button(page, "Delete"))
        click(page, dialog(page).get_by_role("button", name="Delete", exact=True))
        expect(alert(page, "Deleted 1 customer")).to_be_visible()
    else:
        click(page, button(page, "Edit"))
        form = dialog(page)
        form.get_by_label("Phone").fill("+1 212 555 0199")
        click(page, form.get_by_role("button", name="Save Customer"))
        expect(page.get_by_role("dialog")).to_have_count(0)
    stored_now = listed(server, tenant)
    shot(page, f"after-{change}")
    count = len(stored_now)
    expect(main(page).get_by_text(f"Showing 1–{count} of {count} customers")).to_be_visible(
        timeout=5000
    )
    grid.expect_column("Name", [c.name for c in stored_now])  # type: ignore[attr-defined]
    grid.expect_column("Phone", [c.phone or "" for c in stored_now])  # type: ignore[attr-defined]
    grid.expect_column("Select", ["false"] * count)
    expect(main(page).get_by_text("You have unsaved changes on this page")).to_have_count(0)


@ON_SQLITE
def test_after_save_search_sort_and_paging_are_usable_again(
    page: Page, server: Server, shot: Shots
) -> None:
    _tenant, name, _before = new_tenant(server, 3)
    sign_in(page, server, f"{name}-editor")
    search = main(page).get_by_placeholder("Search name, email or phone")
    expect(search).to_be_enabled()
    Grid(page).type_into(0, "Phone", "+49 30 1234567")
    expect(search).to_be_disabled()  # unsaved edits: the page holds still
    click(page, save_button(page))
    toast(page, "Saved 1 customer.")
    shot(page, "after-save")
    expect(main(page).get_by_text("You have unsaved changes on this page")).to_have_count(
        0, timeout=5000
    )
    expect(search).to_be_enabled()
    expect(main(page).get_by_role("combobox", name="Sort by")).to_be_enabled()
