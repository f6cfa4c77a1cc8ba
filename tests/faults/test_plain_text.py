"""SQL, HTML, markdown, formulas and control characters are stored and shown as plain text.

(SPEC §9.)  Each hostile text goes in as a customer's name, phone and address, through
the repository and the API, and comes back byte for byte; searching for SQL's ``%``,
``_``, quotes and backslashes finds exactly the customers that contain them; the export
neutralises what a spreadsheet would run and re-imports to no change; and the dashboard
shows the text as it is, in the grid, in every message that names a customer, and in
History.

"Shown as it is" (issue 13) means: user text goes only to elements that show text
literally (``st.text``, the dashboard's literal alerts of ``ui.text``, table cells),
never to one that Streamlit renders as Markdown (markdown, captions, its own alerts,
toasts, labels, expander titles), where ``![x](url)`` would become a remote image,
``[text](url)`` a link, a bare URL an autolink, and ``:red[...]`` or ``$...$`` styling.
"""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from data.cells import neutralise_cell
from data.csv_export import export_csv
from data.importing import import_file
from tests.faults.helpers import tenant_state
from tests.ui.conftest import alerts, button

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
SEARCHES = ["%", "_", "'", "\\", "--", "<script>", "$x^2$", '"']


def hostile_customer(case: str, tag: str) -> dict[str, str]:
    text = HOSTILE[case]
    return {
        "name": text,
        "email": f"{case}.{tag}@example.com",
        "phone": PHONES[case],
        "address": f'{text}\nline 2, "quoted", ;semicolon',
    }


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


def test_export_neutralises_formulas_and_reimports_to_no_change(
    database, tenant, hostile, identity_of
):
    editor = identity_of(tenant.editor)
    out = io.BytesIO()
    export_csv(database, editor, out)
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(out.getvalue().decode()))}
    for customer in hostile.values():
        row = rows[customer.email]
        for field in ("name", "phone", "address"):
            value = getattr(customer, field)
            assert row[field] == neutralise_cell(value)
            assert row[field][:1] not in ("=", "+", "-", "@", "\t", "\r")

    before = tenant_state(database, tenant.id)
    summary = import_file(
        database,
        editor,
        io.BytesIO(out.getvalue()),
        filename="export.csv",
        mode="upsert",
    )
    assert (summary.invalid, summary.created, summary.updated) == (0, 0, 0)
    assert summary.unchanged == len(hostile)
    assert tenant_state(database, tenant.id).customers == before.customers


MARKDOWN_ELEMENTS = (
    "markdown",
    "caption",
    "title",
    "header",
    "subheader",
    "info",
    "warning",
    "error",
    "success",
    "toast",
    "latex",
)
LABELLED = ("button", "text_input", "text_area", "selectbox", "checkbox", "radio", "expander")
# Pieces of the hostile texts that no Markdown-rendered string of ours contains.
MARKERS = ("evil.example", "<script>", "onerror", ":red[", ":material/warning:", "$x^2$", "DROP")


def markdown_rendered(app) -> list[str]:  # type: ignore[no-untyped-def]
    """Every string of the page that Streamlit renders as Markdown."""
    sources = []
    for kind in MARKDOWN_ELEMENTS:
        sources += [str(element.value) for element in getattr(app, kind)]
    for kind in LABELLED:
        for widget in getattr(app, kind):
            sources += [str(widget.label), str(getattr(widget, "help", "") or "")]
    return sources


def assert_no_user_text_rendered(app, customers) -> None:  # type: ignore[no-untyped-def]
    sources = markdown_rendered(app)
    assert sources, "the page rendered nothing at all"
    values = [v for c in customers for v in (c.name, c.phone, c.address) if v]
    for source in sources:
        leaked = [v for v in (*values, *MARKERS) if v in source]
        assert leaked == [], f"user text rendered as Markdown in {source!r}"


def literal_texts(app) -> str:  # type: ignore[no-untyped-def]
    """What the page shows as plain text: st.text (literal alerts included) and tables."""
    parts = [str(t.value) for t in app.text]
    parts += [frame.value.to_csv() for frame in app.dataframe]
    return "\n".join(parts)


def test_the_customers_page_shows_hostile_text_only_literally(
    dashboard, tenant, hostile, customers_of
):
    from tests.ui.test_customers_page import edit, grid_rows

    customers = list(hostile.values())
    app = dashboard(tenant.editor)
    assert not app.exception
    grid = grid_rows(app)
    shown = {row["Email"]: row for row in grid.to_dict("records")}
    for customer in customers:
        row = shown[customer.email]
        assert [row["Name"], row["Phone"], row["Address"]] == [
            customer.name,
            customer.phone,
            customer.address,
        ]
    assert_no_user_text_rendered(app, customers)

    # Someone else changes a customer: the conflict message names it, literally.
    target = hostile["markdown"]
    position = list(grid["Email"]).index(target.email)
    with customers_of(tenant, tenant.admin, write=True) as repository:
        repository.update(target.id, target.fields() | {"phone": "theirs"})
    edit(app, {position: {"Phone": "mine"}})
    button(app, "Save changes").click().run()
    assert not app.exception
    conflicts = [w for w in alerts(app, "warning") if "Changed by someone else" in w]
    assert conflicts == [
        f"{target.name} — Changed by someone else since you loaded it; choose whose values to keep."
    ]
    assert_no_user_text_rendered(app, customers)
    button(app, "Keep theirs").click().run()

    # Delete asks first, listing the customers; then the Undo bar says whom it deleted.
    names = sorted(c.name for c in customers)
    ticked = {i: {"Select": True} for i, name in enumerate(grid_rows(app)["Name"]) if name in names}
    assert len(ticked) == len(customers)
    edit(app, ticked)
    button(app, "Delete").click().run()
    assert not app.exception
    [listed] = [f.value for f in app.dataframe if list(f.value.columns) == ["Name"]]
    assert sorted(listed["Name"]) == names
    assert_no_user_text_rendered(app, customers)
    confirm = [b for b in app.button if b.label == "Delete" and b.proto.type == "primary"]
    confirm[0].click().run()
    [deleted] = alerts(app, "success")
    first_three = [name for name in grid["Name"] if name in names][:3]
    assert deleted == f"Deleted {len(customers)} customers: " + ", ".join(first_three) + "…"
    assert_no_user_text_rendered(app, customers)
    button(app, "Undo").click().run()
    with customers_of(tenant) as repository:
        assert {c.id for c in repository.get_many(c.id for c in customers).values()} == {
            c.id for c in customers
        }

    # Adding one: the toast is a fixed sentence; the name is nowhere rendered.
    button(app, "Add Customer").click().run()
    fields = {t.label: t for t in app.text_input}
    fields["Customer Name *"].input(HOSTILE["markdown"])
    fields["Email *"].input(f"added.{uuid.uuid4().hex[:8]}@example.com")
    button(app, "Save Customer").click().run()
    assert not app.exception
    assert [t.value for t in app.toast] == ["The customer was added."]
    assert_no_user_text_rendered(app, customers)
    assert HOSTILE["markdown"] in literal_texts(app)  # in the grid, as it is


def test_history_shows_hostile_names_only_literally(dashboard, tenant, hostile):
    from tests.ui.test_pages import choose_event, history_rows

    customers = list(hostile.values())
    app = dashboard(tenant.editor, page="history")
    assert not app.exception
    about = [row[1] for row in history_rows(app)]
    assert sorted(about) == sorted(c.name for c in customers)
    assert_no_user_text_rendered(app, customers)
    for row in range(len(customers)):
        choose_event(app, row)
        assert not app.exception
        assert about[row] in literal_texts(app)
        assert_no_user_text_rendered(app, customers)
