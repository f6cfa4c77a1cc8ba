"""The Export control of the Customers page: CSV, or an Excel workbook (.xlsx)."""

from __future__ import annotations

import tempfile

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from data.csv_export import export_csv, export_filename
from data.fields import EXPORT_HEADER
from data.xlsx_export import (
    XLSX_MAX_ROWS,
    XLSX_MEDIA_TYPE,
    ExportTooLarge,
    export_xlsx,
    xlsx_filename,
)
from ui import text
from ui.auth import SignedIn
from ui.db import database, scope

MEMORY_LIMIT = 32 * 1024 * 1024  # larger exports spill to a temporary file


def export_control(user: SignedIn, search: str, container: DeltaGenerator) -> None:
    """A popover: all customers or the current search, as CSV (optional BOM) or .xlsx."""
    with container.popover("Export CSV", icon=":material/download:"):
        only_matches = False
        if search:
            only_matches = st.toggle("Only customers matching the search", value=True)
        bom = st.checkbox(
            "For Excel (UTF-8 with a byte order mark)",
            help="Excel needs the mark to read accents and other scripts right (CSV only).",
        )
        st.caption(
            f"Columns: {', '.join(EXPORT_HEADER)}. In the CSV file, cells that a spreadsheet "
            "would run as a formula are prefixed with an apostrophe; in the Excel workbook "
            "every cell is text (none runs as a formula), the header frozen, at most "
            f"{XLSX_MAX_ROWS:,} customers."
        )
        chosen = search if only_matches else None
        with scope(user.identity) as reading:
            tenant_name = reading.tenant_name()
            total = reading.customers.count(chosen)
        too_large = None
        if total.exact and total.value > XLSX_MAX_ROWS:
            too_large = ExportTooLarge(f"{total.value:,}")
            text.warning(str(too_large))

        def build(workbook: bool) -> bytes:
            # Streamlit serves a download from memory: the file is built in a spooled
            # temporary file and handed over once (the CLI and the API stream instead).
            with tempfile.SpooledTemporaryFile(max_size=MEMORY_LIMIT) as spool:
                if workbook:
                    export_xlsx(database(), user.identity, spool, search=chosen)
                else:
                    export_csv(database(), user.identity, spool, search=chosen, bom=bom)
                spool.seek(0)
                return spool.read()

        left, right = st.columns(2)
        left.download_button(
            "Download CSV",
            data=lambda: build(False),
            file_name=export_filename(tenant_name, chosen),
            mime="text/csv",
            type="primary",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "Download Excel",
            data=lambda: build(True),
            file_name=xlsx_filename(tenant_name, chosen),
            mime=XLSX_MEDIA_TYPE,
            icon=":material/table_view:",
            on_click="ignore",
            disabled=too_large is not None,
        )
