"""The keys duplicates are found by (issue 16): pure functions, no database.

Spelling variants that must meet (Jürgen Groß / Juergen Gross / GROSS, Jürgen; Gmail dots
and +tags; a phone however it is written) and ones that must not.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from data.duplicates.keys import (
    DUPLICATE_KEYS,
    KEY_LIMITS,
    _digits,
    address_key,
    duplicate_keys,
    email_canonical,
    email_domain,
    name_key,
    parse_region,
    phone_key,
)

# --- phone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("+49 151 1234567", "DE"),
        ("+49 151 1234567", None),
        ("0151 1234567", "DE"),
        ("0049-151-1234567", "DE"),
        ("0049-151-1234567", None),
        ("(0151) 123 45 67", "DE"),
        ("+49 (0)151 1234567", "DE"),
        ("0151/1234567", "de"),
        ("+49 151 1234567 ext. 12", "DE"),
    ],
    ids=lambda value: repr(value),
)
def test_one_german_number_however_written_has_one_e164_key(phone: str, region: str | None) -> None:
    assert phone_key(phone, region) == "+491511234567"


def test_a_national_number_needs_the_region_to_be_read() -> None:
    assert phone_key("0151 1234567", "DE") == "+491511234567"
    assert phone_key("(212) 555-0123", "US") == "+12125550123"
    # Without a region (or with an unknown one) only the digits can be compared.
    assert phone_key("0151 1234567", None) == "01511234567"
    assert phone_key("0151 1234567", "XX") == "01511234567"


def test_a_number_of_impossible_length_falls_back_to_its_digits_without_prefix() -> None:
    assert phone_key("+34 567 1234567", "DE") == "345671234567"
    assert phone_key("0034 567 1234567", "DE") == "345671234567"
    assert phone_key("+34-567-123-45-67", None) == "345671234567"


@pytest.mark.parametrize(
    "phone",
    ["", None, "n/a", "123", "12-34", "110", "0000000", "+1 111 111 1111", "999 9999 9999"],
    ids=repr,
)
def test_placeholders_and_short_numbers_have_no_key(phone: str | None) -> None:
    assert phone_key(phone, "DE") is None


def test_a_fallback_key_never_looks_like_an_e164_key() -> None:
    fallback = phone_key("+34 567 1234567", None)
    assert fallback is not None
    assert not fallback.startswith("+")


@given(
    country=st.sampled_from(["1", "7", "33", "39", "44", "49", "81", "55", "15", "59"]),
    number=st.integers(min_value=10_000, max_value=99_999_999_999_999),
    separator=st.sampled_from([" ", "-", ".", "", " ("]),
    region=st.sampled_from(["DE", "US", "GB", "FR", "JP", "BR", None]),
)
def test_an_international_number_has_one_key_whatever_the_tenants_region(
    country: str, number: int, separator: str, region: str | None
) -> None:
    # Tenants in different countries must agree on "+49 …": the importer reads it once,
    # without the region, and that must be the key the region would have given.
    digits = str(number)
    phone = f"+{country}{separator}{digits[:3]} {digits[3:]}"
    assert phone_key(phone, region) == phone_key(phone, None)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_digits_of_ascii_text_are_its_0_to_9(text: str) -> None:
    # The ASCII fast path and the general one (every script's decimal digits) agree.
    expected = "".join(ch for ch in text if "0" <= ch <= "9")
    assert _digits(text) == expected
    assert _digits(text + "٠") == expected + "0"


def test_different_numbers_have_different_keys() -> None:
    assert phone_key("0151 1234567", "DE") != phone_key("0151 1234568", "DE")
    assert phone_key("030 1234567", "DE") != phone_key("040 1234567", "DE")


@given(
    prefix=st.sampled_from(["151", "160", "170", "176", "30", "89", "221"]),
    subscriber=st.integers(min_value=1_000_000, max_value=99_999_999),
)
def test_german_formats_agree_for_any_number(prefix: str, subscriber: int) -> None:
    digits = str(subscriber)
    spaced = " ".join(digits[i : i + 2] for i in range(0, len(digits), 2))
    written = [
        f"+49 {prefix} {digits}",
        f"0{prefix} {digits}",
        f"0049-{prefix}-{digits}",
        f"(0{prefix}) {spaced}",
        f"+49{prefix}{digits}",
    ]
    keys = {phone_key(text, "DE") for text in written}
    assert len(keys) == 1
    assert None not in keys


# --- email -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "canonical"),
    [
        ("J.Gross@Gmail.com", "jgross@gmail.com"),
        ("j.g.r.o.s.s+shop@googlemail.com", "jgross@gmail.com"),
        ("JGross+news+x@gmail.com", "jgross@gmail.com"),
        ("j.gross+tag@outlook.com", "j.gross@outlook.com"),
        ("j.gross+tag@hotmail.de", "j.gross@hotmail.de"),
        ("ann+x@me.com", "ann@icloud.com"),
        ("ann@mac.com", "ann@icloud.com"),
        ("ann+x@fastmail.com", "ann@fastmail.com"),
        ("shop@ann.fastmail.com", "ann@fastmail.com"),
        ("ann+x@proton.me", "ann@proton.me"),
        ("ann-shop@yahoo.com", "ann-shop@yahoo.com"),
        ("J.Gross+x@Firma.DE", "j.gross+x@firma.de"),
        ("  ann@example.com.  ", "ann@example.com"),
        ("not an address", "not an address"),
    ],
    ids=lambda value: value.strip(),
)
def test_email_canonical_applies_only_documented_provider_rules(email: str, canonical: str) -> None:
    assert email_canonical(email) == canonical


def test_providers_domains_are_not_merged_where_accounts_differ() -> None:
    assert email_canonical("ann@hotmail.com") != email_canonical("ann@outlook.com")
    assert email_canonical("ann@pm.me") != email_canonical("ann@proton.me")


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("a@GoogleMail.com", "gmail.com"),
        ("j.gross@firma.de", "firma.de"),
        ("x@ann.fastmail.com", "fastmail.com"),
        ("no-at-sign", None),
        ("@firma.de", None),
        ("", None),
        (None, None),
    ],
)
def test_email_domain_is_the_canonical_domain(email: str | None, domain: str | None) -> None:
    assert email_domain(email) == domain


@given(st.emails())
def test_email_canonical_is_idempotent(email: str) -> None:
    once = email_canonical(email)
    assert email_canonical(once) == once


# --- names -------------------------------------------------------------------------------

GROSS = "gross jurgen"


@pytest.mark.parametrize(
    "name",
    [
        "Jürgen Groß",
        "Juergen Gross",
        "Jurgen Gross",
        "GROSS, Jürgen",
        "Gross, Juergen",
        "JÜRGEN GROSS",
        "  jürgen   groß ",
        "Dr. Jürgen Groß",
        "Herr Juergen Gross",
    ],
)
def test_spellings_of_one_german_name_have_one_key(name: str) -> None:
    assert name_key(name) == GROSS


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Müller", "Mueller"),
        ("Schröder", "Schroeder"),
        ("Bäcker", "Baecker"),
        ("Chloé Dubois", "chloe dubois"),
        ("Søren Łukasz", "Soren Lukasz"),
        ("O'Brien", "OBrien"),
        ("Nakamura-Smith", "Nakamura Smith"),
        ("Müller Trading GmbH", "Mueller Trading"),
        ("Ольга Иванова", "ИВАНОВА ОЛЬГА"),
        ("Αλέξανδρος", "ΑΛΕΞΑΝΔΡΟΣ"),
    ],
)
def test_case_accents_punctuation_and_legal_forms_do_not_count(one: str, other: str) -> None:
    assert name_key(one) == name_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Jürgen Groß", "Jürgen Grosz"),
        ("Anna Müller", "Anna Möller"),
        ("が", "か"),  # a kana voicing mark is part of the letter, not an accent
        ("Dr", "Frau"),  # a title alone is kept
    ],
)
def test_different_names_keep_different_keys(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


def test_name_key_of_nothing_is_empty() -> None:
    assert name_key("") == ""
    assert name_key(None) == ""
    assert name_key(" ,.- ") == ""


NAME_LETTERS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzäöüßéèçñøłåÄÖÜÉØŁ"))
NAME_WORDS = st.lists(st.text(NAME_LETTERS, min_size=1, max_size=10), min_size=1, max_size=4)


@given(words=NAME_WORDS, order=st.randoms(use_true_random=False))
def test_name_key_ignores_word_order_and_case(words: list[str], order: random.Random) -> None:
    shuffled = list(words)
    order.shuffle(shuffled)
    key = name_key(" ".join(words))
    assert name_key(" ".join(shuffled)) == key
    assert name_key(" ".join(shuffled).upper()) == key
    assert name_key(", ".join(w.title() for w in shuffled)) == key


@given(st.text(max_size=40))
def test_name_key_is_idempotent_and_sorted(name: str) -> None:
    key = name_key(name)
    assert name_key(key) == key
    assert key.split() == sorted(key.split())


# --- addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Hauptstraße 12, 10115 Berlin", "Hauptstr. 12\n10115 Berlin"),
        ("Hauptstraße 12, 10115 Berlin", "HAUPTSTRASSE 12,  10115 BERLIN"),
        ("Königstraße 3, 70173 Stuttgart", "Koenigstrasse 3, 70173 Stuttgart"),
        ("12 Main Street, Springfield", "Main St. 12\nSpringfield"),
        ("Oak Avenue 7, Paris", "Oak Ave 7, Paris"),
    ],
)
def test_spellings_of_one_address_have_one_key(one: str, other: str) -> None:
    assert address_key(one) == address_key(other)


def test_different_addresses_keep_different_keys() -> None:
    assert address_key("Hauptstraße 12, Berlin") != address_key("Hauptstraße 13, Berlin")
    assert address_key("") is None
    assert address_key(None) is None
    assert address_key(" \n, ") is None


# --- all keys ----------------------------------------------------------------------------


def test_duplicate_keys_gives_every_key_and_leaves_the_values_alone() -> None:
    values = {
        "name": "Jürgen Groß",
        "email": "J.Gross+Shop@GoogleMail.com",
        "phone": "0151 1234567",
        "address": "Hauptstraße 12\n10115 Berlin",
    }
    entered = dict(values)
    keys = duplicate_keys(values, "DE")
    assert tuple(keys) == DUPLICATE_KEYS
    assert keys == {
        "phone_key": "+491511234567",
        "email_canon": "jgross@gmail.com",
        "email_domain": "gmail.com",
        "name_key": "gross jurgen",
        "address_key": "10115 12 berlin hauptstr",
    }
    assert values == entered


def test_duplicate_keys_of_empty_values_are_none() -> None:
    keys = duplicate_keys({"name": "", "email": None, "phone": "", "address": None}, None)
    assert keys == dict.fromkeys(DUPLICATE_KEYS)


def test_the_issues_two_spellings_of_one_customer_share_their_keys() -> None:
    outlook = duplicate_keys(
        {"name": "Jürgen Groß", "email": "jgross@firma.de", "phone": "+49 151 1234567"}, "DE"
    )
    shop = duplicate_keys(
        {"name": "Juergen Gross", "email": "j.gross@firma.de", "phone": "0151 1234567"}, "DE"
    )
    for key in ("name_key", "email_domain", "phone_key"):
        assert outlook[key] == shop[key], key
    assert outlook["email_canon"] != shop["email_canon"]  # a company's dots are its own


# --- the tenant's region, the stored form -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "region"),
    [("DE", "DE"), (" de ", "DE"), ("us", "US"), ("", None), (None, None), ("none", None)],
)
def test_a_region_is_a_code_phonenumbers_knows(text: str | None, region: str | None) -> None:
    assert parse_region(text) == region


@pytest.mark.parametrize("text", ["XX", "Germany", "D", "+49"])
def test_an_unknown_region_is_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(ValueError, match="is not a region code"):
        parse_region(text)


def test_stored_keys_are_cut_to_their_column_widths() -> None:
    # Compatibility characters fold to several letters: "㌀" is four katakana.
    keys = duplicate_keys({"name": "㌀" * 200, "email": "a@b.de", "address": "ﬃ " * 250}, None)
    for name, limit in KEY_LIMITS.items():
        assert keys[name] is None or len(keys[name] or "") <= limit
    assert len(keys["name_key"] or "") == KEY_LIMITS["name_key"]
    assert keys["address_key"] is not None
    assert not keys["address_key"].endswith(" ")


def test_derived_keys_hold_the_email_key_and_every_duplicate_key() -> None:
    from data.keys import DERIVED_KEYS, derived_keys

    values = {"name": "Jürgen Groß", "email": "J.Gross@Firma.de", "phone": "0151 1234567"}
    keys = derived_keys(values, "DE")
    assert tuple(keys) == DERIVED_KEYS == ("email_key", *DUPLICATE_KEYS)
    assert keys["email_key"] == "j.gross@firma.de"
    assert keys["phone_key"] == "+491511234567"
    assert derived_keys(values)["phone_key"] == "01511234567"  # no region: digits


def test_names_whose_numbers_differ_are_not_similar() -> None:
    from data.duplicates import name_key, name_similarity

    assert name_similarity(name_key("Customer 12"), name_key("Customer 13")) == 0
    assert name_similarity(name_key("Unit 4 GmbH"), name_key("Unit 5 GmbH")) == 0
    assert name_similarity(name_key("Unit 007"), name_key("unit 7")) >= 85  # 007 is 7
    assert name_similarity(name_key("Jürgen Groß 2"), name_key("Juergen Gross 2")) == 100
