"""Showing text that may hold what users typed: literally, never through Markdown or HTML.

Streamlit renders ``st.write``, ``st.markdown``, alerts, toasts, captions, expander and
widget labels and ``st.table`` cells as Markdown (with its own additions: ``:red[...]``,
``:material/...:``, ``$...$`` and autolinked URLs).  A customer named
``![x](https://host/beacon.png)`` or ``[Session expired](https://host/phish)`` would
become a remote image or a link wherever it is shown that way; escaping is not enough
(GitHub-flavoured Markdown still autolinks ``www.host`` in escaped text).

So the rule of the dashboard: a string that may contain user text (names, emails,
addresses, usernames, file and column names, search terms, and the data layer's error
sentences, which quote them) goes only to plain-text elements: ``st.text``, the cells
of ``st.dataframe``/``st.data_editor`` (drawn on a canvas), ``st.code`` and the
functions here.  Markdown-rendering calls get our own fixed sentences only.

``alert`` draws an error, warning, info or success box whose text is an ``st.text``
inside a styled container: it looks like Streamlit's alerts and shows the text as it is.
"""

from __future__ import annotations

from itertools import count
from typing import Literal

import streamlit as st

Kind = Literal["error", "warning", "info", "success"]

# Streamlit's own alert boxes (light theme, as .streamlit/config.toml sets it): the same
# background, text colour, padding, corners and line height, measured in Chromium.
_ALERT_COLOURS = {
    "error": ("rgb(255, 241, 242)", "rgb(158, 48, 59)"),
    "warning": ("rgb(255, 250, 229)", "rgb(149, 107, 15)"),
    "info": ("rgb(237, 245, 255)", "rgb(36, 79, 180)"),
    "success": ("rgb(241, 251, 246)", "rgb(12, 90, 68)"),
}
_BOX = 'div[class*="st-key-literal-alert-{kind}-"]'
_ANY = 'div[class*="st-key-literal-alert-"]'
_ALERT_STYLE = (
    "<style>\n"
    + "".join(
        f"{_BOX.format(kind=kind)} {{ background-color: {background}; }}\n"
        f"{_BOX.format(kind=kind)} [data-testid='stText'],"
        f" {_BOX.format(kind=kind)} [data-testid='stText'] * {{ color: {colour}; }}\n"
        for kind, (background, colour) in _ALERT_COLOURS.items()
    )
    + f"{_ANY} {{ border-radius: 0.5rem; padding: 1rem; gap: 0.5rem; }}\n"
    + f"{_ANY} [data-testid='stText'] {{"
    " font-family: inherit; font-size: 1rem; line-height: 1.5; white-space: pre-wrap;"
    " overflow-wrap: anywhere; }\n"
    "</style>"
)
_numbers = count()


def _style() -> None:
    # Our own fixed stylesheet; no user text goes into st.html.
    st.html(_ALERT_STYLE)


def alert(kind: Kind, text: str) -> None:
    """An alert box showing ``text`` exactly as it is (it may hold user text)."""
    _style()
    with st.container(key=f"literal-alert-{kind}-{next(_numbers)}"):
        st.text(text)


def error(text: str) -> None:
    alert("error", text)


def warning(text: str) -> None:
    alert("warning", text)


def info(text: str) -> None:
    alert("info", text)


def success(text: str) -> None:
    alert("success", text)


def plain(text: str) -> None:
    """A line of text as it is (a caption that names user data)."""
    st.text(text)
