"""The bounds of an import: what a file may be shaped like, so that memory stays flat.

An import keeps, per row, only the values of the columns it maps (``columns.ColumnPlan``),
in batches closed by rows *or* bytes, so its memory does not grow with the file's size,
its width or its longest lines.  What a reader must hold at once is bounded here:

* ``max_columns``: the header may name at most this many columns (a wider file is
  refused at line 1).  Data rows wider than the header are row errors, their values
  dropped as soon as they are counted.
* ``max_field_chars``: one field (a CSV field, a spreadsheet cell) may hold at most this
  much text; a longer one refuses the file, naming its line (a CSV quote left open
  reads as one endless field, and is caught the same way).
* ``max_row_chars``: one CSV record, all its physical lines together, may be at most
  this long; a longer one refuses the file, naming its line.  This bounds how many
  fields a row can have before it is counted (a line of a million commas).
* ``batch_bytes``: a batch of kept values is closed at this size even before
  ``BATCH_ROWS`` rows (wide values never pile up a batch of hundreds of megabytes).
* ``sheet_memory_mb``: a spreadsheet is unpacked by python-calamine, which holds one
  sheet at a time in memory; it runs in a child process of its own under this
  address-space limit, so that a sheet too large (or a file crafted to unpack into
  gigabytes) is refused with one sentence and never touches the importing process.
  About 100,000 rows of 7 columns need 110 MB, so the default reads sheets of about
  120,000 such rows; CSV has no such limit.

Every figure can be passed as ``limits=Limits(...)`` to ``import_file`` and ``preview``;
the defaults are documented in the README ("Import limits").
"""

from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    max_columns: int = 2_000
    max_field_chars: int = 1 * MIB
    max_row_chars: int = 2 * MIB
    batch_bytes: int = 4 * MIB
    sheet_memory_mb: int = 160


LIMITS = Limits()


def size_text(chars: int) -> str:
    """``1 MB``, ``256 KB``: a limit as people read it."""
    if chars >= MIB and chars % MIB == 0:
        return f"{chars // MIB:,} MB"
    if chars >= KIB and chars % KIB == 0:
        return f"{chars // KIB:,} KB"
    return f"{chars:,} characters"
