"""The steps of the Import page: upload → columns → check → import → summary.

The uploaded file is spooled to a private file under ``var/uploads`` and dropped from
Streamlit's memory (``ui.uploads``); only its path, name and size are kept in the
session, and every step reads the file from there through ``data.importing``
(streaming).  The spool is deleted when the import ends, when another file is chosen,
and when the session goes.  Nothing here knows SQL or the customer rules: it calls
``preview``, ``import_file(dry_run=True)`` and ``import_file``, in the signed-in user's
identity (their rights are read by the import's own transaction).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from data.errors import DataError
from data.importing import (
    EXTENSIONS,
    MODE_HELP,
    ImportMode,
    ImportSummary,
    Preview,
    RowError,
    import_file,
    preview,
)
from data.importing.columns import IGNORE, TARGET_LABELS, TARGETS, plan_columns
from ui import errors, feedback, text, uploads
from ui.auth import SignedIn
from ui.db import database
from ui.state import StateKey
from ui.uploads import Spool

STATE = StateKey[dict[str, Any]]("import_wizard")
NONCE = StateKey[int]("import_wizard_nonce")  # a new, empty uploader after each upload
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


def _state() -> dict[str, Any]:
    return STATE.setdefault({})


def reset() -> None:
    """Forget the current upload and delete its spooled copy and report."""
    state = _state()
    upload: Spool | None = state.get("upload")
    if upload is not None:
        uploads.discard(upload.path)
    uploads.discard(state.get("report"))
    state.clear()


def finished() -> ImportSummary | None:
    """The summary of the import just done (its upload is deleted by then)."""
    done: ImportSummary | None = _state().get("done")
    return done


def upload_limit_mb() -> int:
    return int(st.get_option("server.maxUploadSize"))


def upload_step() -> Spool | None:
    """The file uploader; spools a new upload to disk and returns what the session keeps."""
    state = _state()
    current: Spool | None = state.get("upload")
    if current is not None and (Path(current.path).exists() or finished() is not None):
        left, right = st.columns([5, 1], vertical_alignment="center")
        with left:
            text.plain(f"File: {current.name} · {_size(current.size)}")
        if right.button("Choose another file", key="import_another_file"):
            reset()
            st.rerun()
        return current
    limit = upload_limit_mb()
    st.caption(
        f"CSV files up to {limit:,} MB can be uploaded here (UTF-8, UTF-16 or Windows-1252; "
        "comma, semicolon or tab), and Excel or OpenDocument workbooks (.xlsx, .xls, .ods). "
        "For larger files, an operator runs "
        "`python manage.py import-csv FILE --tenant TENANT` on the server."
    )
    nonce = NONCE.get_or(0)
    uploaded = st.file_uploader(
        "CSV or Excel file",
        type=list(EXTENSIONS),
        key=f"import_file:{nonce}",
        accept_multiple_files=False,
    )
    if uploaded is not None:
        reset()
        _state()["upload"] = uploads.spool(uploaded)
        NONCE.set(nonce + 1)  # the uploader's own copy is gone: draw a fresh one next time
        st.rerun()
    return None


def _sheet_key(upload: Spool) -> str:
    return f"import_sheet:{upload.file_id}"


def preview_step(upload: Spool) -> Preview | None:
    """Read the header and first rows; a file that cannot be read gets its one sentence.

    A workbook gets a select box of its sheets (the first with data is chosen at first);
    the header row is found below any title rows, and its row number is shown.
    """
    chosen: str | None = st.session_state.get(_sheet_key(upload))
    try:
        with open(upload.path, "rb") as source:
            result = preview(source, rows=PREVIEW_ROWS, filename=upload.name, sheet=chosen)
    except DataError as exc:
        errors.show(exc)
        return None
    if len(result.sheets) > 1 and result.sheet is not None:
        # Sheet names are the file's text: the select box shows its options as plain text.
        st.selectbox(
            "Sheet",
            result.sheets,
            index=result.sheets.index(result.sheet),
            key=_sheet_key(upload),
            help="The sheet to import; at first, the first sheet that holds data.",
        )
    text.plain(f"{result.source()} · {len(result.header)} columns")
    return result


def mapping_step(info: Preview) -> dict[str, str]:
    """The automatic column matching, editable: one row per column of the file.

    A table rather than a select box per column: a column's name is the file's text and
    is shown literally in a table cell (a widget label would render it as Markdown).
    """
    st.subheader("1. Columns")
    st.caption(
        "Each column of the file is matched to a customer field by its name; change any "
        "match, or ignore a column. Name and Email are required."
    )
    headers = list(dict.fromkeys(info.header))
    by_label = {TARGET_LABELS[target]: target for target in (*TARGETS, IGNORE)}
    first = info.rows[0].values if info.rows else []
    frame = pd.DataFrame(
        {
            "Column": [h or f"(column {i + 1} has no name)" for i, h in enumerate(headers)],
            "First row": [first[i] if i < len(first) else "" for i in range(len(headers))],
            "Field": [TARGET_LABELS[info.mapping.get(h, IGNORE)] for h in headers],
        }
    )
    edited = st.data_editor(
        frame,
        key=f"import_map:{info.filename}:{info.sheet}:{len(headers)}",
        hide_index=True,
        width="stretch",
        disabled=["Column", "First row"],
        column_config={
            "Field": st.column_config.SelectboxColumn(
                "Field", options=list(by_label), required=True
            )
        },
    )
    mapping = {
        header: by_label.get(str(choice), IGNORE)
        for header, choice in zip(headers, edited["Field"].tolist(), strict=True)
    }
    for line in _explained(info, mapping):
        text.plain(line)  # which columns feed a field, in what order (column names: literal)
    return mapping


def _explained(info: Preview, mapping: dict[str, str]) -> list[str]:
    try:
        return plan_columns(info.header, mapping).explained()
    except DataError:
        return []


def options_step() -> tuple[ImportMode, bool]:
    st.subheader("2. Options")
    left, right = st.columns([2, 1])
    chosen = left.radio(
        "When an email already exists",
        list(ImportMode),
        format_func=MODE_LABELS.__getitem__,
        key="import_mode",
        horizontal=True,
    )
    mode = ImportMode(chosen) if chosen is not None else ImportMode.CREATE
    left.caption(MODE_HELP[mode])
    partial = right.toggle(
        "Import the valid rows anyway",
        key="import_partial",
        help="Off (default): if any row is invalid, nothing is imported. On: the valid "
        "rows are imported and the invalid ones are left out (see the error report).",
    )
    return mode, bool(partial)


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:,.0f} KB"
    return f"{size / 1e6:,.1f} MB"


def _signature(
    upload: Spool, mapping: dict[str, str], mode: ImportMode, sheet: str | None = None
) -> str:
    return f"{upload.file_id}|{sheet}|{sorted(mapping.items())}|{mode.value}"


def _small(summary: ImportSummary) -> ImportSummary:
    """The summary without the long tail of errors, fit for the session."""
    summary.errors = summary.errors[:200]
    return summary


def check_step(
    user: SignedIn, upload: Spool, info: Preview, mapping: dict[str, str], mode: ImportMode
) -> ImportSummary | None:
    """Preview table, and a dry run (on request) that counts what the import would do."""
    st.subheader("3. Check")
    state = _state()
    signature = _signature(upload, mapping, mode, info.sheet)
    checked: ImportSummary | None = (
        state.get("checked") if state.get("checked_for") == signature else None
    )
    if st.button("Check the file", icon=":material/fact_check:", key="import_check"):
        bar = st.progress(0.0, text="Checking every row…")
        try:
            with open(upload.path, "rb") as source:
                checked = import_file(
                    database(),
                    user.identity,
                    source,
                    filename=upload.name,
                    mode=mode,
                    partial=True,
                    dry_run=True,
                    mapping=mapping,
                    sheet=info.sheet,
                    progress=_progress(bar, "Checking every row…"),
                    sample_rows=PREVIEW_ROWS,
                )
        except DataError as exc:
            bar.empty()
            errors.show(exc)
            return None
        bar.empty()
        state["checked"] = _small(checked)
        state["checked_for"] = signature
    if checked is not None:
        counts = st.columns(5)
        for column, (label, value) in zip(
            counts,
            [
                # A dry run writes nothing: what its valid rows would do.
                ("Create", checked.would.create),
                ("Update", checked.would.update),
                ("Unchanged", checked.would.unchanged),
                ("Skip", checked.would.skip),
                ("Invalid", checked.invalid),
            ],
            strict=True,
        ):
            column.metric(label, f"{value:,}")
    _preview_table(info, mapping, checked)
    if checked is None:
        st.caption("Check the file to see what each row will do before importing.")
        return None
    if checked.unknown_columns:
        text.plain("Ignored columns: " + ", ".join(checked.unknown_columns))
    if checked.invalid:
        st.warning(
            f"{checked.invalid:,} of {checked.rows:,} rows are invalid. "
            "Fix them in the file, or import the valid rows only (option above)."
        )
        _errors_table(checked.errors)
    return checked


def _fields_of(info: Preview, mapping: dict[str, str]) -> Any:
    """A function from a row's values to the fields the import makes of them: the
    first non-empty of several columns, the name joined from its parts (as importing)."""
    try:
        plan = plan_columns(info.header, mapping)
    except DataError:
        index = {header: i for i, header in reversed(list(enumerate(info.header)))}
        fields = {target: index[h] for h, target in mapping.items() if target and h in index}

        def raw(values: list[str]) -> dict[str, str | None]:
            return {
                target: values[i]
                if (i := fields.get(target)) is not None and i < len(values)
                else ""
                for target in ("name", "email", "phone", "address")
            }

        return raw
    return lambda values: plan.record(plan.project(values))


def _preview_table(info: Preview, mapping: dict[str, str], checked: ImportSummary | None) -> None:
    made = _fields_of(info, mapping)
    errors: dict[int, list[str]] = {}
    if checked is not None:
        for error in checked.errors:
            errors.setdefault(error.line, []).append(error.message)
    rows = []
    for record in info.rows:  # "Line": the CSV line where the row starts, or the sheet row
        fields = made(record.values)
        action = checked.actions.get(record.line, "") if checked is not None else ""
        rows.append(
            {
                "Line": record.line,
                "Action": ACTION_LABELS.get(action, action) or "—",
                "Name": fields.get("name") or "",
                "Email": fields.get("email") or "",
                "Phone": fields.get("phone") or "",
                "Address": fields.get("address") or "",
                "Problem": " ".join(errors.get(record.line, [])),
                "Likely duplicate": checked.likely_duplicates.get(record.line, "")
                if checked is not None
                else "",
            }
        )
    if rows:
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "Line": st.column_config.NumberColumn("Line", width="small"),
                "Action": st.column_config.TextColumn("Action", width="small"),
                "Problem": st.column_config.TextColumn("Problem", width="large"),
                "Likely duplicate": st.column_config.TextColumn(
                    "Likely duplicate",
                    width="medium",
                    help="The row looks like this existing customer (by phone, email or a "
                    "similar name), not only by its email.",
                ),
            },
        )
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
    user: SignedIn,
    upload: Spool,
    mapping: dict[str, str],
    mode: ImportMode,
    partial: bool,
    checked: ImportSummary | None,
    sheet: str | None = None,
) -> None:
    """The import button, its progress bar, and the result with the error report."""
    st.subheader("4. Import")
    state = _state()
    done: ImportSummary | None = state.get("done")
    if done is None:
        blocked = checked is not None and checked.invalid > 0 and not partial
        label = (
            "Import"
            if checked is None
            else f"Import {checked.rows:,} row{'s' if checked.rows != 1 else ''}"
        )
        if blocked:
            st.caption("Nothing can be imported while rows are invalid and the option is off.")
        if not st.button(
            label, type="primary", icon=":material/upload:", disabled=blocked, key="import_run"
        ):
            return
        bar = st.progress(0.0, text="Importing…")
        report, report_path = uploads.new_file("report")
        try:
            with open(upload.path, "rb") as source, report:
                done = import_file(
                    database(),
                    user.identity,
                    source,
                    filename=upload.name,
                    mode=mode,
                    partial=partial,
                    mapping=mapping,
                    sheet=sheet,
                    errors_out=report,
                    progress=_progress(bar, "Importing…"),
                )
        except DataError as exc:
            bar.empty()
            errors.show(exc)
            uploads.discard(report_path)
            return
        bar.empty()
        if done.written:
            feedback.changed(user.tenant_id)
        state["done"] = _small(done)
        state["report"] = report_path if done.invalid else None
        if not done.invalid:
            uploads.discard(report_path)
        # The file is read; only the error report (if any) is still needed.
        uploads.discard(upload.path)
    show_result(done)


def show_result(summary: ImportSummary) -> None:
    if summary.written:
        text.success(summary.sentence())
    else:
        text.error(summary.sentence())
    report = _state().get("report")
    if summary.invalid and report and Path(report).exists():
        st.download_button(
            "Download the error report",
            data=lambda: Path(report).read_bytes(),  # read only when clicked
            file_name=f"{Path(summary.filename).stem}-errors.csv",
            mime="text/csv",
            icon=":material/download:",
            help="A CSV file of the invalid rows: their line (or sheet row) first, the row as "
            "it was, then an 'error' column; fix them and import this file again.",
            key="import_report",
        )
        _errors_table(summary.errors)
    if st.button("Import another file", key="import_again"):
        reset()
        NONCE.set(NONCE.get_or(0) + 1)
        st.rerun()
