"""Spreadsheet-safe cells, shared by the export (which neutralises) and the import (which
undoes it).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and
Excel also one that starts with a tab or a carriage return.  The export prefixes such a
cell with ``'`` (``neutralise_cell``); the import drops exactly that one quote again
(``unneutralise``), so that an export re-imports to what was stored.  Pure functions.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# FORMULA_STARTS as a character class of a GLOB or a regular expression ("-" last: literal).
FORMULA_CLASS = "[" + "".join(sorted(FORMULA_STARTS, key=lambda ch: ch == "-")) + "]"


def needs_neutralising(value: str) -> bool:
    """True when a spreadsheet would run ``value`` as a formula (after leading quotes)."""
    return value.lstrip("'")[:1] in FORMULA_STARTS


def neutralise_cell(value: str) -> str:
    """Prefix ``'`` so a spreadsheet shows the text instead of running it.

    Reversible (see ``unneutralise``): a value that already starts with quotes before a
    formula character gets one more, so an export re-imports to exactly what was stored.
    """
    return "'" + value if needs_neutralising(value) else value


def unneutralise(value: str) -> str:
    """The inverse of ``neutralise_cell``: drop the one quote it added."""
    if value.startswith("'") and needs_neutralising(value[1:]):
        return value[1:]
    return value
