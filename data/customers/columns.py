"""What a read of customers returns and how it can be ordered, from ``data.fields``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from data.fields import FIELD_NAMES, FIELDS
from data.models import CUSTOMERS
from data.schemas import CustomerOut

C = CUSTOMERS.c

# The columns every read selects: the system columns and the fields (``CustomerOut.of``).
COLUMNS: tuple[Any, ...] = (
    C.id,
    C.tenant_id,
    *(C[name] for name in FIELD_NAMES),
    C.created_at,
    C.updated_at,
    C.version,
)

# Each field's sort reads its index; the email sorts by its key (unique per tenant).
SORTS: dict[str, Any] = {
    **{field.name: C.email_key if field.kind == "email" else C[field.name] for field in FIELDS},
    "created_at": C.created_at,
    "updated_at": C.updated_at,
}
SORT_LABELS: dict[str, str] = {
    **{field.name: field.label for field in FIELDS},
    "created_at": "Date added",
    "updated_at": "Last changed",
}
# Columns that may be empty (NULL): empty values sort last ascending, first descending,
# on every database (PostgreSQL's default; SQLite's is the opposite).
NULLABLE_SORTS = frozenset(field.name for field in FIELDS if not field.required)
# Sorts whose column is unique in the tenant: the id is not needed to order them.
UNIQUE_SORTS = frozenset(field.name for field in FIELDS if field.kind == "email")
# The API spells the system columns in camelCase.
SORT_ALIASES = {"createdAt": "created_at", "updatedAt": "updated_at"}

MAX_PAGE_SIZE = 1000


def parse_sort(sort: str | None) -> tuple[str, bool]:
    """``"name"``, ``"-created_at"`` → (column, descending); unknown → ValueError."""
    raw = (sort or "name").strip()
    descending = raw.startswith("-")
    column = raw.lstrip("-+").strip() or "name"
    column = SORT_ALIASES.get(column, column)
    if column not in SORTS:
        choices = ", ".join(SORTS)
        raise ValueError(f"Cannot sort by {column!r}; choose one of {choices}.")
    return column, descending


@dataclass(frozen=True)
class Count:
    """A number of customers; ``exact`` is False when it is a lower bound (``1,000+``)."""

    value: int
    exact: bool = True

    def __str__(self) -> str:
        return f"{self.value:,}" if self.exact else f"more than {self.value:,}"


@dataclass(frozen=True)
class Page:
    items: list[CustomerOut]
    total: Count
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        if self.total.exact:
            return self.offset + len(self.items) < self.total.value
        # A lower bound ("more than 1,000") cannot tell; a page that is not full can.
        return len(self.items) == self.limit


def out(row: Any) -> CustomerOut:
    """A stored customer from a row of ``COLUMNS``."""
    return CustomerOut.of(row._mapping)
