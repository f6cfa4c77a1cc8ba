"""Repeated wrong passwords lock the sign-in of that username from that client.

Failures count per (username, client) and per client (``data.signin``): the fifth
wrong password here locks this username from this browser's address, the right
password included, while the lock lasts.  (That another client is not locked out is a
test of ``data.signin``: every browser here connects from 127.0.0.1.)  A module of its
own, so that its failures do not slow the other modules' sign-ins.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, Shots, alert, fill_sign_in, open_app

MAX_FAILURES = 5  # data.signin.PAIR_FAILURES, as the user experiences it


def test_five_wrong_passwords_lock_this_client_out_even_for_the_right_password(
    page: Page, server: Server, shot: Shots
) -> None:
    server.tenant("throttle", roles=("editor",))
    username = "throttle-editor"
    open_app(page, server)

    for attempt in range(1, MAX_FAILURES):
        fill_sign_in(page, username, f"wrong password number {attempt}")
        expect(alert(page, "Wrong username or password.")).to_be_visible()
    fill_sign_in(page, username, "wrong password number 5")
    throttled = alert(page, "Too many failed sign-in attempts; try again in 30 seconds.")
    expect(throttled).to_be_visible()
    shot(page, "throttled")

    fill_sign_in(page, username, server.accounts[username].password)
    expect(
        alert(page, re.compile(r"^Too many failed sign-in attempts; try again in \d+ seconds\.$"))
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_have_count(0)
    assert not [c for c in page.context.cookies() if c["name"] == "inventory_pro_session"]
