"""AppTest helpers: the dashboard run in-process against the test database.

A signed-in browser holds one ``Identity`` in its Streamlit session (``ui.auth.IDENTITY``)
naming a real session row; the helpers open one for the user (``identity_of``), so every
run of the dashboard reads the user's rights from the database, as in production.

User text is shown by ``ui.text`` in plain-text elements inside a keyed container
(``literal-alert-<kind>-<n>``); ``alerts`` reads those and Streamlit's own alerts alike,
so a test asks "which error does the page show", not "which element drew it".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

PROJECT = Path(__file__).resolve().parents[2]
DASHBOARD = str(PROJECT / "dashboard.py")
ALERT_KINDS = ("error", "warning", "info", "success")


def open_dashboard(identity: Any = None, page: str | None = None) -> AppTest:
    """The dashboard, signed in with ``identity`` (or not), optionally switched to ``page``."""
    from ui.auth import IDENTITY

    app = AppTest.from_file(DASHBOARD, default_timeout=60)
    if identity is not None:
        app.session_state[IDENTITY.name] = identity
    app.run()
    if page is not None and page != "customers":
        app.switch_page(f"pages/{page}.py").run()
    return app


def alerts(app: AppTest, kind: str) -> list[str]:
    """The messages of one kind the page shows: Streamlit's alerts and ``ui.text``'s."""
    assert kind in ALERT_KINDS
    found = [str(element.value) for element in getattr(app, kind)]
    for block in app.container:
        key = block.key or ""
        if key.startswith(f"literal-alert-{kind}-"):
            found.append("\n".join(str(t.value) for t in block.text))
    return found


def literal_alert_texts(app: AppTest) -> list[str]:
    return [text for kind in ALERT_KINDS for text in alerts(app, kind) if text]


def texts(app: AppTest) -> str:
    """Everything the page says, as one string (for 'is this shown' checks)."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "code"):
        parts += [str(element.value) for element in getattr(app, kind)]
    for kind in ALERT_KINDS:
        parts += alerts(app, kind)
    for frame in app.dataframe:
        parts.append(frame.value.to_csv())
    for table in app.table:
        parts.append(table.value.to_csv())
    return "\n".join(parts)


def button(app: AppTest, label: str):  # type: ignore[no-untyped-def]
    matches = [b for b in app.button if b.label == label or b.label.startswith(label)]
    assert matches, f"no button {label!r}; buttons: {[b.label for b in app.button]}"
    return matches[0]


def titles(app: AppTest) -> list[str]:
    return [str(t.value) for t in app.title]


@pytest.fixture(autouse=True)
def navigation_by_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run goes through ``dashboard.py`` and its ``st.navigation``, as on a server.

    AppTest starts each run as a freshly started server does: with a ``pages/`` folder
    beside the script, Streamlit would run a switched-to page alone, without the entry
    (the browser tests cover that first request).  Here, as on a server that has run the
    entry once, ``st.navigation`` decides, so a page runs only if the entry lists it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def dashboard(database, identity_of):  # type: ignore[no-untyped-def]
    """``dashboard(user=None, page=None)`` → a run AppTest on the test database.

    ``user`` is a ``UserInfo`` (a session is opened for it) or an ``Identity``.
    """
    from data.identity import Identity

    def open_as(user: Any = None, page: str | None = None) -> AppTest:
        if user is None or isinstance(user, Identity):
            return open_dashboard(user, page)
        return open_dashboard(identity_of(user), page)

    return open_as
