"""A tenant's customers: the repository (reads and writes), search, and deep paging.

* ``repository``: ``CustomerRepository``, what ``scope.customers`` is;
* ``columns``: what a read returns and how it may be sorted, from ``data.fields``;
* ``search``: substring search per database;
* ``paging``: anchors that keep deep pages as fast as the first;
* ``writes``: the rules every write of a customer obeys (shared with the importer).
"""

from data.customers.columns import (
    COLUMNS,
    MAX_PAGE_SIZE,
    SORT_LABELS,
    SORTS,
    Count,
    Page,
    parse_sort,
)
from data.customers.repository import CustomerRepository
from data.customers.search import COUNT_CAP

__all__ = [
    "COLUMNS",
    "COUNT_CAP",
    "MAX_PAGE_SIZE",
    "SORTS",
    "SORT_LABELS",
    "Count",
    "CustomerRepository",
    "Page",
    "parse_sort",
]
