"""Small text helpers shared by the data layer."""

from __future__ import annotations

import re

_LIKE_SPECIAL = re.compile(r"([\\%_])")


def like_pattern(term: str) -> str:
    """A ``LIKE`` pattern matching ``term`` as a plain substring (escape character ``\\``)."""
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", term) + "%"
