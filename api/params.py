"""Query parameters shared by the customer routes (list, export)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from data.fields import SEARCHABLE, label

MAX_SEARCH = 200

SearchQuery = Annotated[
    str | None,
    Query(
        max_length=MAX_SEARCH,
        description="Case-insensitive substring of "
        + ", ".join(label(name).lower() for name in SEARCHABLE)
        + ".",
        examples=["nakamura"],
    ),
]
