"""Contact exports import without editing: several phone and email columns, name parts.

The samples in ``tests/data/samples`` are small, made-up exports with the columns each
product writes (Outlook, Google Contacts, an iPhone/vCard converter, HubSpot, Shopify).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from data.errors import ImportFailed
from data.importing import ImportSummary, import_file, preview
from data.importing.columns import classify, compose_name, guess_field, plan_columns

SAMPLES = Path(__file__).with_name("samples")

# sample → (expected customers by email: name, phone, address), the phone columns in order
EXPECTED: dict[str, tuple[dict[str, tuple[str, str | None, str | None]], list[str]]] = {
    "outlook-contacts.csv": (
        {
            "renee.fontaine@example.fr": (
                "Renée A. Fontaine (Fontaine Fleurs SARL)",
                "+33 6 12 00 00 01",  # Mobile before Business (and never the fax)
                "12 rue des Lilas",
            ),
            "soren.o@example.dk": ("Søren Østergaard", "+45 33 55 01 02", "Nørregade 5\r\n2. sal"),
            "orders@northwind.example.com": (
                "Northwind Traders",
                "(206) 555-0100",
                "1 Harbour Road",
            ),
            "amara.okafor@example.ng": (
                "Amara Okafor",
                "+234 1 555 0103",
                "4 Marina Street, Lagos",
            ),
        },
        [
            "Primary Phone",
            "Mobile Phone",
            "Business Phone",
            "Home Phone",
            "Company Main Phone",
            "Other Phone",
            "Business Phone 2",
            "Home Phone 2",
        ],
    ),
    "google-contacts.csv": (
        {
            "h.tanaka@example.jp": (
                "Hiroshi Tanaka (Tanaka Kōgyō)",
                "+81 90-5555-0101",
                "1-2-3 Shibuya\nTokyo 150-0002\nJapan",
            ),
            "lucia.gomez@example.es": ("Lucía María Gómez", "+34 91 555 0102", None),
            "hola@cafe-aurora.example": (
                "Café Aurora",
                "+34 93 555 0103",
                "Carrer de Mallorca 1, Barcelona",
            ),
        },
        ["Phone 1 - Value", "Phone 2 - Value"],
    ),
    "iphone-vcard-contacts.csv": (
        {
            "ingrid.johansson@example.com": (
                "Ingrid Johansson",
                "+46 70 555 01 01",
                "Storgatan 1, 111 22 Stockholm",
            ),
            "kwame@example.gh": (
                "Kwame Mensah (Mensah Cocoa Ltd)",
                "+233 30 255 0103",
                "5 Independence Ave, Accra",
            ),
            "zoe.obrien@example.ie": ("Zoë O'Brien", "+353 1 555 0104", None),
        },
        ["Phone (mobile)", "Phone (iPhone)", "Phone (work)", "Phone (home)", "Phone (main)"],
    ),
    "hubspot-contacts.csv": (
        {
            "priya.raman@example.in": (
                "Priya Raman (Raman Textiles)",
                "+91 80 5555 0101",
                "12 MG Road",
            ),
            "marcus.webb@example.co.uk": ("Marcus Webb", "+44 7700 900102", None),
            "accounts@bluepeak.example.com": ("Blue Peak Outfitters", "+1 303 555 0103", None),
        },
        ["Phone Number", "Mobile Phone Number"],
    ),
    "shopify-customers.csv": (
        {
            "chloe.martin@example.fr": ("Chloé Martin", "+33612000001", "8 Rue de la Paix"),
            "jonas.becker@example.de": (
                "Jonas Becker (Becker Bau GmbH)",
                "+498955550102",  # Phone is empty: the default address's phone
                "Hauptstraße 3",
            ),
            "ava.nguyen@example.com": ("Ava Nguyen", "+16135550103", None),
        },
        ["Phone", "Default Address Phone"],
    ),
}


@pytest.fixture
def run(database: Any, identity_of: Any) -> Any:
    def import_(tenant: Any, data: bytes, **options: Any) -> ImportSummary:
        return import_file(
            database,
            identity_of(tenant.editor),
            io.BytesIO(data),
            filename=options.pop("filename", "contacts.csv"),
            **options,
        )

    return import_


def stored(customers_of: Any, tenant: Any) -> dict[str, tuple[str, str | None, str | None]]:
    with customers_of(tenant) as repository:
        return {c.email: (c.name, c.phone, c.address) for c in repository.iter_all()}


@pytest.mark.parametrize("sample", EXPECTED)
def test_a_contact_export_imports_without_editing(
    run: Any, tenant: Any, customers_of: Any, sample: str
) -> None:
    customers, phones = EXPECTED[sample]
    summary = run(tenant, (SAMPLES / sample).read_bytes(), filename=sample)
    assert summary.invalid == 0, summary.errors
    assert summary.written
    assert summary.created == len(customers)
    assert stored(customers_of, tenant) == customers
    assert summary.feeds["phone"] == phones
    assert any(
        line.startswith("Phone: each row takes the first non-empty one of")
        for line in (summary.explained)
    )


@pytest.mark.parametrize("sample", EXPECTED)
def test_the_preview_says_which_columns_feed_a_field_and_in_what_order(sample: str) -> None:
    info = preview(SAMPLES / sample)
    phones = EXPECTED[sample][1]
    joined = ", then ".join(repr(p) for p in phones)
    assert f"Phone: each row takes the first non-empty one of {joined}." in info.explained
    assert any("alone when there is no person" in line for line in info.explained)


def test_a_contact_export_reimported_in_upsert_mode_changes_nothing(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = (SAMPLES / "outlook-contacts.csv").read_bytes()
    run(tenant, data)
    again = run(tenant, data, mode="upsert")
    assert (again.would.unchanged, again.updated, again.created) == (4, 0, 0)


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("Business Phone", "phone"),
        ("Home Phone 2", "phone"),
        ("Mobile Phone Number", "phone"),
        ("Phone (iPhone)", "phone"),
        ("E-mail 2 Address", "email"),
        ("E-mail 1 - Value", "email"),
        ("Email (work)", "email"),
        ("Address 1 - Formatted", "address"),
        ("Home Street", "address"),
        ("Given Name", "first_name"),
        ("Additional Name", "middle_name"),
        ("Family Name", "last_name"),
        ("Organization 1 - Name", "company"),
        ("Company Name", "company"),
        ("Business Fax", ""),
        ("Pager", ""),
        ("E-mail Type", ""),
        ("E-mail Display Name", ""),
        ("Phone 1 - Label", ""),
        ("Address 2", ""),
        ("Business Street 2", ""),
        ("Phonetic First Name", ""),
        ("Address 1 - City", ""),
    ],
)
def test_contact_export_headers_are_recognised(header: str, target: str) -> None:
    assert guess_field(header) == target


def test_numbers_then_qualifiers_order_the_columns_of_one_field() -> None:
    headers = ["Home Phone", "Phone 2", "Business Phone", "Mobile", "Phone", "Other Phone"]
    ranked = sorted(headers, key=lambda h: classify(h).rank)  # type: ignore[union-attr]
    assert ranked == ["Phone", "Mobile", "Business Phone", "Home Phone", "Other Phone", "Phone 2"]


@pytest.mark.parametrize(
    ("person", "company", "name"),
    [
        (["Ann", "", "Lee"], "Acme Ltd", "Ann Lee (Acme Ltd)"),
        (["Ann", "B.", "Lee"], "", "Ann B. Lee"),
        (["", "", ""], "Acme Ltd", "Acme Ltd"),
        (["", "", ""], "", None),
    ],
)
def test_name_parts_and_company_make_the_name(
    person: list[str], company: str, name: str | None
) -> None:
    assert compose_name(person, company) == name


def test_a_name_column_wins_over_the_parts_unless_it_is_empty(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = "Name,First Name,Last Name,Company,Email\nA. Lee,Ann,Lee,Acme,a@x.io\n,Bo,Ek,,b@x.io\n"
    run(tenant, data.encode())
    names = {email: name for email, (name, _, _) in stored(customers_of, tenant).items()}
    assert names == {"a@x.io": "A. Lee", "b@x.io": "Bo Ek"}


# -- a chosen mapping (--map, the API's mapping, the Columns table) -------------------------


def test_a_chosen_mapping_overrides_the_automatic_one_field_by_field(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = "Name,Email,Phone,Handy,Notes\nAnn,a@x.io,1,0171 5555,hello\n"
    summary = run(tenant, data.encode(), mapping={"Handy": "phone", "Notes": ""})
    assert summary.feeds["phone"] == ["Handy"]  # the automatic Phone no longer feeds it
    assert summary.mapping["Phone"] == ""
    assert stored(customers_of, tenant) == {"a@x.io": ("Ann", "0171 5555", None)}


def test_several_columns_mapped_by_hand_are_tried_in_the_documented_order(
    run: Any, tenant: Any, customers_of: Any
) -> None:
    data = "Name,Email,Kontakt,Mobile,Tel\nAnn,a@x.io,,,030 1\nBo,b@x.io,x1,017,030 2\n"
    mapping = {"Kontakt": "phone", "Mobile": "phone", "Tel": "phone"}
    summary = run(tenant, data.encode(), mapping=mapping)
    assert summary.feeds["phone"] == ["Tel", "Mobile", "Kontakt"]  # known ones by rank first
    phones = {email: phone for email, (_, phone, _) in stored(customers_of, tenant).items()}
    assert phones == {"a@x.io": "030 1", "b@x.io": "030 2"}


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ({"Handy": "phon"}, ["'Handy' cannot be mapped to 'phon'", "name, email, phone"]),
        ({"Mobil": "phone"}, ["names a column 'Mobil' that contacts.csv does not have"]),
    ],
    ids=["unknown-field", "unknown-column"],
)
def test_a_mapping_naming_what_does_not_exist_is_refused(
    run: Any, tenant: Any, mapping: dict[str, str], words: list[str]
) -> None:
    with pytest.raises(ImportFailed) as failure:
        run(tenant, b"Name,Email,Handy\nAnn,a@x.io,1\n", mapping=mapping)
    for word in words:
        assert word in str(failure.value)


def test_plan_keeps_only_the_mapped_columns_of_a_row() -> None:
    headers = ["id", "Name", "x1", "x2", "Email", "x3", "Phone"]
    plan = plan_columns(headers, None)
    assert plan.used == (1, 4, 6)
    kept = plan.project(["7", "Ann", "a" * 1000, "b", "a@x.io", "c", "1"])
    assert kept == ("Ann", "a@x.io", "1")
    assert plan.record(kept) == {"name": "Ann", "email": "a@x.io", "phone": "1", "address": None}
    assert plan.ignored == ["id"]
