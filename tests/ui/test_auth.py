"""``ui.auth``: the re-login cookie's attributes and what a session is called."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest


def _issue_cookie() -> None:
    """A run that issues the cookie, recording what the browser component is asked."""
    import streamlit as st

    from ui import auth

    cookie = auth.SessionCookie()
    asked: dict[str, object] = {}

    def component(**kwargs: object) -> bool:
        asked.update(kwargs)
        return True

    cookie.cookie_manager.cookie_manager = component
    confirmed = cookie.issue("the-session-secret")
    st.text(f"confirmed={confirmed}")
    st.session_state["asked"] = asked


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_the_cookie_holds_the_secret_strict_expiring_with_the_session(
    monkeypatch: pytest.MonkeyPatch, https: bool
) -> None:
    import ui.auth
    from config import get_settings

    monkeypatch.setattr(ui.auth, "over_https", lambda: https)
    app = AppTest.from_function(_issue_cookie, default_timeout=30).run()
    assert not app.exception
    assert app.text[0].value == "confirmed=True"
    asked = app.session_state["asked"]
    assert asked["method"] == "set"
    assert asked["cookie"] == get_settings().cookie_name
    assert asked["value"] == "the-session-secret"  # the secret, and nothing else
    options = dict(asked["options"])
    expires = datetime.fromisoformat(str(options.pop("expires")))
    lifetime = timedelta(hours=float(get_settings().session_lifetime_hours))
    assert timedelta(0) < expires - datetime.now(UTC) <= lifetime
    assert expires - datetime.now(UTC) > lifetime - timedelta(minutes=1)
    assert options == {"path": "/", "sameSite": "strict", **({"secure": True} if https else {})}


@pytest.mark.parametrize(
    ("agent", "called"),
    [
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            "Chrome on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        ("", "A browser"),
        ("[Session expired](http://127.0.0.1:9/phish)", "A browser"),
    ],
    ids=["chrome-linux", "edge-windows", "firefox-mac", "safari-iphone", "none", "garbage"],
)
def test_a_session_is_called_by_browser_and_system(agent: str, called: str) -> None:
    from ui.auth import describe_agent

    assert describe_agent(agent) == called
