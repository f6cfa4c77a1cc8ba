"""History: the tenant's audit events, filterable, with restore and undo.

Events are listed in a table (user text is shown literally there); choosing one shows
what it changed and, for a delete or an import, the button that puts it back.  Those
buttons act in their own write scope: whoever clicks must still be allowed to write.
"""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from data.errors import DataError
from data.identity import Permission
from data.importing import undo_import
from ui import auth, errors, feedback, text
from ui.db import scope
from ui.history import (
    ACTION_LABELS,
    diff_rows,
    import_counts,
    merged_away,
    pair_rows,
    subject,
)
from ui.state import StateKey
from ui.timefmt import local

user = auth.require(Permission.READ)
PAGE_SIZE = 50

st.title("History")
feedback.show_pending()
errors.show_pending()

who, what, when = st.columns([3, 2, 2])
search = who.text_input(
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
chosen_days = list(period) if isinstance(period, tuple) else [period]
start = chosen_days[0] if chosen_days else None
end = chosen_days[-1] if chosen_days else None
since = datetime.combine(start, time.min, tzinfo=UTC) if start else None
until = datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1) if end else None

filters_key = f"{user.tenant_id}|{search}|{','.join(actions)}|{since}|{until}"
PAGE = StateKey[int](f"history_page:{filters_key}")
# Bumped after a restore or an undo: the new event moves the rows under the selection,
# so the table is drawn afresh, with nothing chosen.
DRAWN = StateKey[int]("history_table_generation")
page = PAGE.get_or(0)
with errors.guard(), scope(user.identity) as reading:
    events = reading.audit.events(
        text=search,
        actions=actions,
        since=since,
        until=until,
        limit=PAGE_SIZE,
        offset=page * PAGE_SIZE,
    )
    total = reading.audit.count(text=search, actions=actions, since=since, until=until)
    existing = reading.customers.existing_ids(
        [e.customer_id for e in events if e.customer_id]
        + [gone for e in events if (gone := merged_away(e))]
    )

if not events:
    st.info("No events match these filters.")
    st.stop()

st.caption(f"{total:,} event{'s' if total != 1 else ''} · newest first · choose one to see it")


def restore(customer_id: str) -> None:
    try:
        with scope(user.identity, write=True) as writing:
            writing.customers.restore(customer_id)
    except DataError as exc:
        errors.later(exc)
        return
    feedback.changed(user.tenant_id)
    DRAWN.set(DRAWN.get_or(0) + 1)
    feedback.success("The customer was restored.")


def undo_merge(event_id: str) -> None:
    try:
        with scope(user.identity, write=True) as writing:
            writing.duplicates.undo_merge(event_id)
    except DataError as exc:
        errors.later(exc)
        return
    feedback.changed(user.tenant_id)
    DRAWN.set(DRAWN.get_or(0) + 1)
    feedback.success("The merge was undone: both customers are back.")


def undo(import_id: str) -> None:
    try:
        with scope(user.identity, write=True) as writing:
            summary = undo_import(writing, import_id)
    except DataError as exc:
        errors.later(exc)
        return
    feedback.changed(user.tenant_id)
    DRAWN.set(DRAWN.get_or(0) + 1)
    feedback.success(
        f"Undid the import: {summary.removed:,} removed, {summary.restored:,} restored."
    )
    if summary.refused:
        feedback.success(
            f"{len(summary.refused):,} customers changed since the import were left as they are."
        )


table = st.dataframe(
    pd.DataFrame(
        [
            {
                "When": local(event.at),
                "Action": ACTION_LABELS.get(event.action, event.action),
                "About": subject(event),
                "By": event.actor,
            }
            for event in events
        ]
    ),
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key=f"history_events:{filters_key}:{page}:{DRAWN.get_or(0)}",
)
picked = table.selection.rows
event = events[picked[0]] if picked else None
if event is not None:
    with st.container(border=True):
        text.plain(
            f"{local(event.at)} · {ACTION_LABELS.get(event.action, event.action)} · "
            f"{subject(event)} · by {event.actor}"
        )
        if event.action in ("import", "undo_import"):
            st.dataframe(
                pd.DataFrame(
                    [(k, str(v)) for k, v in import_counts(event).items()],
                    columns=["What", "Value"],
                ),
                hide_index=True,
            )
            if user.can(Permission.IMPORT) and event.action == "import":
                st.button(
                    "Undo this import",
                    key=f"undo:{event.id}",
                    on_click=undo,
                    args=(event.id,),
                    help="Removes the customers it created and puts back what it changed, "
                    "except rows edited since.",
                )
        elif event.action in ("merge", "undo_merge", "dismiss"):
            st.dataframe(pd.DataFrame(pair_rows(event)), hide_index=True, width="stretch")
            removed = merged_away(event)
            if user.can(Permission.WRITE) and removed and removed not in existing:
                st.button(
                    "Undo this merge",
                    key=f"undo_merge:{event.id}",
                    on_click=undo_merge,
                    args=(event.id,),
                    icon=":material/call_split:",
                    help="Brings the removed customer back and puts the kept one back as it "
                    "was before the merge.",
                )
        else:
            st.dataframe(pd.DataFrame(diff_rows(event)), hide_index=True, width="stretch")
            if (
                user.can(Permission.WRITE)
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

if total > PAGE_SIZE:
    info, newer, older = st.columns([6, 1, 1], vertical_alignment="center")
    info.caption(f"Events {page * PAGE_SIZE + 1:,}–{page * PAGE_SIZE + len(events):,} of {total:,}")
    if newer.button("Newer", icon=":material/chevron_left:", disabled=page == 0, width="stretch"):
        PAGE.set(page - 1)
        st.rerun()
    last = (page + 1) * PAGE_SIZE >= total
    if older.button("Older", icon=":material/chevron_right:", disabled=last, width="stretch"):
        PAGE.set(page + 1)
        st.rerun()
