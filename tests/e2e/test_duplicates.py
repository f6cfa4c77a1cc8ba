"""Merging a suspected pair in Chromium (issue 16): queue → compare → choose → Merge.

An editor opens Duplicates, chooses the pair, keeps the older customer's spelling of the
name while the other fields take the newer values (the preset), merges, and the database
holds one customer with exactly those values; History then undoes the merge.
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    BACKENDS,
    Grid,
    Server,
    Shots,
    button,
    click,
    go_to,
    main,
    sign_in,
    toast,
)

ON_BOTH = pytest.mark.parametrize("server", BACKENDS, indirect=True, scope="module")
OLDER = {"name": "Jürgen Groß", "email": "jgross@firma.de", "phone": "+49 151 1234567"}
NEWER = {
    "name": "Juergen Gross",
    "email": "j.gross@firma.de",
    "phone": "+491511234567",
    "address": "Hauptstraße 1, 10115 Berlin",
}


@ON_BOTH
def test_an_editor_merges_a_pair_field_by_field_and_history_undoes_it(
    page: Page, server: Server, shot: Shots
) -> None:
    name = f"dup-{uuid.uuid4().hex[:8]}"
    tenant = server.tenant(name)
    [older] = server.add_customers(tenant, [OLDER])
    [newer] = server.add_customers(tenant, [NEWER])
    sign_in(page, server, f"{name}-editor")
    go_to(page, "Duplicates")

    queue = Grid(page)
    queue.expect_column("Score", ["95"])
    queue.expect_column("Why", ["same phone, similar name, same company email domain"])
    queue.choose(0)
    compared = Grid(page, 1)
    compared.expect_column("Field", ["Name", "Email", "Phone", "Address", "Added", "Last changed"])
    compared.expect_column("≠", ["≠", "≠", "≠", "≠", "", ""])
    shot(page, "compared")

    # The older customer is the one kept by default; its spelling of the name stays.
    older_label = "Customer 1" if older.id < newer.id else "Customer 2"
    names = main(page).get_by_test_id("stRadio").filter(has_text="Name")
    click(page, names.get_by_text(older_label, exact=True))
    expect(names.get_by_role("radio", name=older_label)).to_be_checked()
    click(page, button(page, "Merge"))
    toast(page, "The customers were merged. History can undo it.")
    expect(main(page).get_by_text("No suspected duplicates")).to_be_visible()
    shot(page, "merged")
    remaining = server.all_customers(tenant)
    assert [c.id for c in remaining] == [older.id]
    assert remaining[0].fields() == NEWER | {"name": OLDER["name"]}

    go_to(page, "History")
    Grid(page).expect_column("Action", ["Merged", "Added", "Added"])
    Grid(page).choose(0)
    click(page, button(page, "Undo this merge"))
    toast(page, "The merge was undone: both customers are back.")
    shot(page, "undone")
    by_id = {c.id: c.fields() for c in server.all_customers(tenant)}
    assert by_id == {older.id: OLDER | {"address": None}, newer.id: NEWER}
