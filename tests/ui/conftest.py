"""AppTest helpers: the dashboard run in-process against the test database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PROJECT = Path(__file__).resolve().parents[2]
DASHBOARD = str(PROJECT / "dashboard.py")


def open_dashboard(user=None, page: str | None = None) -> AppTest:  # type: ignore[no-untyped-def]
    """The dashboard, signed in as ``user`` (or not), optionally switched to ``page``."""
    from ui.auth import SESSION, SignedIn

    app = AppTest.from_file(DASHBOARD, default_timeout=30)
    if user is not None:
        app.session_state[SESSION] = SignedIn(user.id, time.time())
    app.run()
    if page is not None and page != "customers":
        app.switch_page(f"pages/{page}.py").run()
    return app


def texts(app: AppTest) -> str:
    """Everything the page says, as one string (for 'is this shown' checks)."""
    parts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "error",
        "warning",
        "success",
        "text",
    ):
        parts += [str(element.value) for element in getattr(app, kind)]
    for frame in app.dataframe:
        parts.append(frame.value.to_csv())
    for table in app.table:
        parts.append(table.value.to_csv())
    return "\n".join(parts)


def button(app: AppTest, label: str):  # type: ignore[no-untyped-def]
    matches = [b for b in app.button if b.label == label or b.label.startswith(label)]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in app.button]}"
    return matches[0]


@pytest.fixture
def dashboard(database):  # type: ignore[no-untyped-def]
    """``dashboard(user=None, page=None)`` → a run AppTest on the test database."""
    return open_dashboard
