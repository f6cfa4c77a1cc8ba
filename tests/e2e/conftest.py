"""The dashboard in a real browser: one Streamlit server per test module, Chromium driven
by Playwright (pytest-playwright's ``browser``/``context``/``page`` fixtures).

Each module gets a fresh database (a SQLite file in a temporary folder, or a fresh
PostgreSQL database when the module asks for it), filled through the data layer, and a
``streamlit run server.py`` subprocess on a free loopback port.  The server is stopped
by its process id.  Every test runs in a fresh browser context (no cookies carried over).

Streamlit is settled by its run state (``data-test-script-state`` on the app root), and
every step waits for something a user would see: no fixed sleeps.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import PROJECT_DIR, TEST_DATABASE_URL, _postgres_database
from tests.kit.streamlit_server import StreamlitServer

ARTIFACTS = PROJECT_DIR / "artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
BACKENDS = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])
STARTUP_SECONDS = 60
SESSION_LIFETIME_HOURS = 12  # the default, given explicitly: the cookie test checks it
PASSWORD = "correct horse battery staple"  # every test user's password
SETTLE_MS = 30_000
QUIET_MS = 300

expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            # pytest-playwright's stand-in for pytest-base-url defines its session fixture
            # as a method, which pytest 9 deprecates; nothing for this project to change.
            item.add_marker(
                pytest.mark.filterwarnings(
                    "ignore:Session-scoped fixtures defined as instance methods"
                    ":pytest.PytestRemovedIn10Warning"
                )
            )


# -- the browser ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], chromium: Path
) -> dict[str, Any]:
    """Debian's Chromium (Playwright's browser download is not available here)."""
    return {
        **browser_type_launch_args,
        "executable_path": str(chromium),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_context_args,
        "viewport": {"width": 1400, "height": 1000},
        "accept_downloads": True,
        "locale": "en-GB",
        "timezone_id": "UTC",
    }


# -- the data a module starts with ----------------------------------------------------


@dataclass
class Account:
    username: str
    password: str
    role: str
    tenant_id: str


@dataclass
class Server:
    """A running dashboard and the database behind it."""

    url: str
    database_url: str
    backend: str
    log: Path
    process: subprocess.Popen[bytes]
    cookie_key: str = ""  # the server's COOKIE_KEY: session secrets are stored as its HMAC
    launcher: StreamlitServer | None = None  # tests.kit's: it stops the server
    accounts: dict[str, Account] = field(default_factory=dict)

    def database(self):  # type: ignore[no-untyped-def]
        from data.db import get_database

        return get_database(self.database_url)

    def tenant(self, name: str, roles: tuple[str, ...] = ("admin", "editor", "viewer")) -> str:
        """Create a tenant with one user per role (usernames ``<name>-<role>``)."""
        from data.tenancy import create_tenant
        from data.users import create_user

        with self.database().transaction(None, write=True) as session:
            tenant = create_tenant(session, name)
            for role in roles:
                username = f"{name}-{role}"
                create_user(session, tenant.id, username, role, PASSWORD)
                self.accounts[username] = Account(username, PASSWORD, role, tenant.id)
        return tenant.id

    @contextmanager
    def customers(self, tenant_id: str, *, write: bool = False) -> Iterator[Any]:
        """A ``CustomerRepository`` of the tenant, in a scope of its own (as the operator)."""
        from data.identity import Identity

        operator = Identity.of_operator(tenant_id, "e2e-setup")
        with self.database().scope(operator, write=write) as scope:
            yield scope.customers

    def add_customers(self, tenant_id: str, records: list[dict[str, str | None]]) -> list[Any]:
        with self.customers(tenant_id, write=True) as repository:
            return [repository.create(record) for record in records]

    def all_customers(self, tenant_id: str) -> list[Any]:
        with self.customers(tenant_id) as repository:
            return list(repository.iter_all())

    @contextmanager
    def as_owner(self, tenant_id: str | None = None) -> Iterator[Any]:
        """A connection as the tables' owner, entered into the tenant (PostgreSQL's
        policies hold the owner too): for changes the application could not make, such
        as a role changed behind its back."""
        from sqlalchemy import text

        with self.database().owner_engine().begin() as conn:
            if tenant_id is not None and conn.dialect.name == "postgresql":
                conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})
            yield conn

    def user_id(self, username: str) -> str:
        from data.users import find_user

        found = find_user(self.database(), username)
        assert found is not None, username
        return found.id

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(database_url: str, backend: str, folder: Path) -> Server:
    """Start ``streamlit run server.py`` (as manage.py does) on a free port with the
    launcher ``bench/browser.py`` uses too (``tests.kit.streamlit_server``); return once
    it is healthy."""
    launcher = StreamlitServer(
        database_url,
        log=folder / "streamlit.log",
        env={"BCRYPT_ROUNDS": "4", "SESSION_LIFETIME_HOURS": str(SESSION_LIFETIME_HOURS)},
        drop_env=("PYTEST_XDIST_WORKER",),
        startup_seconds=STARTUP_SECONDS,
    )
    launcher.start()
    assert launcher.process is not None
    assert launcher.log_path is not None
    return Server(
        launcher.url,
        database_url,
        backend,
        launcher.log_path,
        launcher.process,
        launcher.cookie_key,
        launcher=launcher,
    )


@contextmanager
def dashboard(backend: str, folder: Path) -> Iterator[Server]:
    """A freshly migrated database of ``backend`` and a dashboard on it, stopped after."""
    from data.db import Database, reset_databases

    drop = None
    if backend == "sqlite":
        database_url = f"sqlite:///{folder / 'dashboard.db'}"
    else:
        name = f"e2e_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
        database_url, drop = _postgres_database(name)
    owner = Database(database_url)
    owner.migrate()
    owner.dispose()
    running = start_server(database_url, backend, folder)
    try:
        yield running
    finally:
        if running.launcher is not None:
            running.launcher.close()
        reset_databases()
        if drop is not None:
            drop()


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, chromium: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A dashboard on a fresh database, shared by the tests of one module.

    SQLite unless the module parametrises ``server`` indirectly with "postgresql".
    """
    with dashboard(getattr(request, "param", "sqlite"), tmp_path_factory.mktemp("e2e")) as running:
        yield running


# -- driving Streamlit ----------------------------------------------------------------

APP = "[data-testid=stApp]"
_STATE = f"document.querySelector('{APP}')?.getAttribute('data-test-script-state')"


_QUIET = f"""() => {{
    const state = {_STATE};
    const now = performance.now();
    if (state !== window.__e2eState) {{ window.__e2eState = state; window.__e2eSince = now; }}
    return state === 'notRunning' && now - window.__e2eSince >= {QUIET_MS};
}}"""


def settle(page: Page, *, started: bool = False) -> None:
    """Wait until Streamlit has finished the script runs an action caused.

    A click reaches the server asynchronously, so first give the run a moment to start;
    then wait until the app has reported ``notRunning`` for a short quiet spell (a
    script that calls ``st.rerun()`` reports it between its two runs).
    """
    if not started:
        # (A timeout: the run was too quick to observe, or the action caused none.)
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(f"() => {_STATE} !== 'notRunning'", polling="raf", timeout=1000)
    page.evaluate("window.__e2eState = undefined")
    page.wait_for_function(_QUIET, polling="raf", timeout=SETTLE_MS)


def open_app(page: Page, server: Server, path: str = "") -> None:
    page.goto(f"{server.url}/{path}")
    page.wait_for_selector(APP, timeout=SETTLE_MS)
    settle(page, started=True)


COOKIE = "inventory_pro_session"


def sign_in(page: Page, server: Server, username: str, password: str | None = None) -> None:
    """Open the dashboard and sign in; waits until the Customers page is shown and the
    browser has stored the re-login cookie (HttpOnly, set by the server's /_session route
    after the run: page scripts cannot see it, the browser context can)."""
    open_app(page, server)
    fill_sign_in(page, username, password or server.accounts[username].password)
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    deadline = time.monotonic() + SETTLE_MS / 1000
    while not any(c["name"] == COOKIE for c in page.context.cookies()):
        assert time.monotonic() < deadline, "the browser never stored the session cookie"
        page.wait_for_timeout(50)
    settle(page)


def go_to(page: Page, title: str, heading: str | None = None) -> None:
    """Open a page from the sidebar; waits for its heading."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    settle(page)
    expect(main(page).get_by_role("heading", name=heading or title, exact=True)).to_be_visible()
    settle(page, started=True)


def fill_sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    settle(page)


def button(page: Page, name: str, *, exact: bool = True) -> Locator:
    return page.get_by_role("button", name=name, exact=exact)


def click(page: Page, locator: Locator) -> None:
    locator.click()
    settle(page)


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def caption_text(page: Page, pattern: str) -> str:
    locator = main(page).get_by_text(re.compile(pattern))
    expect(locator.first).to_be_visible()
    return str(locator.first.inner_text())


# Streamlit's alerts, and ui.text's literal ones (plain text in a keyed container).
ALERTS = "[data-testid=stAlert], [class*='st-key-literal-alert-']"


def alert(page: Page, text: str | re.Pattern[str]) -> Locator:
    """A message box of the page (not a grid cell that happens to say the same)."""
    return main(page).locator(ALERTS).filter(has_text=text)


def toast(page: Page, text: str) -> None:
    expect(page.get_by_test_id("stToast").filter(has_text=text)).to_be_visible()


def dialog(page: Page) -> Locator:
    found = page.get_by_role("dialog")
    expect(found).to_be_visible()
    return found


def sign_in_page_says(page: Page, notice: str) -> None:
    """The sign-in form is shown, with ``notice`` above it, and nothing of a tenant."""
    expect(main(page).get_by_role("button", name="Sign in")).to_be_visible()
    expect(alert(page, notice)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)


# -- the grid (glide-data-grid on a canvas) -------------------------------------------

ROW_PX = 35
HEADER_PX = 36
TICK_PX = 40


class Grid:
    """The Customers grid: reads cells from the grid's accessible table, edits by keyboard.

    Glide-data-grid paints on a canvas but keeps an ARIA table of the rows in view
    (``role=gridcell``, ``aria-selected``) for screen readers: reading it is reading what
    is shown, and it tells which cell the keyboard is on.  The table is redrawn a moment
    after Streamlit's run ends, so checks of what it shows go through ``expect_*``
    (which retry) rather than a one-off read.  A click selects a cell; typing on a
    selected cell opens its editor with the typed text; Enter commits.
    """

    def __init__(self, page: Page, index: int = 0) -> None:
        self.page = page
        self.frame = main(page).get_by_test_id("stDataFrame").nth(index)
        self.canvas = self.frame.locator("canvas[data-testid=data-grid-canvas]")
        self.table = self.canvas.locator("table")

    # -- reading --------------------------------------------------------------------

    def headers(self) -> list[str]:
        """Column headers; the tick box column (no title) is called "Select"."""
        expect(self.table.locator("tbody [role=row]").first).to_be_attached()
        names = self.table.locator("thead th").all_text_contents()
        return [str(t).strip() or "Select" for t in names]

    def expect_headers(self, names: list[str]) -> None:
        expect(self.table.locator("thead th")).to_have_text(
            ["" if n == "Select" else n for n in names]
        )

    def cells(self, column: str) -> Locator:
        index = self.headers().index(column)
        return self.table.locator(f"tbody td[aria-colindex='{index + 1}']")

    def cell(self, row: int, column: str) -> Locator:
        return self.table.locator(f"#glide-cell-{self.headers().index(column)}-{row}")

    def column(self, name: str) -> list[str]:
        return [str(t).strip() for t in self.cells(name).all_text_contents()]

    def text(self, row: int, column: str) -> str:
        return str(self.cell(row, column).text_content() or "").strip()

    def expect_column(self, name: str, values: list[str], *, rows_in_view: bool = False) -> None:
        """The column shows exactly ``values``; with ``rows_in_view``, the rows that fit
        in view are the first of ``values`` (a page of 50 shows about ten at a time)."""
        if not rows_in_view:
            expect(self.cells(name)).to_have_text(values)
            return
        expect(self.cells(name).first).to_have_text(values[0])
        shown = self.column(name)
        assert len(shown) >= min(5, len(values)), shown
        assert shown == values[: len(shown)]

    # -- acting ---------------------------------------------------------------------

    def _click_row(self, row: int, x_offset: float) -> None:
        settle(self.page, started=True)  # no layout shift between measuring and clicking
        box = self.canvas.bounding_box()
        assert box is not None
        self.page.mouse.click(box["x"] + x_offset, box["y"] + HEADER_PX + ROW_PX * (row + 0.5))

    def select(self, row: int, column: str) -> None:
        """Click a cell of a row in view; waits until the grid reports it selected."""
        names = self.headers()
        # Click the first text column of the row, then walk with the arrow keys: the
        # column widths are only known to the canvas, the order is in the ARIA table.
        # (The Customers grid starts with its tick box column; other grids do not.)
        start = 1 if names[0] == "Select" else 0
        first = self.table.locator(f"#glide-cell-{start}-{row}")
        for attempt in range(3):
            self._click_row(row, TICK_PX + 30 if start else 10)
            try:
                expect(first).to_have_attribute("aria-selected", "true", timeout=3000)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        for _ in range(names.index(column) - start):
            self.page.keyboard.press("ArrowRight")
        expect(self.cell(row, column)).to_have_attribute("aria-selected", "true")

    def pick(self, row: int, column: str, option: str) -> None:
        """Choose ``option`` in a cell of a select box column (Enter opens its list).

        A rerun that the previous edit started can re-mount the grid under the click
        and drop it (seen on a loaded machine): then the cell still shows its old value,
        and the choice is made again, as a user would, at most three times.
        """
        for attempt in range(3):
            self.select(row, column)
            self.page.keyboard.press("Enter")
            self.page.locator("#portal").get_by_role("option", name=option, exact=True).click()
            try:
                expect(self.cell(row, column)).to_have_text(option, timeout=5_000)
                break
            except AssertionError:
                if attempt == 2:
                    raise
                settle(self.page)
        settle(self.page)

    def type_into(self, row: int, column: str, text: str) -> None:
        """Replace a cell's value by typing (typing opens the editor), then Enter."""
        self.select(row, column)
        # The first key opens the cell's editor; keys typed while it mounts can be lost,
        # so the text goes into the editor once it has the focus.
        self.page.keyboard.press("x")
        editor = self.page.locator("#portal textarea.gdg-input")
        expect(editor).to_be_focused()
        editor.fill(text)
        editor.press("Enter")
        expect(editor).to_have_count(0)
        expect(self.cell(row, column)).to_have_text(text)
        settle(self.page)

    def row(self, row: int) -> Locator:
        return self.table.locator(f"tbody tr[aria-rowindex='{row + 2}']")

    def choose(self, row: int) -> None:
        """Choose a row of a selectable table (``on_select``) by its row marker (a tick
        box left of the first column, which the accessible table does not list)."""
        expect(self.row(row)).to_have_attribute("aria-selected", "false")
        self._click_row(row, TICK_PX / 2)
        expect(self.row(row)).to_have_attribute("aria-selected", "true")
        settle(self.page)

    def tick(self, row: int) -> None:
        """Tick the Select box of a row in view."""
        box = self.cell(row, "Select")
        expect(box).to_have_text("false")
        self._click_row(row, TICK_PX / 2)
        expect(box).to_have_text("true")
        settle(self.page)


# -- screenshots ----------------------------------------------------------------------


class Shots:
    """Numbered screenshots of each step into artifacts/e2e/<test>/ (git-ignored)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    def __call__(self, page: Page, step: str, *, full_page: bool = False) -> Path:
        """A screenshot; ``full_page`` grows the window to the page's height for it
        (Streamlit scrolls inside its main area, not the document)."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        viewport = page.viewport_size
        if full_page and viewport:
            height = page.evaluate(
                "() => { const m = document.querySelector('[data-testid=stMain]');"
                " return m ? m.scrollHeight : document.body.scrollHeight; }"
            )
            page.set_viewport_size({"width": viewport["width"], "height": min(int(height), 4000)})
        try:
            page.screenshot(path=str(path), animations="disabled")
        finally:
            if full_page and viewport:
                page.set_viewport_size(viewport)
        return path


def _artifact_folder(item: pytest.Item) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", item.name).strip("-")
    return ARTIFACTS / Path(str(item.path)).stem / name


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(_artifact_folder(request.node))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        _record_failure(item, report)
    return report


def _record_failure(item: pytest.Item, report: pytest.TestReport) -> None:
    """On failure: a screenshot of every open page, and the server's last log lines."""
    funcargs = getattr(item, "funcargs", {})
    folder = _artifact_folder(item)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("page", "second_page"):
        page = funcargs.get(name)
        if page is None:
            continue
        for index, open_page in enumerate(page.context.pages):
            try:
                open_page.screenshot(path=str(folder / f"failure-{name}-{index}.png"))
            except Exception:  # noqa: S112 - a closed page has nothing to show
                continue
    running = funcargs.get("server")
    if isinstance(running, Server):
        report.sections.append(("dashboard server log (last lines)", running.log_tail()))


@pytest.fixture
def second_page(browser: Browser, browser_context_args: dict[str, Any]) -> Iterator[Page]:
    """A page in a second, independent browser context (another user's browser)."""
    context: BrowserContext = browser.new_context(**browser_context_args)
    try:
        yield context.new_page()
    finally:
        context.close()
