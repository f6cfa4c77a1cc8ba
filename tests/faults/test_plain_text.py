"""SQL, HTML, markdown, formulas and control characters are stored and shown as plain text.

(SPEC §9.)  Each hostile text goes in as a customer's name, phone and address, through
the repository and the API, and comes back byte for byte; searching for SQL's ``%``,
``_``, quotes and backslashes finds exactly the customers that contain them; the export
neutralises what a spreadsheet would run and re-imports to no change; and the Customers
page shows the text as it is, in the grid and in every message that names a customer.

"Shown as it is" for a message means: rendered by a CommonMark renderer with raw HTML
off, as Streamlit renders markdown, the text appears verbatim; and Streamlit's own
additions (``:red[...]`` colours, ``:material/...:`` icons, ``$...$`` formulas, and
``word:word`` directives) never reach it unescaped.
"""

from __future__ import annotations

import csv
import html
import io
import re
import uuid

import pytest
from markdown_it import MarkdownIt

from data.csv_export import export_csv
from data.csv_import import import_csv
from data.csv_read import neutralise_cell
from tests.faults.helpers import tenant_state
from tests.ui.conftest import button, open_dashboard

HOSTILE = {
    "sql": "Robert'); DROP TABLE customers;--",
    "sql-wildcards": "100% _off_ O'Brien \\ back\\slash",
    "html": '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "markdown": "**Bold** _it_ [click](https://evil.example) ![i](https://evil.example/t.png)",
    "streamlit-markdown": ":red[Red] :material/warning: $x^2$ by cli:root",
    "formula": '=HYPERLINK("https://evil.example";"Click")',
    "formula-at": "@SUM(A1:A9)+-1",
    "control-characters": "Bell\x07 Esc\x1b[31m red\x1b[0m tab\there DEL\x7f end",
    "bidi-and-emoji": "\u202eevil\u202c zero\u200bwidth \U0001f600",
}
PHONES = {
    "sql": "'; --",
    "sql-wildcards": "100%_",
    "html": "<b>1</b>",
    "markdown": "**5**",
    "streamlit-markdown": ":red[1]",
    "formula": "=1+2",
    "formula-at": "@1",
    "control-characters": "+1\x07 555",
    "bidi-and-emoji": "-42",
}
STREAMLIT_SYNTAX = (":red[", ":material/", "$x^2$", "cli:root")
SEARCHES = ["%", "_", "'", "\\", "--", "<script>", "$x^2$", '"']
MARKDOWN = MarkdownIt("commonmark", {"html": False})


def hostile_customer(case: str, tag: str) -> dict[str, str]:
    text = HOSTILE[case]
    return {
        "name": text,
        "email": f"{case}.{tag}@example.com",
        "phone": PHONES[case],
        "address": f'{text}\nline 2, "quoted", ;semicolon',
    }


def visible(markdown: str) -> str:
    """The text a reader sees of a markdown string (CommonMark, raw HTML shown as text)."""
    return html.unescape(re.sub(r"<[^>]+>", "", MARKDOWN.render(markdown)))


def assert_shown_literally(source: str, text: str) -> None:
    assert text in visible(source), f"{text!r} is not shown as it is in {source!r}"
    for syntax in STREAMLIT_SYNTAX:
        assert syntax not in source, f"{syntax!r} reaches Streamlit unescaped in {source!r}"


@pytest.fixture
def hostile(customers_of, tenant):  # type: ignore[no-untyped-def]
    tag = uuid.uuid4().hex[:8]
    with customers_of(tenant, write=True) as repository:
        return {case: repository.create(hostile_customer(case, tag)) for case in HOSTILE}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_text_is_stored_and_read_back_exactly(customers_of, tenant, case):
    record = hostile_customer(case, uuid.uuid4().hex[:8])
    with customers_of(tenant, write=True) as repository:
        created = repository.create(record)
    with customers_of(tenant) as repository:
        stored = repository.get(created.id)
    assert stored.fields() == record


def test_searching_for_sql_wildcards_and_quotes_finds_exactly_who_contains_them(
    customers_of, tenant, hostile
):
    with customers_of(tenant) as repository:
        for term in SEARCHES:
            expected = {
                c.id
                for c in hostile.values()
                if any(term.lower() in (v or "").lower() for v in (c.name, c.email, c.phone))
            }
            found = {c.id for c in repository.list(search=term, limit=100).items}
            assert found == expected, term


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_text_round_trips_through_the_api_as_json(client, as_user, tenant, case):
    record = hostile_customer(case, uuid.uuid4().hex[:8])
    created = client.post("/api/customers", json=record, headers=as_user(tenant.editor))
    assert created.status_code == 201, created.text
    read = client.get(f"/api/customers/{created.json()['id']}", headers=as_user(tenant.viewer))
    assert {f: read.json()[f] for f in record} == record
    listed = client.get(
        "/api/customers", params={"search": record["email"]}, headers=as_user(tenant.viewer)
    )
    assert [c["name"] for c in listed.json()] == [record["name"]]


def test_export_neutralises_formulas_and_reimports_to_no_change(database, tenant, hostile):
    out = io.BytesIO()
    export_csv(database, tenant.id, tenant.editor.actor, out)
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(out.getvalue().decode()))}
    for customer in hostile.values():
        row = rows[customer.email]
        for field in ("name", "phone", "address"):
            value = getattr(customer, field)
            assert row[field] == neutralise_cell(value)
            assert row[field][:1] not in ("=", "+", "-", "@", "\t", "\r")

    before = tenant_state(database, tenant.id)
    summary = import_csv(
        database,
        tenant.id,
        tenant.editor.actor,
        io.BytesIO(out.getvalue()),
        filename="export.csv",
        mode="upsert",
    )
    assert (summary.invalid, summary.created, summary.updated) == (0, 0, 0)
    assert summary.unchanged == len(hostile)
    assert tenant_state(database, tenant.id).customers == before.customers


def markdown_sources(app) -> list[str]:  # type: ignore[no-untyped-def]
    sources = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "toast"):
        sources += [str(element.value) for element in getattr(app, kind)]
    sources += [str(expander.label) for expander in app.expander]
    return sources


def test_the_customers_page_shows_hostile_text_as_it_is(dashboard, tenant, hostile, customers_of):
    from tests.ui.test_customers_page import edit, grid_rows

    app = dashboard(tenant.editor)
    assert not app.exception
    grid = grid_rows(app)
    shown = {row["Email"]: row for row in grid.to_dict("records")}
    for customer in hostile.values():
        row = shown[customer.email]
        assert [row["Name"], row["Phone"], row["Address"]] == [
            customer.name,
            customer.phone,
            customer.address,
        ]

    # Someone else changes a customer: the conflict message names it.
    target = hostile["markdown"]
    position = list(grid["Email"]).index(target.email)
    with customers_of(tenant, tenant.admin, write=True) as repository:
        repository.update(target.id, target.fields() | {"phone": "theirs"})
    edit(app, {position: {"Phone": "mine"}})
    button(app, "Save changes").click().run()
    warnings = [w.value for w in app.warning if "Changed by someone else" in w.value]
    assert len(warnings) == 1
    assert_shown_literally(warnings[0], target.name)
    button(app, "Keep theirs").click().run()

    # Delete asks first, naming the customers; then says whom it deleted.
    names = sorted(c.name for c in hostile.values())
    ticked = {i: {"Select": True} for i, name in enumerate(grid_rows(app)["Name"]) if name in names}
    edit(app, ticked)
    button(app, "Delete").click().run()
    question = [s for s in markdown_sources(app) if "This deletes" in s]
    assert len(question) == 1
    for name in names:
        assert_shown_literally(question[0], name)
    confirm = [b for b in app.button if b.label == "Delete" and b.proto.type == "primary"]
    confirm[0].click().run()
    deleted = [s.value for s in app.success if "Deleted" in s.value]
    assert len(deleted) == 1
    shown_names = [n for n in names if n in visible(deleted[0])]
    assert len(shown_names) == 3  # the first three are named
    for name in shown_names:
        assert_shown_literally(deleted[0], name)
    button(app, "Undo").click().run()

    # Adding one says so by name.
    button(app, "Add Customer").click().run()
    fields = {t.label: t for t in app.text_input}
    fields["Customer Name *"].input(HOSTILE["streamlit-markdown"])
    fields["Email *"].input(f"added.{uuid.uuid4().hex[:8]}@example.com")
    button(app, "Save Customer").click().run()
    assert not app.exception
    added = [t.value for t in app.toast if "Added" in t.value]
    assert len(added) == 1
    assert_shown_literally(added[0], HOSTILE["streamlit-markdown"])


def test_history_shows_hostile_names_as_they_are(tenant, hostile):
    app = open_dashboard(tenant.editor, "history")
    assert not app.exception
    labels = [expander.label for expander in app.expander]
    for customer in hostile.values():
        assert any(customer.name in visible(label) for label in labels), customer.name
    for label in labels:
        for syntax in STREAMLIT_SYNTAX:
            assert syntax not in label, label
