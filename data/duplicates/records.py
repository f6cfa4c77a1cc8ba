"""What the duplicate finder reads (``Candidate``) and what it finds (``Pair``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from data.duplicates.keys import duplicate_keys


class BlockKey(StrEnum):
    """A key customers are grouped by; the value is the column it is stored in."""

    PHONE = "phone_key"
    EMAIL = "email_canon"
    DOMAIN = "email_domain"
    ADDRESS = "address_key"


# Keys that make a pair on their own; the others only together with a similar name.
STRONG_KEYS: frozenset[BlockKey] = frozenset({BlockKey.PHONE, BlockKey.EMAIL})


class Reason(StrEnum):
    """Why two customers look like one; a pair lists every reason that holds."""

    SAME_EMAIL = "same_email"  # the same canonical email (gmail dots, +tags)
    SAME_PHONE = "same_phone"  # the same number (E.164) however it was written
    SIMILAR_NAME = "similar_name"  # folded names at least ``name_threshold`` alike
    SAME_EMAIL_DOMAIN = "same_email_domain"  # a company domain, not a free-mail one
    SAME_ADDRESS = "same_address"  # the same folded address


@dataclass(frozen=True, slots=True)
class Candidate:
    """One customer as the finder sees it: the id and the keys, the values for display.

    Scoring reads only the keys, so a bulk query may leave the values out.
    """

    id: str
    name_key: str = ""
    email_canon: str | None = None
    email_domain: str | None = None
    phone_key: str | None = None
    address_key: str | None = None
    name: str = ""
    email: str = ""
    phone: str | None = None
    address: str | None = None
    updated_at: datetime | None = None

    def key(self, block: BlockKey) -> str | None:
        """The value of one block key."""
        match block:
            case BlockKey.PHONE:
                return self.phone_key
            case BlockKey.EMAIL:
                return self.email_canon
            case BlockKey.DOMAIN:
                return self.email_domain
            case BlockKey.ADDRESS:
                return self.address_key

    @classmethod
    def from_values(
        cls,
        id: str,
        values: Mapping[str, str | None],
        region: str | None,
        updated_at: datetime | None = None,
    ) -> Candidate:
        """A candidate with its keys computed from the customer's values."""
        keys = duplicate_keys(values, region)
        return cls(
            id=id,
            name_key=keys["name_key"] or "",
            email_canon=keys["email_canon"],
            email_domain=keys["email_domain"],
            phone_key=keys["phone_key"],
            address_key=keys["address_key"],
            name=values.get("name") or "",
            email=values.get("email") or "",
            phone=values.get("phone"),
            address=values.get("address"),
            updated_at=updated_at,
        )


class Pair(NamedTuple):
    """Two customers that may be one: ``id_a < id_b``, a score 0–100, the reasons."""

    id_a: str
    id_b: str
    score: int
    reasons: tuple[Reason, ...]

    @property
    def ids(self) -> tuple[str, str]:
        return (self.id_a, self.id_b)
