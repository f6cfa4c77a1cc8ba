"""The Export CSV control of the Customers page."""

from __future__ import annotations

import tempfile

import streamlit as st

from data.csv_export import export_csv, export_filename
from data.tenancy import get_tenant
from data.users import UserInfo
from ui.db import database, tenant_session
from ui.text import literal

MEMORY_LIMIT = 32 * 1024 * 1024  # larger exports spill to a temporary file


def export_control(
    user: UserInfo, search: str, container: st.delta_generator.DeltaGenerator
) -> None:
    """A popover: all customers or the current search, optional BOM for Excel, download."""
    with container.popover("Export CSV", icon=":material/download:", width="stretch"):
        only_matches = False
        if search:
            only_matches = st.toggle(f"Only customers matching “{literal(search)}”", value=True)
        bom = st.checkbox(
            "For Excel (UTF-8 with a byte order mark)",
            help="Excel needs the mark to read accents and other scripts right.",
        )
        st.caption(
            "Columns: name, email, phone, address, created_at, updated_at, id. Cells that a "
            "spreadsheet would run as a formula are prefixed with an apostrophe."
        )
        scope = search if only_matches else None
        with tenant_session(user) as session:
            tenant_name = get_tenant(session, user.tenant_id).name

        def build() -> bytes:
            # Streamlit serves a download from memory: the file is built in a spooled
            # temporary file and handed over once (the CLI and the API stream instead).
            with tempfile.SpooledTemporaryFile(max_size=MEMORY_LIMIT) as spool:
                export_csv(database(), user.tenant_id, user.actor, spool, search=scope, bom=bom)
                spool.seek(0)
                return spool.read()

        st.download_button(
            "Download CSV",
            data=build,
            file_name=export_filename(tenant_name, scope),
            mime="text/csv",
            type="primary",
            icon=":material/download:",
            on_click="ignore",
        )
