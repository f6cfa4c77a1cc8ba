"""A search that no database could run is refused with a sentence, not a crash."""

import pytest

from data.errors import Invalid


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("ab\x00cd", "Search contains a NUL character, which cannot be stored."),
        ("ab\ud800", "Search contains invalid Unicode (a lone surrogate)."),
    ],
    ids=["nul", "lone-surrogate"],
)
def test_an_unsearchable_term_is_refused_with_a_sentence(tenant, customers_of, term, message):
    with customers_of(tenant) as repository, pytest.raises(Invalid) as refused:
        repository.list(search=term)
    assert refused.value.errors == {"search": message}
