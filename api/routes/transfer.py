"""Files in and out: ``POST /api/customers/import`` and ``GET /api/customers/export``.

Both are thin doors onto the engine the dashboard and the CLI use
(``data.importing.import_file``, ``data.csv_export.iter_export``); no file is read or
written here.

* Import: the caller's token and its role are checked *before* the body is read, so an
  anonymous or viewer's upload is refused without spooling it; then the multipart file
  is spooled to a temporary file by Starlette (memory up to 1 MiB, disk beyond),
  bounded by the upload limit of ``api.middleware``, and handed to the engine in the
  thread pool, which checks the user's current rights in the import's own transaction.
  The file may be CSV or a workbook (.xlsx, .xls, .ods: the content decides);
  ``?sheet=`` names a workbook's sheet, and a ``mapping`` form field (a JSON object of
  column → field, ``""`` to ignore a column) overrides the automatic column matching,
  as ``manage.py import --map`` does.
* Export: ``?format=csv`` (default) is a streamed ``text/csv`` response.  The first chunks
  are produced before the status line is sent, so that a failure to open the tenant's
  transaction is still an ordinary JSON error rather than a cut-off 200.
  ``?format=xlsx`` (or, without ``format``, an ``Accept`` header asking for the .xlsx
  media type) answers an Excel workbook: it is assembled in a temporary file (a workbook
  is zipped at its end), then streamed; more customers than one sheet holds is a 422 with
  one sentence, never a broken file.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Iterator
from functools import cache
from functools import partial as partial_call
from typing import IO, Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.datastructures import UploadFile

from api.deps import DatabaseDep, ExporterDep, ImporterDep
from api.errors import problem
from api.params import SearchQuery
from api.routes import errors
from api.schemas import ImportResult, PlannedOut, RowErrorOut
from data.csv_export import iter_export
from data.errors import Invalid
from data.importing import ImportMode, ImportSummary, import_file
from data.importing.columns import TARGETS
from data.schemas import check_search
from data.xlsx_export import XLSX_MEDIA_TYPE, ExportTooLarge, export_xlsx

router = APIRouter(prefix="/api/customers", tags=["customers"])

FILE_FIELD = "file"
MAPPING_FIELD = "mapping"
PRIMED_CHUNKS = 2
CHUNK = 256 * 1024
CONCURRENT_IMPORTS = 2


@cache
def _import_limiter() -> anyio.CapacityLimiter:
    """Imports run in threads of their own, two at a time per process: an import can
    take minutes, and must neither take the threads that serve the short requests nor
    pile up a dozen bulk writes on the database at once (the rest wait their turn)."""
    return anyio.CapacityLimiter(CONCURRENT_IMPORTS)


IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "The CSV: UTF-8 (with or without BOM), UTF-16 or "
                            "Windows-1252; comma, semicolon or tab; a header line first. Or "
                            "a workbook (.xlsx, .xls, .ods), whose header row may sit below "
                            "title rows.",
                        },
                        MAPPING_FIELD: {
                            "type": "string",
                            "description": "Optional: a JSON object of column → field "
                            f'({", ".join(TARGETS)}, or "" to ignore the column) that '
                            "overrides the automatic matching, e.g. "
                            '`{"Handy": "phone", "Notes": ""}`.',
                        },
                    },
                }
            }
        },
    }
}


def _result(summary: ImportSummary) -> ImportResult:
    return ImportResult(
        detail=summary.sentence(),
        summary=summary.line(),
        written=summary.written,
        refused=summary.refused and not summary.dry_run,
        dry_run=summary.dry_run,
        mode=str(summary.mode),
        partial=summary.partial,
        filename=summary.filename,
        rows=summary.rows,
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
        skipped=summary.skipped,
        invalid=summary.invalid,
        import_id=summary.import_id,
        encoding=summary.encoding,
        delimiter=summary.delimiter,
        mapping=summary.mapping,
        unknown_columns=summary.unknown_columns,
        ignored_columns=summary.ignored_columns,
        errors=[RowErrorOut(line=e.line, field=e.field, message=e.message) for e in summary.errors],
        errors_truncated=summary.invalid > len({e.line for e in summary.errors}),
        would=PlannedOut(
            create=summary.would.create,
            update=summary.would.update,
            unchanged=summary.would.unchanged,
            skip=summary.would.skip,
        ),
        format=summary.file_format,
        sheet=summary.sheet,
        header_line=summary.header_line,
        feeds=summary.feeds,
    )


def _mapping(value: object) -> dict[str, str] | None:
    """The ``mapping`` form field: a JSON object of column names to fields (or "")."""
    if value is None:
        return None
    problem_text = (
        "Send the mapping as a JSON object of column names to fields, "
        'e.g. {"Handy": "phone", "Notes": ""}.'
    )
    if not isinstance(value, str):
        raise Invalid({MAPPING_FIELD: problem_text})
    try:
        parsed = json.loads(value)
    except ValueError:
        raise Invalid({MAPPING_FIELD: problem_text}) from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str | None) for k, v in parsed.items()
    ):
        raise Invalid({MAPPING_FIELD: problem_text})
    return {key: (target or "") for key, target in parsed.items()}


@router.post(
    "/import",
    summary="Import customers from a CSV file",
    operation_id="importCustomers",
    response_model=ImportResult,
    openapi_extra=IMPORT_BODY,
    responses={
        200: {
            "description": "The file was read. Check `written`: an all-or-nothing import with "
            "invalid rows writes nothing (`refused`), and lists the row errors."
        },
        **errors(400, 401, 403, 413, 422, 503),
    },
)
async def import_customers(
    request: Request,
    identity: ImporterDep,
    database: DatabaseDep,
    mode: Annotated[
        ImportMode,
        Query(description="create: existing emails are errors; upsert: update them; skip."),
    ] = ImportMode.CREATE,
    partial: Annotated[
        bool, Query(description="Import the valid rows even if some are invalid.")
    ] = False,
    dry_run: Annotated[
        bool, Query(alias="dryRun", description="Check the file and report; write nothing.")
    ] = False,
    sheet: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The sheet of a workbook to import (default: the first with data).",
        ),
    ] = None,
) -> ImportResult:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise Invalid(
                {FILE_FIELD: "Send the CSV as a multipart/form-data file field named 'file'."}
            )
        mapping = _mapping(form.get(MAPPING_FIELD))
        filename = os.path.basename(upload.filename or "") or "upload.csv"
        summary = await anyio.to_thread.run_sync(
            partial_call(
                import_file,
                database,
                identity,
                upload.file,
                filename=filename,
                mode=mode,
                partial=partial,
                dry_run=dry_run,
                mapping=mapping,
                sheet=sheet or None,
            ),
            limiter=_import_limiter(),
        )
    return _result(summary)


def _primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run the export up to its first rows now; stream the rest later."""
    first = list(itertools.islice(chunks, PRIMED_CHUNKS))
    return itertools.chain(first, chunks)


ExportFormat = Literal["csv", "xlsx"]


def _wants_xlsx(chosen: ExportFormat | None, accept: str | None) -> bool:
    if chosen is not None:
        return chosen == "xlsx"
    first = (accept or "").split(",")[0].split(";")[0].strip().lower()
    return first == XLSX_MEDIA_TYPE


def _file_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK):
            yield chunk
    finally:
        handle.close()


def _xlsx_response(
    database: Any, identity: Any, search: str | None
) -> StreamingResponse | JSONResponse:
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _file_chunks or below
    try:
        export_xlsx(database, identity, spool, search=search)
    except ExportTooLarge as exc:
        spool.close()
        return problem(422, str(exc))
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    filename = "customers-search.xlsx" if search else "customers.xlsx"
    return StreamingResponse(
        _file_chunks(spool),
        media_type=XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Length": str(size),
        },
    )


@router.get(
    "/export",
    summary="Export customers as CSV or as an Excel workbook",
    operation_id="exportCustomers",
    response_class=StreamingResponse,
    response_model=None,
    responses={
        200: {
            "description": "`name,email,phone,address,created_at,updated_at,id`, streamed; "
            "formula-like cells are neutralised; the file re-imports with no changes. "
            "With `format=xlsx` (or `Accept: " + XLSX_MEDIA_TYPE + "`), the same columns "
            "in one sheet, every cell text, the header frozen.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **errors(401, 403, 422, 503),
    },
)
def export_customers(
    request: Request,
    identity: ExporterDep,
    database: DatabaseDep,
    search: SearchQuery = None,
    bom: Annotated[bool, Query(description="Start with a UTF-8 BOM (for Excel; CSV only).")] = (
        False
    ),
    file_format: Annotated[
        ExportFormat | None,
        Query(
            alias="format",
            description="csv (default) or xlsx; without it, an Accept header naming the .xlsx "
            "media type chooses xlsx.",
        ),
    ] = None,
) -> StreamingResponse | JSONResponse:
    if search is not None:
        check_search(search)
    if _wants_xlsx(file_format, request.headers.get("accept")):
        if bom:
            raise Invalid({"bom": "A byte order mark is for CSV files; a workbook needs none."})
        return _xlsx_response(database, identity, search)
    chunks = iter_export(database, identity, search=search, bom=bom)
    filename = "customers-search.csv" if search else "customers.csv"
    return StreamingResponse(
        _primed(chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
