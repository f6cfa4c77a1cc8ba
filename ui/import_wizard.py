"""The steps of the Import page: upload → columns → check → import → summary.

The uploaded file is spooled to a private temporary file under ``var/uploads`` and only
its path, name and size are kept in ``st.session_state``; every step reads the file from
there through ``data.csv_import`` (streaming), so a large upload never sits in the
session.  Nothing here knows SQL or the customer rules: it calls ``preview``,
``import_csv(dry_run=True)`` and ``import_csv``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from config import VAR_DIR
from data.csv_import import (
    MODE_HELP,
    ImportMode,
    ImportSummary,
    Preview,
    RowError,
    import_csv,
    preview,
)
from data.csv_read import IGNORE, TARGET_LABELS, TARGETS
from data.errors import DataError
from data.users import UserInfo
from ui import feedback
from ui.db import database
from ui.text import literal

UPLOADS = VAR_DIR / "uploads"
STATE = "import_wizard"
NONCE = "import_wizard_nonce"  # a new uploader (empty) after "Import another file"
PREVIEW_ROWS = 20
MODE_LABELS = {
    ImportMode.CREATE: "Create only",
    ImportMode.UPSERT: "Update or create (by email)",
    ImportMode.SKIP: "Skip existing emails",
}
ACTION_LABELS = {
    "create": "create",
    "update": "update",
    "unchanged": "unchanged",
    "skip": "skip",
    "invalid": "invalid",
}


@dataclass(frozen=True)
class Upload:
    """What the session keeps of an upload: where its copy is, not its bytes."""

    file_id: str
    name: str
    path: str
    size: int


def _state() -> dict[str, Any]:
    state: dict[str, Any] = st.session_state.setdefault(STATE, {})
    return state


def reset() -> None:
    """Forget the current upload and delete its spooled copy."""
    state = _state()
    upload: Upload | None = state.get("upload")
    if upload is not None:
        with contextlib.suppress(OSError):
            os.unlink(upload.path)
        report = state.get("report")
        if report:
            with contextlib.suppress(OSError):
                os.unlink(report)
    state.clear()


def upload_limit_mb() -> int:
    return int(st.get_option("server.maxUploadSize"))


def upload_step() -> Upload | None:
    """The file uploader; spools a new upload to disk and returns what the session keeps."""
    limit = upload_limit_mb()
    st.caption(
        f"CSV files up to {limit:,} MB can be uploaded here (UTF-8, UTF-16 or Windows-1252; "
        "comma, semicolon or tab). For larger files, an operator runs "
        "`python manage.py import-csv FILE --tenant TENANT` on the server."
    )
    nonce = st.session_state.get(NONCE, 0)
    uploaded = st.file_uploader(
        "CSV file",
        type=["csv", "txt", "tsv"],
        key=f"import_file:{nonce}",
        accept_multiple_files=False,
    )
    state = _state()
    if uploaded is None:
        if state.get("upload") is not None:
            reset()
        return None
    current: Upload | None = state.get("upload")
    if current is not None and current.file_id == uploaded.file_id and os.path.exists(current.path):
        return current
    reset()
    UPLOADS.mkdir(parents=True, exist_ok=True)
    _forget_abandoned_files()
    handle, path = tempfile.mkstemp(prefix="import-", suffix=".csv", dir=UPLOADS)
    with os.fdopen(handle, "wb") as spool:
        uploaded.seek(0)
        shutil.copyfileobj(uploaded, spool, 1024 * 1024)
    upload = Upload(uploaded.file_id, uploaded.name, path, os.path.getsize(path))
    state["upload"] = upload
    return upload


def _forget_abandoned_files(max_age_hours: float = 24) -> None:
    """Spooled uploads and reports of sessions that ended without finishing."""
    cutoff = time.time() - max_age_hours * 3600
    for path in UPLOADS.glob("*.csv"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def preview_step(upload: Upload) -> Preview | None:
    """Read the header and first rows; a file that cannot be read gets its one sentence."""
    try:
        with open(upload.path, "rb") as source:
            result = preview(source, rows=PREVIEW_ROWS, filename=upload.name)
    except DataError as exc:
        st.error(str(exc))
        return None
    st.caption(
        f"**{literal(upload.name)}** · {_size(upload.size)} · {result.encoding} · "
        f"{result.delimiter}-separated · {len(result.header)} columns"
    )
    return result


def mapping_step(info: Preview) -> dict[str, str]:
    """The automatic column matching, editable: one select per column of the file."""
    st.subheader("1. Columns")
    st.caption(
        "Each column of the file is matched to a customer field by its name; change any "
        "match, or ignore a column. Name and Email are required."
    )
    options = [*TARGETS, IGNORE]
    mapping: dict[str, str] = {}
    columns = st.columns(min(4, max(1, len(info.header))))
    for index, header in enumerate(dict.fromkeys(info.header)):
        default = info.mapping.get(header, IGNORE)
        label = header or f"(column {index + 1} has no name)"
        choice = columns[index % len(columns)].selectbox(
            label,
            options,
            index=options.index(default),
            format_func=TARGET_LABELS.__getitem__,
            key=f"import_map:{info.filename}:{index}:{header}",
        )
        mapping[header] = choice
    return mapping


def options_step() -> tuple[ImportMode, bool]:
    st.subheader("2. Options")
    left, right = st.columns([2, 1])
    mode = left.radio(
        "When an email already exists",
        list(ImportMode),
        format_func=MODE_LABELS.__getitem__,
        key="import_mode",
        horizontal=True,
    )
    left.caption(MODE_HELP[mode])
    partial = right.toggle(
        "Import the valid rows anyway",
        key="import_partial",
        help="Off (default): if any row is invalid, nothing is imported. On: the valid "
        "rows are imported and the invalid ones are left out (see the error report).",
    )
    return ImportMode(mode), bool(partial)


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:,.0f} KB"
    return f"{size / 1e6:,.1f} MB"


def _signature(upload: Upload, mapping: dict[str, str], mode: ImportMode) -> str:
    return f"{upload.file_id}|{sorted(mapping.items())}|{mode.value}"


def _small(summary: ImportSummary) -> ImportSummary:
    """The summary without the long tail of errors, fit for the session."""
    summary.errors = summary.errors[:200]
    return summary


def check_step(
    user: UserInfo, upload: Upload, info: Preview, mapping: dict[str, str], mode: ImportMode
) -> ImportSummary | None:
    """Preview table, and a dry run (on request) that counts what the import would do."""
    st.subheader("3. Check")
    state = _state()
    signature = _signature(upload, mapping, mode)
    checked: ImportSummary | None = (
        state.get("checked") if state.get("checked_for") == signature else None
    )
    if st.button("Check the file", icon=":material/fact_check:", key="import_check"):
        bar = st.progress(0.0, text="Checking every row…")
        try:
            with open(upload.path, "rb") as source:
                checked = import_csv(
                    database(),
                    user.tenant_id,
                    user.actor,
                    source,
                    filename=upload.name,
                    mode=mode,
                    partial=True,
                    dry_run=True,
                    mapping=mapping,
                    progress=_progress(bar, "Checking every row…"),
                    sample_rows=PREVIEW_ROWS,
                )
        except DataError as exc:
            bar.empty()
            st.error(str(exc))
            return None
        bar.empty()
        state["checked"] = _small(checked)
        state["checked_for"] = signature
    _preview_table(info, mapping, checked)
    if checked is None:
        st.caption("Check the file to see what each row will do before importing.")
        return None
    counts = st.columns(5)
    for column, (label, value) in zip(
        counts,
        [
            ("Create", checked.created),
            ("Update", checked.updated),
            ("Unchanged", checked.unchanged),
            ("Skip", checked.skipped),
            ("Invalid", checked.invalid),
        ],
        strict=True,
    ):
        column.metric(label, f"{value:,}")
    if checked.unknown_columns:
        st.caption("Ignored columns: " + ", ".join(checked.unknown_columns))
    if checked.invalid:
        st.warning(
            f"{checked.invalid:,} of {checked.rows:,} rows are invalid. "
            "Fix them in the file, or import the valid rows only (option above)."
        )
        _errors_table(checked.errors)
    return checked


def _preview_table(info: Preview, mapping: dict[str, str], checked: ImportSummary | None) -> None:
    index = {header: i for i, header in reversed(list(enumerate(info.header)))}
    fields = {target: index[h] for h, target in mapping.items() if target and h in index}
    errors: dict[int, list[str]] = {}
    if checked is not None:
        for error in checked.errors:
            errors.setdefault(error.line, []).append(error.message)
    rows = []
    for record in info.rows:

        def value(target: str, values: list[str] = record.values) -> str:
            i = fields.get(target)
            return values[i] if i is not None and i < len(values) else ""

        name = value("name") or " ".join(
            part for part in (value("first_name"), value("last_name")) if part
        )
        action = checked.actions.get(record.line, "") if checked is not None else ""
        rows.append(
            {
                "Line": record.line,
                "Action": ACTION_LABELS.get(action, action) or "—",
                "Name": name,
                "Email": value("email"),
                "Phone": value("phone"),
                "Address": value("address"),
                "Problem": " ".join(errors.get(record.line, [])),
            }
        )
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.info("The file has a header but no rows.")


def _errors_table(errors: list[RowError]) -> None:
    frame = pd.DataFrame(
        [{"Line": e.line, "Field": e.field or "", "Problem": e.message} for e in errors]
    )
    st.dataframe(frame, hide_index=True, width="stretch", height=min(400, 40 + 35 * len(errors)))


def _progress(bar: Any, label: str):  # type: ignore[no-untyped-def]
    last = [0.0, -1.0]

    def update(done: int, total: int) -> None:
        fraction = min(1.0, done / max(total, 1))
        now = time.monotonic()
        if fraction >= 1.0 or (fraction - last[1] >= 0.01 and now - last[0] >= 0.2):
            bar.progress(fraction, text=f"{label} {fraction:.0%}")
            last[0], last[1] = now, fraction

    return update


def import_step(
    user: UserInfo,
    upload: Upload,
    mapping: dict[str, str],
    mode: ImportMode,
    partial: bool,
    checked: ImportSummary | None,
) -> None:
    """The import button, its progress bar, and the result with the error report."""
    st.subheader("4. Import")
    state = _state()
    done: ImportSummary | None = state.get("done")
    if done is None:
        blocked = checked is not None and checked.invalid > 0 and not partial
        label = "Import" if checked is None else f"Import {checked.rows:,} rows"
        if blocked:
            st.caption("Nothing can be imported while rows are invalid and the option is off.")
        if not st.button(
            label, type="primary", icon=":material/upload:", disabled=blocked, key="import_run"
        ):
            return
        bar = st.progress(0.0, text="Importing…")
        UPLOADS.mkdir(parents=True, exist_ok=True)
        handle, report_path = tempfile.mkstemp(prefix="errors-", suffix=".csv", dir=UPLOADS)
        try:
            with open(upload.path, "rb") as source, os.fdopen(handle, "wb") as report:
                done = import_csv(
                    database(),
                    user.tenant_id,
                    user.actor,
                    source,
                    filename=upload.name,
                    mode=mode,
                    partial=partial,
                    mapping=mapping,
                    errors_out=report,
                    progress=_progress(bar, "Importing…"),
                )
        except DataError as exc:
            bar.empty()
            st.error(str(exc))
            with contextlib.suppress(OSError):
                os.unlink(report_path)
            return
        bar.empty()
        if done.written:
            feedback.changed(user.tenant_id)
        state["done"] = _small(done)
        state["report"] = report_path if done.invalid else None
        if not done.invalid:
            with contextlib.suppress(OSError):
                os.unlink(report_path)
    show_result(done)


def show_result(summary: ImportSummary) -> None:
    if summary.written:
        st.success(summary.sentence())
    else:
        st.error(summary.sentence())
    report = _state().get("report")
    if summary.invalid and report and Path(report).exists():
        st.download_button(
            "Download the error report",
            data=lambda: Path(report).read_bytes(),  # read only when clicked
            file_name=f"{Path(summary.filename).stem}-errors.csv",
            mime="text/csv",
            icon=":material/download:",
            help="The invalid rows as they were, with an 'error' column; fix them and import "
            "this file again.",
            key="import_report",
        )
        _errors_table(summary.errors)
    if st.button("Import another file", key="import_again"):
        reset()
        st.session_state[NONCE] = st.session_state.get(NONCE, 0) + 1
        st.rerun()
