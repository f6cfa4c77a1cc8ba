"""User text is shown literally everywhere: no Markdown, HTML or autolinks from data.

Markdown that would fetch a remote image, a link that could phish, raw HTML and a bare
URL are planted in every field that can hold them: a customer's name, phone and
address, a user's display name, the tenant's name, a CSV file's name and header, and
the search box.  Every page that shows them is visited; on each, the page must hold no
<img> or <a> (nor any other element) pointing at the planted hosts, the browser must
never have asked for them, and the planted text must be on screen as typed.

Runs on SQLite and, when ``TEST_DATABASE_URL`` is set, on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e.conftest import (
    BACKENDS,
    PASSWORD,
    Account,
    Grid,
    Server,
    Shots,
    alert,
    button,
    click,
    dialog,
    go_to,
    main,
    settle,
    sign_in,
)

pytestmark = pytest.mark.parametrize("server", BACKENDS, indirect=True, scope="module")

HOSTS = ("127.0.0.1:9", "example.org")
IMG = "![x](http://127.0.0.1:9/beacon.png)"
LINK = "[Session expired](http://127.0.0.1:9/phish)"
HTML = "<img src=http://127.0.0.1:9/x.png>"
BARE = "www.example.org/phish"
ALL = f"{IMG} {LINK} {HTML} {BARE}"

NAME = f"Mallory {ALL}"
PHONE = LINK
ADDRESS = f"{IMG}\n{LINK}\n{HTML}\n{BARE}"
DISPLAY = f"Eve {LINK} {BARE}"
HEADER = [IMG, LINK, HTML, BARE]
FILE_NAME = f"{IMG} {HTML} {BARE}.csv"

# Every element that could make the browser fetch or navigate to a planted host.
_POINTING = """(hosts) => [...document.querySelectorAll('[src], [href], [srcset], [action]')]
  .map(e => [e.tagName, e.getAttribute('src') || e.getAttribute('href')
             || e.getAttribute('srcset') || e.getAttribute('action') || ''])
  .filter(([, url]) => hosts.some(h => url.includes(h)))"""


@dataclass
class Planted:
    tenant: str
    prefix: str
    customer_id: str


@pytest.fixture
def requests_to_planted_hosts(page: Page) -> Iterator[list[str]]:
    """Every request the page's browser made to a planted host (there must be none)."""
    seen: list[str] = []

    def record(request: Request) -> None:
        if any(host in request.url for host in HOSTS):
            seen.append(request.url)

    page.context.on("request", record)
    yield seen
    assert seen == []


def no_planted_links(page: Page) -> None:
    """Nothing in the page points at a planted host; checked once Streamlit is idle."""
    settle(page, started=True)
    assert page.evaluate(_POINTING, list(HOSTS)) == []
    for frame in page.frames[1:]:  # components (the cookie manager) are iframes
        if not frame.is_detached():
            assert frame.evaluate(_POINTING, list(HOSTS)) == []


def mallorys_row(grid: Grid) -> int:
    """The grid row of the customer named with the planted text (sorting varies by
    database collation), once the grid shows it."""
    expect(grid.cells("Name")).to_have_count(3)
    names = grid.column("Name")
    assert NAME in names, names
    return names.index(NAME)


def shown_literally(page: Page, text: str) -> None:
    """``text`` is on screen as typed, in some element's own text."""
    expect(main(page).get_by_text(text, exact=False).first).to_be_visible()


@pytest.fixture(scope="module")
def tenant(server: Server) -> Planted:
    """A tenant whose name, users' display names and customers hold the planted text."""
    from data.tenancy import create_tenant
    from data.users import create_user

    prefix = f"md{uuid.uuid4().hex[:6]}"
    with server.database().transaction(None, write=True) as session:
        made = create_tenant(session, f"Tenant {LINK} {BARE} {prefix}")
        for role in ("admin", "editor", "viewer"):
            username = f"{prefix}-{role}"
            create_user(
                session, made.id, username, role, PASSWORD, display_name=f"{DISPLAY} {role}"
            )
            server.accounts[username] = Account(username, PASSWORD, role, made.id)
    [mallory, _twin, _plain] = server.add_customers(
        made.id,
        [
            {"name": NAME, "email": "mallory@example.com", "phone": PHONE, "address": ADDRESS},
            {"name": NAME.upper(), "email": "twin@example.com"},  # a suspected duplicate
            {"name": "Plain Person", "email": "plain@example.com"},
        ],
    )
    return Planted(made.id, prefix, mallory.id)


def test_customers_grid_dialogs_search_and_undo_bar(
    page: Page, server: Server, tenant: Planted, shot: Shots, requests_to_planted_hosts: list[str]
) -> None:
    sign_in(page, server, f"{tenant.prefix}-editor")
    grid = Grid(page)
    row = mallorys_row(grid)
    expect(grid.cell(row, "Phone")).to_have_text(PHONE)
    expect(grid.cell(row, "Address")).to_contain_text(IMG)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(f"Signed in as {DISPLAY} editor · editor")).to_be_visible()
    no_planted_links(page)
    shot(page, "customers")

    # The search box, with the planted text typed in: nothing matches, nothing renders.
    box = main(page).get_by_placeholder("Search name, email or phone")
    box.fill(LINK)
    box.press("Enter")
    settle(page)
    expect(box).to_have_value(LINK)
    no_planted_links(page)
    shot(page, "searched")
    box.fill("")
    box.press("Enter")
    settle(page)

    # The Edit dialog, prefilled.
    Grid(page).tick(mallorys_row(Grid(page)))
    click(page, button(page, "Edit"))
    form = dialog(page)
    expect(form.get_by_label("Customer Name *")).to_have_value(NAME)
    expect(form.get_by_label("Phone")).to_have_value(PHONE)
    expect(form.get_by_label("Address")).to_have_value(ADDRESS)
    no_planted_links(page)
    shot(page, "edit-dialog")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    settle(page)

    # Delete: the confirmation names them, the Undo bar too, literally.
    click(page, button(page, "Delete"))
    confirm = dialog(page)
    expect(confirm).to_contain_text(NAME)
    no_planted_links(page)
    shot(page, "delete-confirmation")
    click(page, confirm.get_by_role("button", name="Delete", exact=True))
    expect(alert(page, f"Deleted 1 customer: {NAME}")).to_be_visible()
    no_planted_links(page)
    shot(page, "undo-bar")
    click(page, main(page).get_by_role("button", name="Undo"))
    expect(alert(page, "Deleted 1 customer")).to_have_count(0)
    no_planted_links(page)


def test_conflict_view(
    page: Page, server: Server, tenant: Planted, shot: Shots, requests_to_planted_hosts: list[str]
) -> None:
    sign_in(page, server, f"{tenant.prefix}-editor")
    Grid(page).type_into(mallorys_row(Grid(page)), "Phone", "+1 555 0100")
    with server.customers(tenant.tenant, write=True) as repository:
        current = repository.get(tenant.customer_id)
        repository.update(
            tenant.customer_id,
            {"name": NAME, "email": "mallory@example.com", "phone": BARE, "address": ADDRESS},
            expected_version=current.version,
        )
    click(page, main(page).get_by_role("button", name=re.compile(r"^(save)?Save changes")))
    expect(alert(page, f"{NAME} — Changed by someone else")).to_be_visible()
    compared = Grid(page, 1)
    expect(compared.table).to_contain_text(BARE)
    expect(compared.table).to_contain_text(IMG)
    no_planted_links(page)
    shot(page, "conflict", full_page=True)
    click(page, main(page).get_by_role("button", name="Keep theirs"))
    no_planted_links(page)


def test_history_list_and_detail(
    page: Page, server: Server, tenant: Planted, shot: Shots, requests_to_planted_hosts: list[str]
) -> None:
    sign_in(page, server, f"{tenant.prefix}-editor")
    go_to(page, "History")
    events = Grid(page)
    expect(events.cells("About").first).to_contain_text("Mallory")
    no_planted_links(page)
    shot(page, "history")
    abouts = events.column("About")
    row = abouts.index(NAME)
    events.choose(row)
    shown_literally(page, f"· {NAME} · by ")
    detail = Grid(page, 1)
    expect(detail.table).to_contain_text(PHONE)
    no_planted_links(page)
    shot(page, "history-detail", full_page=True)


def test_overview_users_account_and_sidebar(
    page: Page, server: Server, tenant: Planted, shot: Shots, requests_to_planted_hosts: list[str]
) -> None:
    sign_in(page, server, f"{tenant.prefix}-admin")
    go_to(page, "Overview")
    no_planted_links(page)
    shot(page, "overview", full_page=True)

    # The planted name and its upper-case twin are a suspected pair: queue and comparison.
    go_to(page, "Duplicates")
    expect(Grid(page).cells("Name 1").first).to_have_text(re.compile(re.escape(NAME), re.I))
    Grid(page).choose(0)
    expect(Grid(page, 1).cells("Customer 1").first).to_have_text(re.compile(re.escape(NAME), re.I))
    no_planted_links(page)
    shot(page, "duplicates", full_page=True)

    go_to(page, "Users")
    expect(Grid(page).cells("Name")).to_contain_text([f"{DISPLAY} admin"])
    no_planted_links(page)
    shot(page, "users", full_page=True)

    go_to(page, "Account")
    shown_literally(page, f"{DISPLAY} admin ({tenant.prefix}-admin) · admin")
    expect(
        page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {DISPLAY} admin · admin")
    ).to_be_visible()
    no_planted_links(page)
    shot(page, "account", full_page=True)


def test_import_file_name_header_preview_and_mapping(
    page: Page, server: Server, tenant: Planted, shot: Shots, requests_to_planted_hosts: list[str]
) -> None:
    sign_in(page, server, f"{tenant.prefix}-editor")
    go_to(page, "Import CSV", "Import customers")
    content = (
        ";".join(["Customer Name", "E-mail", *HEADER])
        + "\n"
        + ";".join([NAME, "new.person@example.com", IMG, LINK, HTML, BARE])
        + "\n"
    ).encode()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": FILE_NAME, "mimeType": "text/csv", "buffer": content}]
    )
    settle(page)
    shown_literally(page, f"File: {FILE_NAME}")
    mapping = Grid(page, 0)
    mapping.expect_column("Column", ["Customer Name", "E-mail", *HEADER])
    mapping.expect_column("First row", [NAME, "new.person@example.com", IMG, LINK, HTML, BARE])
    no_planted_links(page)
    shot(page, "import-mapping", full_page=True)

    click(page, main(page).get_by_role("button", name="Check the file"))
    preview = Grid(page, 1)
    preview.expect_column("Name", [NAME])
    shown_literally(page, "Ignored columns: " + ", ".join(HEADER))
    no_planted_links(page)
    shot(page, "import-checked", full_page=True)

    click(page, main(page).get_by_role("button", name=re.compile("^(upload)?Import 1 row$")))
    expect(alert(page, f"Imported {FILE_NAME}: 1 created")).to_be_visible()
    no_planted_links(page)
    shot(page, "imported", full_page=True)
