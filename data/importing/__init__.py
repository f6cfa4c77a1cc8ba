"""Bulk import of customers, as a pipeline of small stages (see ``pipeline``).

* ``results``: what an import, a preview and an undo return (``ImportSummary`` ...);
* ``read_csv``: records of a CSV file as people send them, with physical line numbers;
* ``read_sheet`` (and ``sheet_child``): records of a sheet of an .xlsx / .ods workbook,
  with sheet row numbers; ``open_reader`` picks the format from the file's first bytes;
* ``limits``: the bounds of a file's shape that keep an import's memory flat;
* ``columns``: which column feeds which field (targets and synonyms from ``data.fields``);
* ``validation`` and ``workers``: the rules of a customer per record, in batches, in
  worker processes for large files;
* ``staging``, ``plan``, ``write``: the temporary tables and the set-based SQL per batch;
* ``report``: the error report; ``undo``: taking an import back;
* ``pipeline``: ``preview`` and ``import_file``, which put it together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from data.lazy import lazy_names

if TYPE_CHECKING:
    from data.importing.limits import LIMITS, Limits
    from data.importing.pipeline import ANALYZE_AFTER_ROWS, import_csv, import_file, preview
    from data.importing.read_sheet import EXTENSIONS
    from data.importing.report import write_error_report
    from data.importing.results import (
        MAX_ERRORS,
        MODE_HELP,
        SUMMARY_LINE_HELP,
        ImportMode,
        ImportSummary,
        Planned,
        Preview,
        RowError,
        UndoSummary,
    )
    from data.importing.undo import undo_import
    from data.importing.validation import BATCH_ROWS, PARALLEL_MIN_BYTES

# Where each name lives.  The package loads a module when one of its names is first used
# (PEP 562), so that a validation worker, which runs ``data.importing.validation``, does
# not load the pipeline, SQLAlchemy and the database drivers (about 20 MB per worker).
_HOMES = {
    **dict.fromkeys(("LIMITS", "Limits"), "limits"),
    **dict.fromkeys(("ANALYZE_AFTER_ROWS", "import_csv", "import_file", "preview"), "pipeline"),
    "EXTENSIONS": "read_sheet",
    "write_error_report": "report",
    **dict.fromkeys(
        (
            "MAX_ERRORS",
            "MODE_HELP",
            "SUMMARY_LINE_HELP",
            "ImportMode",
            "ImportSummary",
            "Planned",
            "Preview",
            "RowError",
            "UndoSummary",
        ),
        "results",
    ),
    "undo_import": "undo",
    **dict.fromkeys(("BATCH_ROWS", "PARALLEL_MIN_BYTES"), "validation"),
}


__getattr__ = lazy_names(__name__, _HOMES)


__all__ = [
    "ANALYZE_AFTER_ROWS",
    "BATCH_ROWS",
    "EXTENSIONS",
    "LIMITS",
    "MAX_ERRORS",
    "MODE_HELP",
    "PARALLEL_MIN_BYTES",
    "SUMMARY_LINE_HELP",
    "ImportMode",
    "ImportSummary",
    "Limits",
    "Planned",
    "Preview",
    "RowError",
    "UndoSummary",
    "import_csv",
    "import_file",
    "preview",
    "undo_import",
    "write_error_report",
]
