"""Whether two candidates make a pair, why, and how sure: a pure function of their keys.

A pair is made by

- the same canonical email, or the same phone (each alone, while the key is shared by at
  most ``max_block`` customers: a phone on 500 customers is a switchboard, not a person);
- or a similar name (rapidfuzz token-sort ratio of the folded names ≥ ``name_threshold``)
  together with the same email, phone, address, or email domain that is not a free-mail
  domain (``shared_domains``).

Names whose numbers differ are never similar: ``Unit 4`` and ``Unit 5``, ``Customer 12``
and ``Customer 13`` are different customers however alike the letters (and without this
rule a list of numbered accounts at one company domain pairs every row with its
neighbours).

The score adds points for each piece of evidence, and takes some off for a conflict
(both have a phone, or an address, and they differ: people do have several numbers, so it
lowers the rank without excluding the pair), kept within 0–100:

=========================  ======  ==============================================
evidence                   points  why
=========================  ======  ==============================================
same canonical email       55      one mailbox; strongest, but families share one
same phone                 40      people share landlines and switchboards
same address               15      households and office buildings
same company email domain  10      colleagues share it
name likeness              0–45    0 at a ratio ≤ 60, 45 at 100, linear between
different phones           −15     a second number is common, a conflict all the same
different addresses        −10     people move; a weaker conflict
=========================  ======  ==============================================

So the same email with the same name scores 100, the same phone with the same name 85,
the same name at the same company domain 55 (40 when their phones differ), a similar
name (ratio 85) there 38, the same phone under a different name 40.  The score does
not depend on which blocking pass found the pair, so passes agree.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from rapidfuzz import fuzz

from data.duplicates.providers import FREE_MAIL_DOMAINS
from data.duplicates.records import STRONG_KEYS, BlockKey, Candidate, Pair, Reason

EVIDENCE_POINTS: dict[Reason, int] = {
    Reason.SAME_EMAIL: 55,
    Reason.SAME_PHONE: 40,
    Reason.SAME_ADDRESS: 15,
    Reason.SAME_EMAIL_DOMAIN: 10,
}
CONFLICTING_PHONE = -15  # both have a phone, and they differ
CONFLICTING_ADDRESS = -10  # both have an address, and they differ
NAME_POINTS = 45
NAME_FLOOR = 60  # a ratio at or below this earns no name points


@dataclass(frozen=True)
class FinderSettings:
    """The finder's knobs; the defaults are what the tests and the bench measure."""

    name_threshold: float = 85.0  # token-sort ratio of folded names counted as similar
    max_block: int = 25  # a strong key shared by more customers needs a similar name too
    exact_limit: int = 2_000  # groups up to this size compare every pair of names
    window: int = 30  # above it: each name against its next ``window`` in two orders
    max_group: int = 50_000  # rows of one group held in memory; larger ones are chunked
    shared_domains: frozenset[str] = FREE_MAIL_DOMAINS
    # A domain shared by more customers of the tenant is a provider's or a very large
    # organisation's (a university, an ISP, a reseller's placeholder): like a free-mail
    # domain, it no longer suggests that two similar names are one customer.  Without
    # this, a list where a few domains hold thousands each paired every common name there.
    max_domain: int = 1_000
    min_score: int = 0  # pairs scoring less are not reported
    workers: int = 1  # threads for rapidfuzz's matrix (-1: every core)
    # After one write: per key, the customers read on each side of the changed one's name
    # (all of a group up to this size; of a larger one, the nearest names in order, as
    # the bulk passes compare a huge group's names with their next ``window``): for a
    # phone or an email (whose group size decides whether it makes a pair alone), and for
    # a domain or an address (where only a similar name makes a pair).
    nearest: int = 30
    nearest_names: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.name_threshold <= 100:
            raise ValueError("name_threshold must be above 0 and at most 100.")
        if not 1 <= self.max_block < self.max_group or self.exact_limit < 2 or self.window < 1:
            raise ValueError("Need 1 <= max_block < max_group, exact_limit >= 2, window >= 1.")
        if self.max_domain < 2:
            raise ValueError("max_domain must be at least 2.")
        if self.nearest < self.max_block or self.nearest_names < 1:
            raise ValueError("nearest must be at least max_block, nearest_names at least 1.")


DEFAULT_SETTINGS = FinderSettings()


def name_similarity(a: str, b: str) -> float:
    """Token-sort ratio (0–100) of two ``name_key`` values; 0 when either is empty, or
    when their numbers differ (``Unit 4``, ``Unit 5``; leading zeros do not count).

    Name keys already hold their words sorted, so a plain ratio is the token-sort ratio.
    """
    if not a or not b:
        return 0.0
    if _numbers(a) != _numbers(b):
        return 0.0
    return fuzz.ratio(a, b)


_NUMBER = re.compile(r"[0-9]+")


def _numbers(name: str) -> list[str]:
    return sorted(number.lstrip("0") for number in _NUMBER.findall(name))


def evaluate(
    a: Candidate,
    b: Candidate,
    settings: FinderSettings = DEFAULT_SETTINGS,
    trusted: Collection[BlockKey] = STRONG_KEYS,
) -> Pair | None:
    """The pair ``a``–``b`` with its reasons and score, or None when it is not one.

    ``trusted``: the strong keys that may make a pair alone here (those whose group is no
    larger than ``max_block``).
    """
    if a.id == b.id:
        return None
    same_email = a.email_canon is not None and a.email_canon == b.email_canon
    same_phone = a.phone_key is not None and a.phone_key == b.phone_key
    same_address = a.address_key is not None and a.address_key == b.address_key
    same_domain = (
        not same_email
        and a.email_domain is not None
        and a.email_domain == b.email_domain
        and a.email_domain not in settings.shared_domains
    )
    similarity = name_similarity(a.name_key, b.name_key)
    similar = similarity >= settings.name_threshold
    alone = (same_email and BlockKey.EMAIL in trusted) or (same_phone and BlockKey.PHONE in trusted)
    if not alone and not (similar and (same_email or same_phone or same_address or same_domain)):
        return None
    facts = (
        (Reason.SAME_EMAIL, same_email),
        (Reason.SAME_PHONE, same_phone),
        (Reason.SIMILAR_NAME, similar),
        (Reason.SAME_EMAIL_DOMAIN, same_domain),
        (Reason.SAME_ADDRESS, same_address),
    )
    reasons = tuple(reason for reason, holds in facts if holds)
    points = sum(EVIDENCE_POINTS.get(reason, 0) for reason in reasons)
    if a.phone_key is not None and b.phone_key is not None and not same_phone:
        points += CONFLICTING_PHONE
    if a.address_key is not None and b.address_key is not None and not same_address:
        points += CONFLICTING_ADDRESS
    likeness = min(max((similarity - NAME_FLOOR) / (100 - NAME_FLOOR), 0.0), 1.0)
    score = min(100, max(0, round(points + NAME_POINTS * likeness)))
    if score < settings.min_score:
        return None
    first, second = (a.id, b.id) if a.id < b.id else (b.id, a.id)
    return Pair(first, second, score, reasons)
