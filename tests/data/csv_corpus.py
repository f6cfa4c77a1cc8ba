"""CSV files as people send them, built by code: encodings, delimiters, quoting, tools.

Each ``Case`` holds the bytes of a file and what a user expects from importing it: the
customers (name, email, phone, address) it creates, or the sentence it fails with.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

Customer = dict[str, str | None]


def row(name: str, email: str, phone: str | None = None, address: str | None = None) -> Customer:
    return {"name": name, "email": email, "phone": phone, "address": address}


def csv_text(rows: list[list[str]], delimiter: str = ",", newline: str = "\n") -> str:
    """Rows as CSV text, quoting like spreadsheets do (only when needed)."""

    def cell(value: str) -> str:
        if any(ch in value for ch in (delimiter, '"', "\n", "\r")):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(delimiter.join(cell(v) for v in r) + newline for r in rows)


@dataclass(frozen=True)
class Case:
    id: str
    data: bytes
    customers: list[Customer] = field(default_factory=list)
    encoding: str = "UTF-8"
    delimiter: str = "comma"


MULTILINE = 'c/o "Müller GmbH"\nHauptstraße 5, 2. OG\n10115 Berlin'
BASIC = [
    row("Zoë Müller", "zoe.mueller@example.de", "+49 30 123456", MULTILINE),
    row("José García", "jose@example.es", None, "Calle Mayor 1, 28013 Madrid"),
    row("中村 健太", "kenta.nakamura@example.jp", "03-1234-5678", None),
]
HEADER = ["Name", "Email", "Phone", "Address"]


def _rows(customers: list[Customer]) -> list[list[str]]:
    return [
        [c["name"] or "", c["email"] or "", c["phone"] or "", c["address"] or ""] for c in customers
    ]


def basic_text(delimiter: str = ",", newline: str = "\n") -> str:
    return csv_text([HEADER, *_rows(BASIC)], delimiter, newline)


CP1252_CUSTOMERS = [
    row("Café Ørsted", "cafe@example.dk", None, "Nørregade 1 – 1165 København"),
    row("Françoise Lefèvre", "f.lefevre@example.fr", "+33 1 23 45 67 89", "Prix: 20 €"),
]

READABLE: list[Case] = [
    Case("utf8-comma-lf", basic_text().encode(), BASIC),
    Case(
        "utf8-bom-crlf",
        codecs.BOM_UTF8 + basic_text(newline="\r\n").encode(),
        BASIC,
        "UTF-8 with BOM",
    ),
    Case(
        "utf8-semicolon",
        basic_text(";").encode(),
        BASIC,
        delimiter="semicolon",
    ),
    Case("utf8-tab", basic_text("\t").encode(), BASIC, delimiter="tab"),
    Case("utf16-le-bom", basic_text("\t", "\r\n").encode("utf-16"), BASIC, "UTF-16", "tab"),
    Case(
        "utf16-be-bom",
        codecs.BOM_UTF16_BE + basic_text(",").encode("utf-16-be"),
        BASIC,
        "UTF-16",
    ),
    Case("cr-line-ends", basic_text(newline="\r").encode(), BASIC),
    Case(
        "windows-1252-excel",
        csv_text([HEADER, *_rows(CP1252_CUSTOMERS)], ";", "\r\n").encode("cp1252"),
        CP1252_CUSTOMERS,
        "Windows-1252",
        "semicolon",
    ),
    Case(
        "google-sheets",
        csv_text(
            [
                ["Full Name", "E-mail Address", "Mobile", "Notes"],
                ["Ann Lee", "ann.lee@example.com", "+1 555 0100", "VIP, call first"],
                ["Bob Stone", "BOB@Example.com", "", ""],
            ]
        ).encode(),
        [
            row("Ann Lee", "ann.lee@example.com", "+1 555 0100"),
            row("Bob Stone", "BOB@Example.com"),
        ],
    ),
    Case(
        "hubspot-crm",
        csv_text(
            [
                ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Street Address"],
                ["101", "Greta", "Hansen", "greta@example.no", "+47 22 00 00 00", "Storgata 1"],
                ["102", "Liam", "", "liam@example.ie", "", ""],
            ],
            newline="\r\n",
        ).encode(),
        [
            row("Greta Hansen", "greta@example.no", "+47 22 00 00 00", "Storgata 1"),
            row("Liam", "liam@example.ie"),
        ],
    ),
    Case(
        "shopify-customers",
        csv_text(
            [
                [
                    "First Name",
                    "Last Name",
                    "Email",
                    "Accepts Email Marketing",
                    "Address1",
                    "City",
                    "Phone",
                ],
                ["Aiko", "Sato", "aiko@example.jp", "yes", "Ginza 4-chome", "Tokyo", "'+81 3 1234"],
            ]
        ).encode(),
        [row("Aiko Sato", "aiko@example.jp", "+81 3 1234", "Ginza 4-chome")],
    ),
    Case(
        "salesforce-contacts",
        csv_text(
            [
                ["Contact Name", "Email", "Business Phone", "Mailing Street"],
                ["Priya Patel", "priya@example.in", "+91 22 5555", "12 MG Road\nBengaluru"],
            ]
        ).encode(),
        [row("Priya Patel", "priya@example.in", "+91 22 5555", "12 MG Road\nBengaluru")],
    ),
    Case(
        "export-of-this-product",
        csv_text(
            [
                ["name", "email", "phone", "address", "created_at", "updated_at", "id"],
                [
                    "'=HYPERLINK(1)",
                    "eq@example.com",
                    "'+44 20 7946 0000",
                    "",
                    "2026-01-01T00:00:00.000000Z",
                    "2026-01-01T00:00:00.000000Z",
                    "0b7c7c9e-0000-4000-8000-000000000001",
                ],
            ]
        ).encode(),
        [row("=HYPERLINK(1)", "eq@example.com", "+44 20 7946 0000")],
    ),
    Case("header-only", b"name,email,phone,address\r\n", []),
    Case(
        "blank-lines-and-spaces",
        b"name,email\n\n  Ann  ,  ann@example.com  \n\n",
        [row("Ann", "ann@example.com")],
    ),
]

# Files that cannot be read at all: (id, bytes, words the one-sentence error must contain)
UNREADABLE: list[tuple[str, bytes, list[str]]] = [
    ("empty", b"", ["empty"]),
    ("only-whitespace", b"\n \r\n", ["empty"]),
    ("binary-junk", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256)), ["binary"]),
    (
        "unterminated-quote",
        b'name,email\nAnn,ann@example.com\n"Bob,bob@example.com\nCid,cid@example.com\n',
        ["Line 3", "never closed"],
    ),
    ("no-email-column", b"name,phone\nAnn,123\n", ["Line 1", "email"]),
    ("no-name-column", b"email,phone\nann@example.com,123\n", ["Line 1", "name"]),
    (
        "text-after-closing-quote",
        b'name,email\n"Ann" Lee,ann@example.com\n',
        ["Line 2", "quote"],
    ),
    (
        "row-longer-than-the-limit",
        b"name,email\nAnn,ann@example.com\n" + b"x" * (2 * 1024 * 1024 + 10) + b"\n",
        ["Line 3", "longer than 2 MB"],
    ),
    (
        "header-wider-than-the-limit",
        b"name,email," + b",".join(b"c%d" % i for i in range(2100)) + b"\nAnn,a@example.com\n",
        ["Line 1", "2,102 columns", "at most 2,000"],
    ),
]


def big_csv(count: int, *, seed: int = 11, start: int = 0) -> bytes:
    """``count`` realistic customers (data.sample) as a UTF-8 CSV."""
    from data.sample import customers

    records = list(customers(count, seed=seed, start=start))
    return csv_text([HEADER, *_rows(records)]).encode()
