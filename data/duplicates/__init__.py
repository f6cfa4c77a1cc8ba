"""Duplicate customers: normalised keys, and candidate pairs with reasons and scores.

Pure Python, no database (exported here): ``keys`` derives the columns to store beside a
customer (``duplicate_keys``; ``providers`` holds the mail providers' documented rules),
``finder`` turns customers streamed by key into pairs (``find_pairs``, or ``pairs_for``
after one write), ``scoring`` says why and how sure, ``synthetic`` makes customers with
planted duplicates for the tests and the bench.

On the database (imported by their own names, as they import ``data.schemas``, which
imports ``data.keys``, which imports ``keys`` here):

* ``lookup``: candidates from the customers table, by block or around one customer;
* ``store``: the ``duplicate_pairs`` table;
* ``service``: ``Duplicates``, what ``scope.duplicates`` is (the queue, dismiss, merge,
  and the upkeep every write path calls);
* ``merge``: merging two customers, and undoing it;
* ``bulk``: a tenant's pairs rebuilt, or an import's found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from data.lazy import lazy_names

if TYPE_CHECKING:
    from data.duplicates.finder import (
        FoundPairs,
        PassStats,
        find_pairs,
        find_pairs_in_memory,
        lookup_keys,
        pairs_for,
        pairs_in_pass,
    )
    from data.duplicates.keys import (
        DUPLICATE_KEYS,
        address_key,
        duplicate_keys,
        email_canonical,
        email_domain,
        name_key,
        phone_key,
    )
    from data.duplicates.providers import FREE_MAIL_DOMAINS
    from data.duplicates.records import STRONG_KEYS, BlockKey, Candidate, Pair, Reason
    from data.duplicates.scoring import DEFAULT_SETTINGS, FinderSettings, evaluate, name_similarity

# Where each name lives.  The package loads a module when one of its names is first used
# (PEP 562): a write path needs ``keys`` only, and ``finder`` brings rapidfuzz and NumPy
# (0.1 s of every start-up of an export, a validation worker or a CLI command).
_HOMES = {
    **dict.fromkeys(
        (
            "FoundPairs",
            "PassStats",
            "find_pairs",
            "find_pairs_in_memory",
            "lookup_keys",
            "pairs_for",
            "pairs_in_pass",
        ),
        "finder",
    ),
    **dict.fromkeys(
        (
            "DUPLICATE_KEYS",
            "address_key",
            "duplicate_keys",
            "email_canonical",
            "email_domain",
            "name_key",
            "phone_key",
        ),
        "keys",
    ),
    "FREE_MAIL_DOMAINS": "providers",
    **dict.fromkeys(("STRONG_KEYS", "BlockKey", "Candidate", "Pair", "Reason"), "records"),
    **dict.fromkeys(
        ("DEFAULT_SETTINGS", "FinderSettings", "evaluate", "name_similarity"), "scoring"
    ),
}


__getattr__ = lazy_names(__name__, _HOMES)


__all__ = [
    "DEFAULT_SETTINGS",
    "DUPLICATE_KEYS",
    "FREE_MAIL_DOMAINS",
    "STRONG_KEYS",
    "BlockKey",
    "Candidate",
    "FinderSettings",
    "FoundPairs",
    "Pair",
    "PassStats",
    "Reason",
    "address_key",
    "duplicate_keys",
    "email_canonical",
    "email_domain",
    "evaluate",
    "find_pairs",
    "find_pairs_in_memory",
    "lookup_keys",
    "name_key",
    "name_similarity",
    "pairs_for",
    "pairs_in_pass",
    "phone_key",
]
