"""The Customers page: grid edits and Save, dialogs, delete and undo, paging and search.

Grid edits are given to AppTest the way the browser gives them to Streamlit: as the
editor's edit state (edited_rows / added_rows), keyed by the editor's widget key.
"""

from __future__ import annotations

import pytest

from tests.ui.conftest import alerts, button, texts


def editor_key(app) -> str:  # type: ignore[no-untyped-def]
    from ui.customer_table import LAST_EDITOR

    return app.session_state[LAST_EDITOR][0]


def edit(app, edited_rows=None, added_rows=None):  # type: ignore[no-untyped-def]
    """Type into the grid: ``edited_rows`` {row position: {column: value}}."""
    app.session_state[editor_key(app)] = {
        "edited_rows": edited_rows or {},
        "added_rows": added_rows or [],
        "deleted_rows": [],
    }
    return app.run()


def grid_rows(app):  # type: ignore[no-untyped-def]
    return app.dataframe[0].value


@pytest.fixture
def three(customers_of, tenant):  # type: ignore[no-untyped-def]
    """Three customers that sort as Alpha, Bravo, Charlie."""
    with customers_of(tenant, write=True) as repository:
        return [
            repository.create({"name": name, "email": f"{name.split()[0].lower()}@example.com"})
            for name in ("Alpha Ant", "Bravo Bee", "Charlie Cat")
        ]


def test_a_valid_grid_edit_is_saved(dashboard, tenant, three, customers_of):
    app = dashboard(tenant.editor)
    edit(app, {1: {"Phone": "+49 30 123456"}})
    button(app, "Save changes").click().run()
    assert not app.exception
    with customers_of(tenant) as repository:
        bravo = repository.get(three[1].id)
    assert bravo.phone == "+49 30 123456"
    assert bravo.version == 2
    assert not alerts(app, "error")
    assert [t.value for t in app.toast] == ["Saved 1 customer."]
    assert "Problem" not in list(grid_rows(app).columns) or not any(grid_rows(app)["Problem"])


def test_an_invalid_grid_edit_shows_its_error_by_the_row_and_writes_nothing(
    dashboard, tenant, three, customers_of
):
    app = dashboard(tenant.editor)
    edit(app, {0: {"Email": "not-an-email"}, 2: {"Phone": "+1 555 0100"}})
    button(app, "Save changes").click().run()
    rows = grid_rows(app)
    problems = dict(zip(rows["Name"], rows["Problem"], strict=True))
    assert problems["Alpha Ant"].startswith("⚠ Email is not a valid address")
    assert problems["Charlie Cat"] == ""
    [message] = alerts(app, "error")
    assert message.startswith("1 row could not be saved; the Problem column says why.")
    with customers_of(tenant) as repository:
        assert repository.get(three[0].id).email == "alpha@example.com"  # nothing written
        assert repository.get(three[2].id).phone == "+1 555 0100"  # the valid row was
    # The failed row keeps the user's value until fixed or discarded.
    assert "not-an-email" in list(rows["Email"])
    button(app, "Discard").click().run()
    assert "not-an-email" not in list(grid_rows(app)["Email"])


def test_a_row_changed_by_someone_else_is_a_conflict_and_their_value_is_kept(
    dashboard, tenant, three, customers_of
):
    app = dashboard(tenant.editor)  # the page is loaded: Bravo at version 1
    with customers_of(tenant, tenant.admin, write=True) as repository:
        repository.update(three[1].id, {"name": "Bravo Bee", "email": "theirs@example.com"})
    edit(app, {1: {"Email": "mine@example.com"}})
    button(app, "Save changes").click().run()
    assert alerts(app, "warning") == [
        "Bravo Bee — Changed by someone else since you loaded it; choose whose values to keep."
    ]
    compared = app.dataframe[1].value.set_index("Field")
    assert compared.loc["Email", "Your values"] == "mine@example.com"
    assert compared.loc["Email", "Saved by someone else"] == "theirs@example.com"
    with customers_of(tenant) as repository:
        assert repository.get(three[1].id).email == "theirs@example.com"
    # Choosing "Use mine" bases the edit on their version; Save then writes it.
    button(app, "Use mine").click().run()
    button(app, "Save changes").click().run()
    with customers_of(tenant) as repository:
        bravo = repository.get(three[1].id)
    assert bravo.email == "mine@example.com"
    assert bravo.version == 3


def test_keep_theirs_drops_the_users_edit(dashboard, tenant, three, customers_of):
    app = dashboard(tenant.editor)
    with customers_of(tenant, tenant.admin, write=True) as repository:
        repository.update(three[0].id, {"name": "Alpha Renamed", "email": "alpha@example.com"})
    edit(app, {0: {"Name": "Alpha Mine"}})
    button(app, "Save changes").click().run()
    button(app, "Keep theirs").click().run()
    assert "Alpha Mine" not in list(grid_rows(app)["Name"])
    assert "Alpha Renamed" in list(grid_rows(app)["Name"])


def test_a_row_added_in_the_grid_is_created(dashboard, tenant, three, customers_of):
    app = dashboard(tenant.editor)
    edit(app, added_rows=[{"Name": "Delta Dog", "Email": "delta@example.com"}])
    button(app, "Save changes").click().run()
    with customers_of(tenant) as repository:
        found = repository.find_by_email("DELTA@example.com")
    assert found is not None
    assert found.name == "Delta Dog"
    assert [t.value for t in app.toast] == ["Saved 1 customer."]


def test_the_add_customer_dialog_creates_a_customer(dashboard, tenant, customers_of):
    app = dashboard(tenant.editor)
    button(app, "Add Customer").click().run()
    fields = {t.label: t for t in app.text_input}
    fields["Customer Name *"].input("Eva Émile")
    fields["Email *"].input("eva@example.com")
    app.text_area[0].input('c/o "Émile"\nRue 1, Paris')
    button(app, "Save Customer").click().run()
    assert not app.exception
    with customers_of(tenant) as repository:
        eva = repository.find_by_email("eva@example.com")
    assert eva is not None
    assert eva.name == "Eva Émile"
    assert eva.address == 'c/o "Émile"\nRue 1, Paris'
    assert [t.value for t in app.toast] == ["The customer was added."]
    assert not app.text_area  # the dialog closed


def test_the_add_dialog_shows_field_errors_and_creates_nothing(dashboard, tenant, customers_of):
    app = dashboard(tenant.editor)
    button(app, "Add Customer").click().run()
    fields = {t.label: t for t in app.text_input}
    fields["Customer Name *"].input("   ")
    fields["Email *"].input("eva@")
    button(app, "Save Customer").click().run()
    shown = alerts(app, "error")
    assert "Name is required." in shown
    assert any(m.startswith("Email is not a valid address") for m in shown)
    with customers_of(tenant) as repository:
        assert repository.count().value == 0


def test_edit_opens_the_ticked_row_prefilled_and_saves_it(dashboard, tenant, three, customers_of):
    app = dashboard(tenant.editor)
    edit(app, {2: {"Select": True}})
    button(app, "Edit").click().run()
    fields = {t.label: t for t in app.text_input}
    assert fields["Customer Name *"].value == "Charlie Cat"
    fields["Phone"].input("+44 20 7946 0000")
    button(app, "Save Customer").click().run()
    with customers_of(tenant) as repository:
        assert repository.get(three[2].id).phone == "+44 20 7946 0000"
    assert [t.value for t in app.toast] == ["The customer was saved."]


def test_delete_asks_first_and_undo_brings_the_rows_back(dashboard, tenant, three, customers_of):
    app = dashboard(tenant.editor)
    edit(app, {0: {"Select": True}, 1: {"Select": True}})
    button(app, "Delete").click().run()
    with customers_of(tenant) as repository:
        assert repository.count().value == 3  # nothing happens before confirming
    assert "This deletes the customers below." in texts(app)
    [listed] = [f.value for f in app.dataframe if list(f.value.columns) == ["Name"]]
    assert list(listed["Name"]) == ["Alpha Ant", "Bravo Bee"]
    confirm = [b for b in app.button if b.label == "Delete" and b.proto.type == "primary"]
    assert len(confirm) == 1  # the dialog's button, next to Cancel
    confirm[0].click().run()
    with customers_of(tenant) as repository:
        assert repository.count().value == 1
    assert alerts(app, "success") == ["Deleted 2 customers: Alpha Ant, Bravo Bee"]
    button(app, "Undo").click().run()
    with customers_of(tenant) as repository:
        assert repository.count().value == 3
        assert repository.get(three[0].id).email == "alpha@example.com"
    assert [t.value for t in app.toast] == ["Restored 2 customers."]
    assert not alerts(app, "success")  # the Undo bar is gone


def test_a_viewers_write_is_refused_by_the_data_layer_even_if_attempted(
    tenant, three, identity_of, customers_of
):
    from data.errors import Forbidden
    from ui import grid

    change = grid.Change(
        three[0].id,
        three[0].id,
        1,
        {"name": "X", "email": "x@example.com", "phone": None, "address": None},
    )
    with pytest.raises(Forbidden):
        grid.save_changes(identity_of(tenant.viewer), [change])
    with customers_of(tenant) as repository:
        assert repository.get(three[0].id).name == "Alpha Ant"


@pytest.fixture
def many(tenant, seed_customers):  # type: ignore[no-untyped-def]
    """2,500 customers written set-based (setup only; the page reads them normally)."""
    from data.sample import customers

    records = [
        {**record, "email": f"bulk{i}.{record['email']}"}
        for i, record in enumerate(customers(2500, seed=11))
    ]
    ids = seed_customers(tenant.id, records)
    return [{**record, "id": id_} for record, id_ in zip(records, ids, strict=True)]


def test_paging_walks_a_few_thousand_rows_in_order(dashboard, tenant, many):
    app = dashboard(tenant.viewer)
    assert "Showing 1–50 of 2,500 customers · page 1 of 50" in texts(app)
    first_page = list(grid_rows(app)["Name"])
    button(app, "Next").click().run()
    second_page = list(grid_rows(app)["Name"])
    assert "Showing 51–100 of 2,500" in texts(app)
    assert first_page[-1] <= second_page[0]
    app.number_input[0].set_value(50).run()
    assert "Showing 2,451–2,500 of 2,500" in texts(app)
    expected_last = sorted((r["name"], r["id"]) for r in many)[-50:]
    assert list(grid_rows(app)["Name"]) == [name for name, _ in expected_last]


def test_search_finds_case_insensitively_and_resets_to_page_one(dashboard, tenant, many):
    app = dashboard(tenant.viewer)
    button(app, "Next").click().run()
    app.text_input[0].input("NAKAMURA").run()
    expected = sorted(
        (r["name"], r["id"])
        for r in many
        if "nakamura" in r["name"].lower()
        or "nakamura" in r["email"].lower()
        or "nakamura" in (r["phone"] or "").lower()
    )
    assert len(expected) > 50  # the seed gives more than one page of matches
    assert f"Showing 1–50 of {len(expected):,} customers · page 1 of" in texts(app)
    assert list(grid_rows(app)["Name"]) == [name for name, _ in expected[:50]]


def test_pending_edits_lock_paging_so_they_cannot_be_lost(dashboard, tenant, many):
    app = dashboard(tenant.editor)
    edit(app, {0: {"Phone": "123"}})
    assert button(app, "Next").disabled
    assert "unsaved changes" in texts(app)
    button(app, "Discard").click().run()
    assert not button(app, "Next").disabled
