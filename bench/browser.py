"""The Customers page in Chromium: wall-clock time until the page shows what was asked.

The dashboard as served (``streamlit run server.py``, started by ``tests.kit``'s launcher,
the one the browser tests use) over the bench database, and Debian's Chromium driven by
Playwright, headless, with the flags of the browser tests.  Each step starts its clock
just before the user's action (opening the page, clicking Next, typing a page number or
a search and pressing Enter) and stops it when Streamlit reports its script run
``notRunning`` *and* the grid's first row holds the email the data layer gives for the
same query (emails are unique; names repeat).

Steps, signed in as an editor of the big tenant:

* open the Customers page in a new tab (the re-login cookie signs the tab in);
* the next page; a deep jump (a page number typed into "Go to page"); the last page;
* a search; a deep jump right after a rename (the name order's anchors recomputed: cold).

Warm steps are repeated and the median reported.  Opening the page has an anchor, timed
in the same round just before it: a new tab of ``minimal_page.py``, a page of nothing but
a 50-row ``st.data_editor`` served the same way, which is what Streamlit and Chromium
cost on this machine before any of our work.
"""

from __future__ import annotations

import functools
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

from tests.kit.streamlit_server import StreamlitServer  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
APP = "[data-testid=stApp]"
MINIMAL_PAGE = PROJECT_DIR / "bench" / "minimal_page.py"
MINIMAL_EMAIL = "anchor0@example.com"  # minimal_page.FIRST_EMAIL
TIMEOUT_MS = 120_000
COOKIE = "inventory_pro_session"


@dataclass
class Step:
    label: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def worst(self) -> float:
        return max(self.samples)


@dataclass
class BrowserFigures:
    database: str
    steps: dict[str, Step] = field(default_factory=dict)
    anchors: dict[str, Step] = field(default_factory=dict)  # by step, where it has one
    note: str = ""

    def add(self, name: str, seconds: float) -> None:
        self.steps.setdefault(name, Step(name)).samples.append(seconds)

    def add_anchor(self, name: str, seconds: float) -> None:
        self.anchors.setdefault(name, Step(name)).samples.append(seconds)


def available() -> str | None:
    """None when Chromium and Playwright are there; else why not."""
    if not CHROMIUM.exists():
        return "no /usr/bin/chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed"
    return None


_STATE = f"document.querySelector('{APP}')?.getAttribute('data-test-script-state')"

# True once the app is idle and the grid's first row shows the wanted email (and, for a
# page number, the caption names the page).
_SHOWS = """([wanted, caption]) => {
    const app = document.querySelector('[data-testid=stApp]');
    if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    const main = document.querySelector('[data-testid=stMain]');
    if (!main) return false;
    if (caption && !main.innerText.includes(caption)) return false;
    const table = main.querySelector('[data-testid=stDataFrame] canvas table');
    if (!table) return false;
    const heads = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
    const column = heads.indexOf('Email');
    if (column < 0) return false;
    const cell = table.querySelector(`tbody td[aria-colindex='${column + 1}']`);
    return !!cell && cell.textContent.trim() === wanted;
}"""


def measure(
    database_url: str,
    *,
    label: str,
    username: str,
    password: str,
    first_email: Callable[..., str],
    write: Callable[[], None],
    rows: int,
    repeat: int = 3,
    search: str = "nakamura",
    progress: Callable[[str], None] = print,
) -> BrowserFigures:
    """Drive the Customers page; ``first_email(**query)`` is the data layer's answer."""
    from playwright.sync_api import sync_playwright

    figures = BrowserFigures(label)
    size = 50
    pages = max(1, -(-rows // size))
    dashboard = StreamlitServer(database_url).start()
    # The anchor of "open": a page of just the grid (``minimal_page.py``), same server.
    minimal = StreamlitServer(database_url, script=str(MINIMAL_PAGE)).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()

            def wait_for(email: str, caption: str = "") -> None:
                page.wait_for_function(
                    _SHOWS, arg=[email, caption], polling="raf", timeout=TIMEOUT_MS
                )

            def timed(action: Callable[[], None], email: str, caption: str = "") -> float:
                started = time.perf_counter()
                action()
                wait_for(email, caption)
                return time.perf_counter() - started

            # Sign in once (not timed): the form, then the Customers page with its cookie.
            page.goto(dashboard.url)
            page.get_by_label("Username").fill(username)
            page.get_by_role("textbox", name="Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            wait_for(first_email(offset=0))
            # The session cookie is HttpOnly (set by the server's /_session route): the
            # browser context sees it, page scripts cannot.
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while not any(c["name"] == COOKIE for c in context.cookies()):
                if time.monotonic() > deadline:
                    raise SystemExit("bench: the browser never stored the session cookie")
                page.wait_for_timeout(50)
            page.wait_for_timeout(1000)
            # The anchor's page loaded once too, so that both open from a warm cache.
            warm = context.new_page()
            warm.goto(minimal.url)
            warm.wait_for_function(
                _SHOWS, arg=[MINIMAL_EMAIL, ""], polling="raf", timeout=TIMEOUT_MS
            )

            def main() -> Any:
                return page.get_by_test_id("stMain")

            def jump(number: int) -> None:
                box = main().get_by_role("spinbutton", name=re.compile("Go to page"))
                box.fill(str(number))
                box.press("Enter")

            def search_for(text: str) -> None:
                box = main().get_by_placeholder("Search name, email or phone")
                box.fill(text)
                box.press("Enter")

            deep = [pages // 3, pages // 2 + 7, pages * 2 // 3]
            for attempt in range(repeat):
                progress(f"    {label}: browser round {attempt + 1} of {repeat}")
                anchor_tab = context.new_page()
                started = time.perf_counter()
                anchor_tab.goto(minimal.url)
                anchor_tab.wait_for_function(
                    _SHOWS, arg=[MINIMAL_EMAIL, ""], polling="raf", timeout=TIMEOUT_MS
                )
                figures.add_anchor(
                    "open the Customers page (new tab, signed in)", time.perf_counter() - started
                )
                anchor_tab.close()
                tab = context.new_page()
                started = time.perf_counter()
                tab.goto(dashboard.url)
                tab.wait_for_function(
                    _SHOWS, arg=[first_email(offset=0), ""], polling="raf", timeout=TIMEOUT_MS
                )
                figures.add(
                    "open the Customers page (new tab, signed in)", time.perf_counter() - started
                )
                page.close()
                page = tab
                figures.add(
                    "next page",
                    timed(
                        lambda: main().get_by_role("button", name="Next").click(),
                        first_email(offset=size),
                        f"page 2 of {pages:,}",
                    ),
                )
                number = deep[attempt % len(deep)] + attempt
                figures.add(
                    "deep jump (page number typed)",
                    timed(
                        functools.partial(jump, number),
                        first_email(offset=(number - 1) * size),
                        f"page {number:,} of {pages:,}",
                    ),
                )
                figures.add(
                    "last page",
                    timed(
                        lambda: jump(pages),
                        first_email(offset=(pages - 1) * size),
                        f"page {pages:,} of {pages:,}",
                    ),
                )
                # Someone renames a customer, then a deep page: the name order's anchors
                # are recomputed.
                write()
                number = deep[(attempt + 1) % len(deep)] - attempt
                figures.add(
                    "deep jump after a rename (cold)",
                    timed(
                        functools.partial(jump, number),
                        first_email(offset=(number - 1) * size),
                        f"page {number:,} of {pages:,}",
                    ),
                )
                figures.add(
                    f"search “{search}”",
                    timed(lambda: search_for(search), first_email(offset=0, search=search)),
                )
            context.close()
            browser.close()
    finally:
        dashboard.close()
        minimal.close()
    return figures
