"""CSV in and out: ``POST /api/customers/import`` and ``GET /api/customers/export``.

Both are thin doors onto the CSV engine the dashboard and the CLI use
(``data.csv_import.import_csv``, ``data.csv_export.iter_export``); no CSV is read or
written here.

* Import: the caller is checked (token, import right) *before* the body is read, so an
  anonymous upload is refused without spooling it; then the multipart file is spooled
  to a temporary file by Starlette (memory up to 1 MiB, disk beyond), bounded by the
  upload limit of ``api.middleware``, and handed to the engine in the thread pool.
* Export: a streamed ``text/csv`` response.  The first chunks are produced before the
  status line is sent, so that a failure to open the tenant's transaction is still an
  ordinary JSON error rather than a cut-off 200.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from functools import cache
from functools import partial as partial_call
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from api.deps import DatabaseDep, ExporterDep, ImporterDep
from api.routes import errors
from api.routes.customers import MAX_SEARCH, check_search
from api.schemas import ImportResult, RowErrorOut
from data.csv_export import iter_export
from data.csv_import import ImportMode, ImportSummary, import_csv
from data.errors import Invalid

router = APIRouter(prefix="/api/customers", tags=["customers"])

FILE_FIELD = "file"
PRIMED_CHUNKS = 2
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
                            "Windows-1252; comma, semicolon or tab; a header line first.",
                        }
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
    )


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
    principal: ImporterDep,
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
) -> ImportResult:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise Invalid(
                {FILE_FIELD: "Send the CSV as a multipart/form-data file field named 'file'."}
            )
        filename = os.path.basename(upload.filename or "") or "upload.csv"
        summary = await anyio.to_thread.run_sync(
            partial_call(
                import_csv,
                database,
                principal.tenant_id,
                principal.actor,
                upload.file,
                filename=filename,
                mode=mode,
                partial=partial,
                dry_run=dry_run,
            ),
            limiter=_import_limiter(),
        )
    return _result(summary)


def _primed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Run the export up to its first rows now; stream the rest later."""
    first = list(itertools.islice(chunks, PRIMED_CHUNKS))
    return itertools.chain(first, chunks)


@router.get(
    "/export",
    summary="Export customers as CSV",
    operation_id="exportCustomers",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`name,email,phone,address,created_at,updated_at,id`, streamed; "
            "formula-like cells are neutralised; the file re-imports with no changes.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **errors(401, 403, 422, 503),
    },
)
def export_customers(
    principal: ExporterDep,
    database: DatabaseDep,
    search: Annotated[
        str | None,
        Query(max_length=MAX_SEARCH, description="Only customers matching this search."),
    ] = None,
    bom: Annotated[bool, Query(description="Start with a UTF-8 BOM (for Excel).")] = False,
) -> StreamingResponse:
    check_search(search)
    chunks = iter_export(database, principal.tenant_id, principal.actor, search=search, bom=bom)
    filename = "customers-search.csv" if search else "customers.csv"
    return StreamingResponse(
        _primed(chunks),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
