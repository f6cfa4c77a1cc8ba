"""The Customers page in Chromium: wall-clock time until the page shows what was asked.

A ``streamlit run dashboard.py`` server (a subprocess on a free loopback port) over the
bench database, and Debian's Chromium driven by Playwright, headless, with the flags of
the browser tests.  Each step starts its clock just before the user's action (opening
the page, clicking Next, typing a page number or a search and pressing Enter) and stops
it when Streamlit reports its script run ``notRunning`` *and* the grid's first row holds
the email the data layer gives for the same query (emails are unique; names repeat).

Steps, signed in as an editor of the big tenant:

* open the Customers page in a new tab (the re-login cookie signs the tab in);
* the next page; a deep jump (a page number typed into "Go to page"); the last page;
* a search; a deep jump right after a rename (the name order's anchors recomputed: cold).

Warm steps are repeated and the median reported.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
APP = "[data-testid=stApp]"
TIMEOUT_MS = 120_000


@dataclass
class Step:
    label: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def worst(self) -> float:
        return max(self.samples)


@dataclass
class BrowserFigures:
    database: str
    steps: dict[str, Step] = field(default_factory=dict)
    note: str = ""

    def add(self, name: str, seconds: float) -> None:
        self.steps.setdefault(name, Step(name)).samples.append(seconds)


def available() -> str | None:
    """None when Chromium and Playwright are there; else why not."""
    if not CHROMIUM.exists():
        return "no /usr/bin/chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310
            return bool(response.read().decode().strip() == "ok")
    except (urllib.error.URLError, OSError):
        return False


class Dashboard:
    """``streamlit run dashboard.py`` on a free port, stopped by its process id."""

    def __init__(self, database_url: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "COOKIE_KEY": secrets.token_urlsafe(48),
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "streamlit", "run", "dashboard.py"]
        command += ["--server.headless", "true", "--server.port", str(self.port)]
        command += ["--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
        command += ["--browser.gatherUsageStats", "false"]
        self.process = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while not _healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"bench: the dashboard did not start:\n{self.output()}")
            time.sleep(0.2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


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
    dashboard = Dashboard(database_url)
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
            page.wait_for_function(
                "() => document.cookie.includes('inventory_pro_session=')", timeout=TIMEOUT_MS
            )
            page.wait_for_timeout(1000)

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
                        lambda number=number: jump(number),
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
                        lambda number=number: jump(number),
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
        dashboard.stop()
    return figures
