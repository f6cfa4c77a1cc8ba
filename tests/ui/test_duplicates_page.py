"""The Duplicates page and the merge's undo in History (issue 16), through AppTest.

Viewers see the queue and the comparison, read-only; editors merge field by field or
dismiss; a conflict is one sentence and writes nothing; History undoes a merge.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.conftest import alerts, button, texts

OLDER = {"name": "Jürgen Groß", "email": "jgross@firma.de", "phone": "+49 151 1234567"}
NEWER = {
    "name": "Juergen Gross",
    "email": "j.gross@firma.de",
    "phone": "+491511234567",
    "address": "Hauptstraße 1",
}


@pytest.fixture
def pair(tenant: Any, customers_of: Any) -> tuple[Any, Any]:
    with customers_of(tenant, write=True) as customers:
        older = customers.create(OLDER)
    with customers_of(tenant, write=True) as customers:
        newer = customers.create(NEWER)
    return older, newer


def choose(app: Any, row: int = 0) -> Any:
    table = app.dataframe[0]
    app.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return app.run()


def radio(app: Any, label: str) -> Any:
    [found] = [r for r in app.radio if r.label == label]
    return found


def test_the_queue_lists_pairs_best_first_and_compares_a_chosen_one(
    dashboard: Any, tenant: Any, other_tenant: Any, pair: Any, customers_of: Any
) -> None:
    with customers_of(other_tenant, write=True) as customers:
        customers.create({"name": "Stranger", "email": "s@firma.de", "phone": "+49 151 1234567"})
    app = dashboard(tenant.viewer, page="duplicates")
    assert not app.exception
    queue = app.dataframe[0].value
    assert list(queue.columns) == ["Score", "Why", "Name 1", "Email 1", "Name 2", "Email 2"]
    assert queue.to_dict("records")[0]["Score"] == 95
    assert queue.to_dict("records")[0]["Why"] == (
        "same phone, similar name, same company email domain"
    )
    assert "Stranger" not in texts(app)
    choose(app)
    compared = app.dataframe[1].value
    rows = {row["Field"]: row for row in compared.to_dict("records")}
    assert rows["Name"]["≠"] == "≠"
    assert rows["Phone"]["≠"] == "≠"  # written differently: shown as entered
    assert {rows["Name"]["Customer 1"], rows["Name"]["Customer 2"]} == {
        OLDER["name"],
        NEWER["name"],
    }
    assert rows["Address"]["≠"] == "≠"


def test_viewers_see_the_queue_read_only(dashboard: Any, tenant: Any, pair: Any) -> None:
    app = choose(dashboard(tenant.viewer, page="duplicates"))
    labels = {b.label for b in app.button}
    assert "Merge" not in labels
    assert "Not a duplicate" not in labels
    assert not app.radio
    assert "Editors can merge these customers or dismiss the pair." in texts(app)


def test_an_editor_merges_with_a_choice_per_field(
    dashboard: Any, tenant: Any, pair: Any, customers_of: Any
) -> None:
    older, newer = pair
    app = choose(dashboard(tenant.editor, page="duplicates"))
    older_label = radio(app, "Keep").value  # the customer added first is kept by default
    assert older_label == ("Customer 1" if older.id < newer.id else "Customer 2")
    assert [r.label for r in app.radio] == ["Keep", "Name", "Email", "Phone", "Address"]
    # Keep the older customer's name instead of the newer default.
    radio(app, "Name").set_value(older_label).run()
    button(app, "Merge").click().run()
    assert not app.exception
    assert [t.value for t in app.toast] == ["The customers were merged. History can undo it."]
    with customers_of(tenant) as customers:
        assert customers.find(newer.id) is None
        merged = customers.get(older.id)
    assert merged.fields() == NEWER | {"name": OLDER["name"]}
    assert "No suspected duplicates" in texts(app)


def test_a_merge_over_someone_elses_change_shows_one_sentence_and_writes_nothing(
    dashboard: Any, tenant: Any, pair: Any, customers_of: Any
) -> None:
    older, newer = pair
    app = choose(dashboard(tenant.editor, page="duplicates"))
    with customers_of(tenant, write=True) as customers:  # meanwhile, in another browser
        customers.update(newer.id, NEWER | {"phone": "+49 30 555555"})
    button(app, "Merge").click().run()
    assert not app.exception
    assert alerts(app, "error") == [
        "This customer was changed by someone else since you loaded it; reload to see their change."
    ]
    with customers_of(tenant) as customers:
        assert customers.find(newer.id) is not None
        assert customers.get(older.id).version == older.version


def test_an_editor_dismisses_a_pair(dashboard: Any, tenant: Any, pair: Any) -> None:
    app = choose(dashboard(tenant.editor, page="duplicates"))
    button(app, "Not a duplicate").click().run()
    assert not app.exception
    assert [t.value for t in app.toast] == ["The pair was dismissed."]
    assert "No suspected duplicates" in texts(app)


def test_history_undoes_a_merge(
    dashboard: Any, tenant: Any, pair: Any, customers_of: Any, scope_of: Any
) -> None:
    older, newer = pair
    with scope_of(tenant, write=True) as scope:
        scope.duplicates.merge(older.id, newer.id, versions=(older.version, newer.version))
    app = dashboard(tenant.editor, page="history")
    history = app.dataframe[0].value
    assert history.to_dict("records")[0]["Action"] == "Merged"
    assert history.to_dict("records")[0]["About"] == f"{OLDER['name']} / {NEWER['name']}"
    choose(app)
    detail = app.dataframe[1].value
    assert list(detail.columns) == ["Field", "First", "Second"]
    button(app, "Undo this merge").click().run()
    assert not app.exception
    assert [t.value for t in app.toast] == ["The merge was undone: both customers are back."]
    with customers_of(tenant) as customers:
        assert customers.get(older.id).fields() == OLDER | {"address": None}
        assert customers.get(newer.id).fields() == NEWER
    assert app.dataframe[0].value.to_dict("records")[0]["Action"] == "Merge undone"
    assert not [b for b in app.button if b.label == "Undo this merge"]


def test_viewers_get_no_undo_button_in_history(
    dashboard: Any, tenant: Any, pair: Any, scope_of: Any
) -> None:
    older, newer = pair
    with scope_of(tenant, write=True) as scope:
        scope.duplicates.merge(older.id, newer.id)
    app = choose(dashboard(tenant.viewer, page="history"))
    assert not [b for b in app.button if b.label == "Undo this merge"]


def test_the_import_check_flags_rows_that_look_like_an_existing_customer(
    dashboard: Any, tenant: Any, pair: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui.uploads

    monkeypatch.setattr(ui.uploads, "UPLOADS", tmp_path / "uploads")
    data = (
        "name,email,phone\n"
        "Jürgen Gross,juergen@firma.de,+49 151 1234567\n"  # like both: the same phone
        "Maria Lopez,maria@lopez.example,\n"
    ).encode()
    app = dashboard(tenant.editor, page="import_csv")
    app.file_uploader[0].set_value(("crm.csv", data, "text/csv"))
    app.run()
    [check] = [b for b in app.button if b.label.startswith("Check the file")]
    check.click().run()
    assert not app.exception
    preview = app.dataframe[1].value
    flags = list(preview["Likely duplicate"])
    # Both existing customers score alike; the sentence names one and counts the other.
    assert flags[0] in {
        f"Looks like {name} (same phone, similar name, same company email domain) and 1 more"
        for name in (OLDER["name"], NEWER["name"])
    }
    assert flags[1] == ""
