"""Finding customers in the browser: search, sort, page forward and jump.

What the grid shows is compared with what the data layer returns for the same query,
so the test checks the page against the database, not against numbers written here.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from data.sample import customers
from tests.e2e.conftest import Grid, Server, Shots, alert, click, main, settle, sign_in

SEARCHABLE: list[dict[str, str | None]] = [
    {"name": "Marta Kowalczyk", "email": "marta.k@example.pl", "phone": "+48 600 100 200"},
    {"name": "Hans Weber", "email": "hw@kowalczyk-trading.example", "phone": None},
    {"name": "Olga Petrenko", "email": "olga@example.ua", "phone": "+380 44 777 1234"},
]
OTHER_TENANTS = {"name": "Quentin Otherco", "email": "quentin@otherco.example", "phone": None}
TOTAL = 123


@pytest.fixture(scope="module")
def tenant(server: Server) -> str:
    tenant = server.tenant("browse")
    server.add_customers(tenant, SEARCHABLE + list(customers(TOTAL - 3, seed=21)))
    other = server.tenant("browse-other", roles=("viewer",))
    server.add_customers(other, [OTHER_TENANTS])
    return tenant


def expected(server: Server, tenant: str, **query: object) -> list[str]:
    """Names of the customers the data layer lists for this query, in order."""
    with server.customers(tenant) as repository:
        return [c.name for c in repository.list(**query).items]


def search(page: Page, text: str) -> None:
    box = main(page).get_by_placeholder("Search name, email or phone")
    box.fill(text)
    box.press("Enter")
    settle(page)


def test_search_finds_name_email_or_phone_case_insensitively_within_the_tenant(
    page: Page, server: Server, tenant: str, shot: Shots
) -> None:
    sign_in(page, server, "browse-viewer")
    expect(
        main(page).get_by_text(f"Showing 1–50 of {TOTAL} customers · page 1 of 3")
    ).to_be_visible()

    search(page, "KOWALczyk")
    wanted = expected(server, tenant, search="kowalczyk", limit=50)
    assert sorted(wanted) == ["Hans Weber", "Marta Kowalczyk"]  # by name and by email
    expect(main(page).get_by_text("Showing 1–2 of 2 customers · page 1 of 1")).to_be_visible()
    Grid(page).expect_column("Name", wanted)
    shot(page, "search-by-name-or-email")

    search(page, "777 12")
    wanted = expected(server, tenant, search="777 12", limit=50)
    assert "Olga Petrenko" in wanted
    expect(main(page).get_by_text(f"of {len(wanted)} customer")).to_be_visible()
    Grid(page).expect_column("Name", wanted)
    shot(page, "search-by-phone")

    search(page, "Otherco")  # a customer of another tenant
    expect(
        alert(page, "No customer matches the search. Try fewer letters, or clear the search.")
    ).to_be_visible()
    expect(main(page).get_by_placeholder("Search name, email or phone")).to_have_value("Otherco")
    expect(main(page).get_by_test_id("stDataFrame")).to_have_count(0)
    assert "quentin@otherco.example" not in page.content()
    shot(page, "other-tenant-not-found")

    search(page, "")
    expect(main(page).get_by_text(f"Showing 1–50 of {TOTAL} customers")).to_be_visible()


def test_sort_by_email_descending_orders_the_rows(
    page: Page, server: Server, tenant: str, shot: Shots
) -> None:
    sign_in(page, server, "browse-viewer")
    Grid(page).expect_column("Name", expected(server, tenant, sort="name"), rows_in_view=True)
    with server.customers(tenant) as repository:
        ascending = [c.email for c in repository.list(sort="email").items]
        descending = [c.email for c in repository.list(sort="-email").items]
    assert ascending[0] != descending[0]

    main(page).get_by_role("combobox", name=re.compile("Sort by")).click()
    click(page, page.get_by_role("option", name="Email", exact=True))
    Grid(page).expect_column("Email", ascending, rows_in_view=True)
    shot(page, "sorted-by-email")

    click(page, main(page).get_by_text("Z→A"))
    expect(main(page).get_by_role("switch", name="Z→A")).to_be_checked()
    Grid(page).expect_column("Email", descending, rows_in_view=True)
    shot(page, "sorted-by-email-descending")


def test_paging_forward_back_and_jump_to_a_page_number(
    page: Page, server: Server, tenant: str, shot: Shots
) -> None:
    sign_in(page, server, "browse-editor")  # the page as most users see it
    pages = {
        n: expected(server, tenant, sort="name", limit=50, offset=(n - 1) * 50) for n in (1, 2, 3)
    }
    caption = main(page).get_by_text(re.compile(r"^Showing .* customers · page"))
    expect(caption).to_have_text(f"Showing 1–50 of {TOTAL} customers · page 1 of 3")
    expect(main(page).get_by_role("button", name="Previous")).to_be_disabled()
    Grid(page).expect_column("Name", pages[1], rows_in_view=True)
    shot(page, "page-1")

    click(page, main(page).get_by_role("button", name="Next"))
    expect(caption).to_have_text(f"Showing 51–100 of {TOTAL} customers · page 2 of 3")
    Grid(page).expect_column("Name", pages[2], rows_in_view=True)
    shot(page, "page-2")

    jump = main(page).get_by_role("spinbutton", name=re.compile("Go to page"))
    jump.fill("3")
    jump.press("Enter")
    settle(page)
    expect(caption).to_have_text(f"Showing 101–{TOTAL} of {TOTAL} customers · page 3 of 3")
    Grid(page).expect_column("Name", pages[3], rows_in_view=True)
    expect(main(page).get_by_role("button", name="Next")).to_be_disabled()
    shot(page, "jumped-to-page-3")

    click(page, main(page).get_by_role("button", name="Previous"))
    expect(caption).to_have_text(f"Showing 51–100 of {TOTAL} customers · page 2 of 3")
    Grid(page).expect_column("Name", pages[2], rows_in_view=True)
