"""On a freshly started server, no page's URL shows anything of any tenant before sign-in.

Each page URL gets a server of its own that nobody has opened yet: what a page URL does
as the very first request a server gets is the case to prove (Streamlit learns the app's
navigation from a run of ``dashboard.py``; before that, it knows only the ``pages/``
folder), and a shared server would have been warmed up by an earlier case.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from data.sample import customers
from tests.e2e.conftest import Server, Shots, dashboard, main, open_app

SECRET = {
    "name": "Zyxwv Secretname",
    "email": "zyxwv.secret@hidden.example",
    "phone": "+31 555 000 111",
    "address": "Hidden Street 1",
}
RECORDS: list[dict[str, str | None]] = [SECRET, *customers(20, seed=7)]
PAGES = [
    "",
    "customers",
    "overview",
    "duplicates",
    "import_csv",
    "history",
    "users",
    "account",
    "sign-in",
]


@pytest.fixture(scope="module", params=PAGES, ids=[p or "root" for p in PAGES])
def cold(
    request: pytest.FixtureRequest, chromium: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str]]:
    """(a server nobody has opened yet, with two tenants' customers; the URL path to open)."""
    with dashboard("sqlite", tmp_path_factory.mktemp("cold")) as running:
        running.add_customers(running.tenant("access-one"), RECORDS)
        running.add_customers(running.tenant("access-two"), list(customers(5, seed=8, start=500)))
        yield running, request.param


def test_page_url_shows_no_customer_data_before_sign_in(
    page: Page, cold: tuple[Server, str], shot: Shots
) -> None:
    server, path = cold
    open_app(page, server, path)
    shot(page, "opened")
    html = page.content()
    for record in RECORDS:
        assert str(record["email"]) not in html
    assert SECRET["name"] not in html
    expect(page.get_by_test_id("stDataFrame")).to_have_count(0)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    expect(page.get_by_role("button", name="Add Customer")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert not [c for c in page.context.cookies() if c["name"] == "inventory_pro_session"]


def test_page_url_before_sign_in_offers_the_sign_in_form_and_no_other_page(
    request: pytest.FixtureRequest, page: Page, cold: tuple[Server, str], shot: Shots
) -> None:
    server, path = cold
    open_app(page, server, path)
    # open_app waited for the run to end: the form is there by now, or not at all.
    expect(main(page).get_by_role("button", name="Sign in")).to_be_visible(timeout=5000)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)  # no page is listed
    shot(page, "sign-in-offered")
