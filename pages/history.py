"""History: the tenant's audit events, filterable, with restore and undo."""

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from data.audit import AuditLog
from data.customers import CustomerRepository
from data.errors import DataError
from data.models import Role
from ui import auth, feedback
from ui.db import tenant_session
from ui.history import ACTION_LABELS, diff_rows, import_counts, subject
from ui.text import literal
from ui.timefmt import local

user = auth.require(Role.VIEWER)
editor = auth.can(user, Role.EDITOR)
PAGE_SIZE = 50

st.title("History")
feedback.show_pending()

who, what, when = st.columns([3, 2, 2])
text = who.text_input(
    "Customer",
    placeholder="Name, email or customer id",
    key="history_text",
    help="Finds events whose record (before or after) contains this text, or the customer id.",
)
actions = what.multiselect(
    "Action", list(ACTION_LABELS), format_func=ACTION_LABELS.__getitem__, key="history_actions"
)
today = datetime.now(UTC).date()
period = when.date_input(
    "Between", value=(today - timedelta(days=30), today), max_value=today, key="history_dates"
)
start, end = period if isinstance(period, tuple) and len(period) == 2 else (period, period)  # type: ignore[misc]
since = datetime.combine(start, time.min, tzinfo=UTC) if start else None
until = datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1) if end else None

filters_key = f"{user.tenant_id}|{text}|{','.join(actions)}|{since}|{until}"
page = st.session_state.get(f"history_page:{filters_key}", 0)
try:
    with tenant_session(user) as session:
        log = AuditLog(session, user.tenant_id)
        criteria = {"text": text, "actions": actions, "since": since, "until": until}
        events = log.events(**criteria, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
        total = log.count(**criteria)
        existing = CustomerRepository(session, user.tenant_id).existing_ids(
            e.customer_id for e in events if e.customer_id
        )
except DataError as exc:
    st.error(str(exc))
    st.stop()

if not events:
    st.info("No events match these filters.")
    st.stop()

st.caption(f"{total:,} event{'s' if total != 1 else ''} · newest first")


def restore(customer_id: str) -> None:
    try:
        with tenant_session(user, write=True) as session:
            restored = CustomerRepository(session, user.tenant_id, user.actor).restore(customer_id)
    except DataError as exc:
        st.session_state["history_error"] = str(exc)
        return
    feedback.changed(user.tenant_id)
    feedback.success(f"Restored {literal(restored.name)}.")


def undo(import_id: str) -> None:
    from data.csv_import import undo_import

    try:
        with tenant_session(user, write=True) as session:
            summary = undo_import(session, user.tenant_id, user.actor, import_id)
    except DataError as exc:
        st.session_state["history_error"] = str(exc)
        return
    feedback.changed(user.tenant_id)
    feedback.success(str(summary))


error = st.session_state.pop("history_error", None)
if error:
    st.error(error)

for event in events:
    action = ACTION_LABELS.get(event.action, event.action)
    label = f"{local(event.at)} · {action} · {literal(subject(event))} · by {literal(event.actor)}"
    with st.expander(label):
        if event.action in ("import", "undo_import"):
            st.json(import_counts(event), expanded=True)
            if editor and event.action == "import":
                st.button(
                    "Undo this import",
                    key=f"undo:{event.id}",
                    on_click=undo,
                    args=(event.id,),
                    help="Removes the customers it created and puts back what it changed, "
                    "except rows edited since.",
                )
        else:
            st.table(diff_rows(event), hide_index=True)
            if (
                editor
                and event.action == "delete"
                and event.customer_id
                and event.customer_id not in existing
            ):
                st.button(
                    "Restore",
                    key=f"restore:{event.id}",
                    on_click=restore,
                    args=(event.customer_id,),
                    icon=":material/restore_from_trash:",
                )

left, right = st.columns(2)
if left.button("Newer", disabled=page == 0):
    st.session_state[f"history_page:{filters_key}"] = page - 1
    st.rerun()
if right.button("Older", disabled=(page + 1) * PAGE_SIZE >= total):
    st.session_state[f"history_page:{filters_key}"] = page + 1
    st.rerun()
