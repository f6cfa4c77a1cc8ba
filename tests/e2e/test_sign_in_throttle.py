"""Repeated wrong passwords lock the sign-in (per username and per client).

A module of its own: the lock also holds for the client (every browser here connects
from 127.0.0.1), so it would refuse the other modules' sign-ins on a shared server.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, Shots, fill_sign_in, main, open_app

MAX_FAILURES = 5  # data.users.MAX_FAILURES, as the user experiences it


def test_five_wrong_passwords_lock_sign_in_even_for_the_right_password(
    page: Page, server: Server, shot: Shots
) -> None:
    server.tenant("throttle", roles=("editor",))
    username = "throttle-editor"
    open_app(page, server)

    for attempt in range(1, MAX_FAILURES):
        fill_sign_in(page, username, f"wrong password number {attempt}")
        expect(main(page).get_by_text("Wrong username or password.")).to_be_visible()
    fill_sign_in(page, username, "wrong password number 5")
    throttled = main(page).get_by_text("Too many failed sign-in attempts; try again in")
    expect(throttled).to_be_visible()
    shot(page, "throttled")

    fill_sign_in(page, username, server.accounts[username].password)
    expect(throttled).to_be_visible()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_have_count(0)
    assert not [c for c in page.context.cookies() if c["name"] == "inventory_pro_session"]
