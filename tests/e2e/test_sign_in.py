"""Sign in, the re-login cookie, and sign out, in a real browser.

The cookie names a server-side session and nothing else: an opaque random secret whose
keyed hash is a row of ``credentials``.  Signing out deletes the row, so a copy of the
cookie taken before signs in nobody afterwards.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import text

from data.sample import customers
from tests.e2e.conftest import (
    COOKIE,
    SESSION_LIFETIME_HOURS,
    Server,
    Shots,
    alert,
    button,
    click,
    fill_sign_in,
    go_to,
    main,
    open_app,
    sign_in,
)


@pytest.fixture(scope="module")
def people(server: Server) -> dict[str, str]:
    tenant = server.tenant("signin")
    server.add_customers(tenant, list(customers(8, seed=11)))
    return {"editor": "signin-editor", "viewer": "signin-viewer", "tenant": tenant}


def session_cookie(context: BrowserContext) -> dict[str, object] | None:
    found = [c for c in context.cookies() if c["name"] == COOKIE]
    return dict(found[0]) if found else None


def wait_for_cookie(page: Page, *, present: bool) -> None:
    """The cookie is set and deleted through the server's /_session route, after the run
    (HttpOnly: page scripts cannot see it, so ask the browser context)."""
    deadline = time.monotonic() + 15
    while (session_cookie(page.context) is not None) != present:
        assert time.monotonic() < deadline, f"the session cookie is {'not ' * present}there"
        page.wait_for_timeout(100)


def decodes_as_base64_json(part: str) -> bool:
    try:
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return False
    return decoded.strip().startswith(b"{")


def sessions_of(server: Server, tenant_id: str, username: str) -> list[str]:
    """The stored secret hashes of the user's standing browser sessions."""
    with server.as_owner(tenant_id) as conn:
        rows = conn.execute(
            text(
                "SELECT c.secret_hash FROM credentials c JOIN users u ON u.id = c.user_id"
                " WHERE u.username = :u AND c.kind = 'session'"
            ),
            {"u": username},
        ).scalars()
        return [str(r) for r in rows]


def hash_of(server: Server, secret: str) -> str:
    """How the server stores a session secret: HMAC-SHA256 with its COOKIE_KEY."""
    return hmac.new(server.cookie_key.encode(), secret.encode(), hashlib.sha256).hexdigest()


def test_wrong_password_is_refused_then_the_right_one_signs_in(
    page: Page, server: Server, people: dict[str, str], shot: Shots
) -> None:
    username = people["editor"]
    open_app(page, server)
    shot(page, "sign-in-page")

    fill_sign_in(page, username, "not the password at all")
    expect(alert(page, "Wrong username or password.")).to_be_visible()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_have_count(0)
    assert session_cookie(page.context) is None
    shot(page, "wrong-password")

    fill_sign_in(page, username, server.accounts[username].password)
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    expect(
        page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {username} · editor")
    ).to_be_visible()
    expect(main(page).get_by_text("Showing 1–8 of 8 customers")).to_be_visible()
    shot(page, "signed-in")


def test_the_cookie_is_an_opaque_session_secret_strict_and_short_lived(
    page: Page, server: Server, people: dict[str, str], shot: Shots
) -> None:
    username = people["viewer"]
    signed_at = time.time()
    sign_in(page, server, username)
    cookie = session_cookie(page.context)
    assert cookie is not None
    value = str(cookie["value"])

    # No JWT, nothing to decode: not three dot-separated base64 parts, no JSON inside,
    # and neither the user's id nor name in it.
    assert value.count(".") < 2
    assert not any(decodes_as_base64_json(part) for part in value.split("."))
    assert server.user_id(username) not in value
    assert username not in value
    assert len(value) >= 40  # a random secret of 256 bits
    # The server keeps only its keyed hash, as the one session of this user.
    assert sessions_of(server, people["tenant"], username) == [hash_of(server, value)]

    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/"
    # Set by the server's /_session route: no script in the page can read it.
    assert cookie["httpOnly"] is True
    assert COOKIE not in str(page.evaluate("() => document.cookie"))
    expires = float(str(cookie["expires"]))
    lifetime = SESSION_LIFETIME_HOURS * 3600
    assert signed_at + lifetime - 120 <= expires <= time.time() + lifetime + 5
    assert cookie["secure"] is False  # plain http here; https sets it (test of ui.auth)

    # A new tab of the same browser is signed in by the cookie alone.
    again = page.context.new_page()
    open_app(again, server)
    expect(again.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    expect(main(again).get_by_text("Showing 1–8 of 8 customers")).to_be_visible()
    shot(again, "new-tab-signed-in-by-cookie")


def test_sign_out_ends_the_session_so_a_copied_cookie_signs_in_nobody(
    page: Page,
    server: Server,
    people: dict[str, str],
    shot: Shots,
    browser: Browser,
    browser_context_args: dict[str, object],
) -> None:
    sign_in(page, server, people["editor"])
    go_to(page, "Overview")
    copied = session_cookie(page.context)
    assert copied is not None
    assert hash_of(server, str(copied["value"])) in sessions_of(
        server, people["tenant"], people["editor"]
    )

    click(page, button(page, "Sign out"))
    expect(main(page).get_by_role("button", name="Sign in")).to_be_visible()
    wait_for_cookie(page, present=False)
    assert session_cookie(page.context) is None
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert hash_of(server, str(copied["value"])) not in sessions_of(
        server, people["tenant"], people["editor"]
    )
    shot(page, "signed-out")

    # Nothing comes back on a reload or by typing a page's URL.
    for path in ("", "overview"):
        open_app(page, server, path)
        expect(main(page).get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
        expect(page.get_by_role("heading", name="Customers", exact=True)).to_have_count(0)

    # A browser given the copied cookie is not signed in either.
    other = browser.new_context(**browser_context_args)  # type: ignore[arg-type]
    try:
        other.add_cookies([copied])  # type: ignore[list-item]
        stolen = other.new_page()
        open_app(stolen, server)
        expect(main(stolen).get_by_role("button", name="Sign in")).to_be_visible()
        expect(stolen.get_by_role("heading", name="Customers", exact=True)).to_have_count(0)
        expect(stolen.get_by_test_id("stDataFrame")).to_have_count(0)
        shot(stolen, "copied-cookie-after-sign-out")
    finally:
        other.close()
