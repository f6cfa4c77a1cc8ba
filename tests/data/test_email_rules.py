"""Email addresses are checked by email-validator, with its domain check memoised.

``data.schemas.email_validation`` keeps the library's answers per domain (a customer list
repeats a few domains thousands of times).  These tests prove that the memo is where the
library looks the domain check up, and that every answer, accepted or refused, is the
library's own, the first time and every time after.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.schemas import check_email, email_validation

TRICKY = [
    "ann@example.com",
    "Ann.Lee+shop@Example.COM",
    "ann@EXAMPLE.com",  # the same domain in another case: its own entry, the same answer
    "jürgen@bücher.de",
    "ann@xn--bcher-kva.de",
    "ann@例え.テスト",
    "ann@localhost",
    "ann@example",
    "ann@example.invalid",
    "ann@-example.com",
    "ann@exa_mple.com",
    "ann@exam ple.com",
    "ann@example..com",
    "ann@.example.com",
    "ann@example.com.",
    "ann@[127.0.0.1]",
    "ann@" + "d" * 64 + ".com",
    "ann@" + ".".join(["d" * 63] * 4) + ".com",
    "ann@exa\u200bmple.com",
    "ann@exa\u2488mple.com",
    "ann@example\uff0ecom",
    "ann@",
    "@example.com",
    "ann",
    "ann@@example.com",
]


def outcome(address: str) -> str:
    """What ``check_email`` answers: the address, or the sentence it refuses it with."""
    try:
        return "ok: " + check_email(address)
    except ValueError as exc:
        return "refused: " + str(exc)


def library_module() -> Any:
    validate_email, _ = email_validation()
    return sys.modules[validate_email.__module__]


def library_outcomes(addresses: list[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The same answers with the library's own, unmemoised domain check."""
    module = library_module()
    with monkeypatch.context() as patch:
        patch.setattr(
            module, "validate_email_domain_name", module.validate_email_domain_name.__wrapped__
        )
        return [outcome(address) for address in addresses]


def test_the_library_finds_the_memoised_domain_check() -> None:
    check = library_module().validate_email_domain_name
    before = check.cache_info()
    check_email("first@memo-probe.example.com")
    check_email("second@memo-probe.example.com")
    after = check.cache_info()
    assert after.misses == before.misses + 1
    assert after.hits == before.hits + 1


def test_every_answer_is_the_librarys_the_first_time_and_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = [outcome(address) for address in TRICKY]
    again = [outcome(address) for address in TRICKY]
    assert first == again == library_outcomes(TRICKY, monkeypatch)
    assert sum(answer.startswith("refused") for answer in first) >= 12


def test_a_caller_that_changes_an_answer_does_not_change_the_next() -> None:
    check = library_module().validate_email_domain_name
    answer = check("example.org", test_environment=False, globally_deliverable=True)
    answer["domain"] = "changed.example"
    again = check("example.org", test_environment=False, globally_deliverable=True)
    assert again["domain"] == "example.org"


domains = st.sampled_from(["example.com", "bücher.de", "x.io", "exa_mple.com", "a..b", "ä.com"])
local_parts = st.text(alphabet=st.sampled_from('abcxyz.+-_"ü@ '), min_size=0, max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(local_parts, domains), min_size=1, max_size=8))
def test_generated_addresses_get_the_librarys_answers(
    pairs: list[tuple[str, str]],
) -> None:
    addresses = [f"{local}@{domain}" for local, domain in pairs]
    ours = [outcome(address) for address in addresses]
    with pytest.MonkeyPatch.context() as patch:
        assert ours == library_outcomes(addresses, patch)


def test_loading_the_validation_again_does_not_wrap_the_domain_check_twice() -> None:
    email_validation()
    email_validation.cache_clear()  # as a second thread reaching the first load would
    email_validation()
    check = library_module().validate_email_domain_name
    assert not hasattr(check.__wrapped__, "cache_info")
