"""Sign in, the re-login cookie, and sign out, in a real browser."""

from __future__ import annotations

import base64
import json

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from data.sample import customers
from tests.e2e.conftest import (
    COOKIE,
    Server,
    Shots,
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
    """The cookie is set and deleted by a component in the browser, after the run."""
    has = f"document.cookie.includes('{COOKIE}=')"
    page.wait_for_function(f"() => {has}" if present else f"() => !{has}", timeout=15_000)


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_wrong_password_is_refused_then_the_right_one_signs_in(
    page: Page, server: Server, people: dict[str, str], shot: Shots
) -> None:
    username = people["editor"]
    open_app(page, server)
    shot(page, "sign-in-page")

    fill_sign_in(page, username, "not the password at all")
    expect(main(page).get_by_text("Wrong username or password.")).to_be_visible()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_have_count(0)
    assert session_cookie(page.context) is None
    shot(page, "wrong-password")

    fill_sign_in(page, username, server.accounts[username].password)
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text(f"Signed in as {username}")).to_be_visible()
    expect(main(page).get_by_text("Showing 1–8 of 8 customers")).to_be_visible()
    shot(page, "signed-in")


def test_sign_in_is_remembered_by_a_cookie_carrying_only_the_user_id(
    page: Page, server: Server, people: dict[str, str], shot: Shots
) -> None:
    from data.users import find_user

    username = people["viewer"]
    sign_in(page, server, username)
    wait_for_cookie(page, present=True)
    cookie = session_cookie(page.context)
    assert cookie is not None
    claims = claims_of(str(cookie["value"]))
    assert sorted(claims) == ["exp", "iat", "sub"]
    user = find_user(server.database(), username)
    assert user is not None
    assert claims["sub"] == user.id

    # A new tab of the same browser is signed in by the cookie alone.
    again = page.context.new_page()
    open_app(again, server)
    expect(again.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    expect(main(again).get_by_text("Showing 1–8 of 8 customers")).to_be_visible()
    shot(again, "new-tab-signed-in-by-cookie")


def test_sign_out_clears_the_cookie_and_returns_to_sign_in(
    page: Page, server: Server, people: dict[str, str], shot: Shots
) -> None:
    sign_in(page, server, people["editor"])
    wait_for_cookie(page, present=True)
    go_to(page, "Overview")

    click(page, button(page, "Sign out"))
    expect(main(page).get_by_role("button", name="Sign in")).to_be_visible()
    wait_for_cookie(page, present=False)
    assert session_cookie(page.context) is None
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    shot(page, "signed-out")

    # Nothing comes back on a reload or by typing a page's URL.
    for path in ("", "overview"):
        open_app(page, server, path)
        expect(main(page).get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
        expect(page.get_by_role("heading", name="Customers", exact=True)).to_have_count(0)
