"""The rules of a customer (SPEC §2), at their boundaries.

The first half is the rule table itself (``validate_customer``, no database); the second
half proves, on every backend, that the repository applies the same rules on create and
update, writes nothing when they fail, and stores the values at the limits exactly.
"""

from __future__ import annotations

import pytest

from data.errors import Invalid
from data.keys import normalise_email
from data.schemas import CustomerIn, validate_customer

VALID = {"name": "Ann Lee", "email": "ann@example.com"}


def email_of_length(n: int) -> str:
    """A syntactically valid address of exactly ``n`` characters (n >= 70)."""
    local = "l" * 64
    rest = n - len(local) - 1 - len(".com")
    labels = []
    while rest > 0:
        size = min(63, rest)
        if rest - size == 1:  # a label cannot be followed by a lone dot
            size -= 1
        labels.append("d" * size)
        rest -= size + 1
    address = f"{local}@{'.'.join(labels)}.com"
    assert len(address) == n, (len(address), n)
    return address


def errors(data: object) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        validate_customer(data)  # type: ignore[arg-type]
    return caught.value.errors


# -- accepted values -------------------------------------------------------------------

ACCEPTED = [
    pytest.param({"name": "A"}, {"name": "A"}, id="name-1-char"),
    pytest.param({"name": "n" * 200}, {"name": "n" * 200}, id="name-200-chars"),
    pytest.param({"name": "é" * 200}, {"name": "é" * 200}, id="name-200-multibyte-chars"),
    pytest.param({"name": "  Ann  "}, {"name": "Ann"}, id="name-trimmed"),
    pytest.param({"name": " " + "n" * 200 + "\t"}, {"name": "n" * 200}, id="name-trimmed-to-200"),
    pytest.param({"name": "中村 健太"}, {"name": "中村 健太"}, id="name-cjk"),
    pytest.param({"name": "Søren Ølgaard"}, {"name": "Søren Ølgaard"}, id="name-nordic"),
    pytest.param({"name": "Ольга"}, {"name": "Ольга"}, id="name-cyrillic"),
    pytest.param({"name": "محمد"}, {"name": "محمد"}, id="name-arabic"),
    pytest.param({"name": "Zoë 👩‍💻"}, {"name": "Zoë 👩‍💻"}, id="name-emoji"),
    pytest.param({"email": email_of_length(254)}, {"email": email_of_length(254)}, id="email-254"),
    pytest.param({"email": " ann@example.com\n"}, {"email": "ann@example.com"}, id="email-trim"),
    pytest.param(
        {"email": "Ann.Lee@Example.COM"}, {"email": "Ann.Lee@Example.COM"}, id="email-case"
    ),
    pytest.param({"email": "müller@bücher.de"}, {"email": "müller@bücher.de"}, id="email-idn"),
    pytest.param({"email": "中村@例え.jp"}, {"email": "中村@例え.jp"}, id="email-cjk"),
    pytest.param({"email": "a+tag@example.com"}, {"email": "a+tag@example.com"}, id="email-plus"),
    pytest.param({"phone": "p" * 50}, {"phone": "p" * 50}, id="phone-50"),
    pytest.param({"phone": " +1 (555) 010-0000 "}, {"phone": "+1 (555) 010-0000"}, id="phone-trim"),
    pytest.param({"phone": ""}, {"phone": None}, id="phone-empty-is-null"),
    pytest.param({"phone": "   \t"}, {"phone": None}, id="phone-blank-is-null"),
    pytest.param({"phone": None}, {"phone": None}, id="phone-none"),
    pytest.param({"address": ""}, {"address": None}, id="address-empty-is-null"),
    pytest.param({"address": " \r\n "}, {"address": None}, id="address-blank-is-null"),
    pytest.param({"address": "a" * 500}, {"address": "a" * 500}, id="address-500"),
    pytest.param(
        {"address": 'Flat 2, "The Old Mill"\r\n12 Main St.,\nO\'Fallon, MO'},
        {"address": 'Flat 2, "The Old Mill"\r\n12 Main St.,\nO\'Fallon, MO'},
        id="address-commas-quotes-line-breaks",
    ),
    pytest.param(
        {"address": ('x, "y"\n' * 72)[:499] + "."},
        {"address": ('x, "y"\n' * 72)[:499] + "."},
        id="address-500-with-specials",
    ),
    pytest.param(
        {"name": "Robert'); DROP TABLE customers;--"},
        {"name": "Robert'); DROP TABLE customers;--"},
        id="name-sql-is-just-text",
    ),
]


@pytest.mark.parametrize(("change", "expected"), ACCEPTED)
def test_accepted_values_are_cleaned_as_expected(change, expected):
    customer = validate_customer(VALID | change)
    for field, value in expected.items():
        assert getattr(customer, field) == value


def test_missing_optional_fields_are_none():
    customer = validate_customer(VALID)
    assert (customer.phone, customer.address) == (None, None)


def test_a_validated_customer_passes_through_unchanged():
    customer = validate_customer(VALID)
    assert validate_customer(customer) is customer


def test_email_key_folds_case_including_non_ascii():
    assert validate_customer(VALID | {"email": "ÄNN@Example.COM"}).email_key == "änn@example.com"
    assert normalise_email("  Ann@X.org ") == "ann@x.org"


# -- refused values: the field and the sentence -------------------------------------

EMAIL_INVALID = "Email is not a valid address: "

REFUSED = [
    pytest.param({"name": ""}, "name", "Name is required.", id="name-empty"),
    pytest.param({"name": "   "}, "name", "Name is required.", id="name-blank"),
    pytest.param({"name": None}, "name", "Name is required.", id="name-none"),
    pytest.param(
        {"name": "n" * 201},
        "name",
        "Name must be at most 200 characters; this one has 201.",
        id="name-201",
    ),
    pytest.param(
        {"name": "中" * 201},
        "name",
        "Name must be at most 200 characters; this one has 201.",
        id="name-201-multibyte",
    ),
    pytest.param({"email": ""}, "email", "Email is required.", id="email-empty"),
    pytest.param({"email": " \n"}, "email", "Email is required.", id="email-blank"),
    pytest.param(
        {"email": email_of_length(255)},
        "email",
        "Email must be at most 254 characters; this one has 255.",
        id="email-255",
    ),
    pytest.param(
        {"email": "plainaddress"},
        "email",
        EMAIL_INVALID + "An email address must have an @-sign.",
        id="email-no-at",
    ),
    pytest.param(
        {"email": "ann@@example.com"},
        "email",
        EMAIL_INVALID + "The part after the @-sign contains invalid characters: '@'.",
        id="email-two-ats",
    ),
    pytest.param(
        {"email": "ann lee@example.com"},
        "email",
        EMAIL_INVALID + "The email address contains invalid characters before the @-sign: SPACE.",
        id="email-space",
    ),
    pytest.param(
        {"email": "ann..lee@example.com"},
        "email",
        EMAIL_INVALID + "An email address cannot have two periods in a row.",
        id="email-double-dot",
    ),
    pytest.param(
        {"email": "ann@example"},
        "email",
        EMAIL_INVALID + "The part after the @-sign is not valid. It should have a period.",
        id="email-no-domain-dot",
    ),
    pytest.param(
        {"email": "@example.com"},
        "email",
        EMAIL_INVALID + "There must be something before the @-sign.",
        id="email-no-local-part",
    ),
    pytest.param(
        {"email": "ann@"},
        "email",
        EMAIL_INVALID + "There must be something after the @-sign.",
        id="email-no-domain",
    ),
    pytest.param(
        {"email": "Ann Lee <ann@example.com>"},
        "email",
        EMAIL_INVALID
        + "A display name and angle brackets around the email address are not permitted here.",
        id="email-display-name",
    ),
    pytest.param(
        {"email": "ann@[192.0.2.1]"},
        "email",
        EMAIL_INVALID + "A bracketed IP address after the @-sign is not allowed here.",
        id="email-ip-literal",
    ),
    pytest.param(
        {"email": "ann@exa_mple.com"},
        "email",
        EMAIL_INVALID + "The part after the @-sign contains invalid characters: '_'.",
        id="email-underscore-domain",
    ),
    pytest.param(
        {"phone": "p" * 51},
        "phone",
        "Phone must be at most 50 characters; this one has 51.",
        id="phone-51",
    ),
    pytest.param(
        {"address": "a" * 501},
        "address",
        "Address must be at most 500 characters; this one has 501.",
        id="address-501",
    ),
    pytest.param(
        {"address": ('x, "y"\n' * 72)[:500] + "."},
        "address",
        "Address must be at most 500 characters; this one has 501.",
        id="address-501-with-specials",
    ),
    pytest.param(
        {"name": "Ann\x00Lee"},
        "name",
        "Name contains a NUL character, which cannot be stored.",
        id="name-nul",
    ),
    pytest.param(
        {"email": "ann\x00@example.com"},
        "email",
        "Email contains a NUL character, which cannot be stored.",
        id="email-nul",
    ),
    pytest.param(
        {"address": "1 Main St\x00"},
        "address",
        "Address contains a NUL character, which cannot be stored.",
        id="address-nul",
    ),
    pytest.param(
        {"name": "Ann \ud800"},
        "name",
        "Name contains invalid Unicode (a lone surrogate).",
        id="name-lone-surrogate",
    ),
    pytest.param(
        {"phone": "\udfff 555"},
        "phone",
        "Phone contains invalid Unicode (a lone surrogate).",
        id="phone-lone-surrogate",
    ),
    pytest.param({"name": 42}, "name", "Name must be text.", id="name-int"),
    pytest.param({"name": True}, "name", "Name must be text.", id="name-bool"),
    pytest.param({"email": ["ann@example.com"]}, "email", "Email must be text.", id="email-list"),
    pytest.param({"phone": 5550100}, "phone", "Phone must be text.", id="phone-int"),
    pytest.param({"phone": 5.5}, "phone", "Phone must be text.", id="phone-float"),
    pytest.param(
        {"address": {"street": "x"}}, "address", "Address must be text.", id="address-dict"
    ),
    pytest.param({"address": b"1 Main St"}, "address", "Address must be text.", id="address-bytes"),
    pytest.param(
        {"nickname": "Annie"},
        "nickname",
        "Unknown field 'nickname'; expected name, email, phone, address.",
        id="unknown-field",
    ),
    pytest.param(
        {"tenant_id": "someone-else"},
        "tenant_id",
        "Unknown field 'tenant_id'; expected name, email, phone, address.",
        id="tenant-id-not-settable",
    ),
    pytest.param(
        {"version": 7},
        "version",
        "Unknown field 'version'; expected name, email, phone, address.",
        id="version-not-settable",
    ),
]


@pytest.mark.parametrize(("change", "field", "sentence"), REFUSED)
def test_refused_values_name_the_field_and_say_why(change, field, sentence):
    assert errors(VALID | change) == {field: sentence}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param({}, {"name": "Name is required.", "email": "Email is required."}, id="empty"),
        pytest.param({"name": "Ann"}, {"email": "Email is required."}, id="no-email"),
        pytest.param({"email": "a@example.com"}, {"name": "Name is required."}, id="no-name"),
    ],
)
def test_missing_required_fields_are_reported(data, expected):
    assert errors(data) == expected


def test_every_bad_field_is_reported_at_once():
    found = errors({"name": "", "email": "nope", "phone": "p" * 51, "address": 5, "x": 1})
    assert set(found) == {"name", "email", "phone", "address", "x"}


@pytest.mark.parametrize("data", [None, "Ann", 42, ["Ann", "a@example.com"]], ids=repr)
def test_a_non_mapping_is_refused_with_a_sentence(data):
    assert errors(data) == {"input": "A customer must be an object with name and email."}


def test_invalid_message_joins_the_field_sentences():
    with pytest.raises(Invalid) as caught:
        validate_customer({"name": "", "email": "a@example.com"})
    assert str(caught.value) == "name: Name is required."


def test_customer_in_is_frozen():
    customer = validate_customer(VALID)
    with pytest.raises(Exception, match="frozen"):
        customer.name = "Other"  # type: ignore[misc]
    assert isinstance(customer, CustomerIn)


# -- the same rules through the repository, on every backend --------------------------


@pytest.mark.parametrize(("change", "field", "sentence"), REFUSED)
def test_create_refuses_invalid_input_and_writes_nothing(
    tenant, customers_of, stored_count, audit_events, change, field, sentence
):
    with customers_of(tenant, write=True) as repository, pytest.raises(Invalid) as caught:
        repository.create(VALID | change)
    assert caught.value.errors == {field: sentence}
    assert stored_count(tenant) == 0
    assert audit_events(tenant) == []


def test_update_refuses_invalid_input_and_writes_nothing(
    tenant, customers_of, raw_customer, audit_events
):
    with customers_of(tenant, write=True) as repository:
        created = repository.create(VALID)
    before = raw_customer(tenant, created.id)
    with customers_of(tenant, write=True) as repository, pytest.raises(Invalid) as caught:
        repository.update(created.id, {"name": "n" * 201, "email": "nope", "phone": 1})
    assert set(caught.value.errors) == {"name", "email", "phone"}
    assert raw_customer(tenant, created.id) == before
    assert [e.action for e in audit_events(tenant)] == ["create"]


BOUNDARY_RECORDS = [
    pytest.param(
        {
            "name": "n" * 200,
            "email": email_of_length(254),
            "phone": "p" * 50,
            "address": "a" * 500,
        },
        id="ascii-at-limits",
    ),
    pytest.param(
        {
            "name": "中村" * 100,
            "email": "müller.straße@bücher.example.de",
            "phone": "＋８１ ３－１２３４－５６７８",
            "address": ('Flat 2, "The Old Mill"\r\n12 Main St.,\nO\'Fallon, MO 63366 ' * 20)[:499]
            + ".",
        },
        id="unicode-and-specials-at-limits",
    ),
    pytest.param(
        {"name": "Ann", "email": "a@example.com", "phone": "", "address": "  "},
        id="empty-optionals",
    ),
]


@pytest.mark.parametrize("record", BOUNDARY_RECORDS)
def test_values_at_the_limits_are_stored_exactly(tenant, customers_of, raw_customer, record):
    with customers_of(tenant, write=True) as repository:
        created = repository.create(record)
    stored = raw_customer(tenant, created.id)
    assert stored is not None
    for field in ("name", "email", "phone", "address"):
        expected = record[field].strip() or None
        assert stored[field] == expected
    assert stored["email_key"] == record["email"].lower()
    with customers_of(tenant) as repository:
        assert repository.get(created.id) == created
