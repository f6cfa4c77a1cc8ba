"""Delete with confirmation, and Undo (which restores from the audit log)."""

from __future__ import annotations

import streamlit as st

from data.customers import CustomerRepository
from data.errors import DataError
from data.users import UserInfo
from ui import feedback
from ui.customer_table import request_reset
from ui.db import tenant_session
from ui.text import literal

CONFIRM = "delete_confirm"
UNDO = "delete_undo"


def ask_delete(ids: list[str]) -> None:
    st.session_state[CONFIRM] = list(ids)


def render_confirm(user: UserInfo) -> None:
    """The confirmation dialog, when asked for (call after the buttons that ask)."""
    ids: list[str] | None = st.session_state.get(CONFIRM)
    if ids:
        _confirm_dialog(user, ids)


def render_undo(user: UserInfo) -> None:
    """The Undo bar after a delete."""
    undo: dict[str, object] | None = st.session_state.get(UNDO)
    if undo:
        left, right, close = st.columns([6, 1, 1], vertical_alignment="center")
        left.success(str(undo["message"]))
        if right.button("Undo", icon=":material/undo:", key="undo_delete"):
            _undo(user, list(undo["ids"]))  # type: ignore[call-overload]
        if close.button("Dismiss", key="dismiss_undo"):
            st.session_state.pop(UNDO, None)
            st.rerun()


def _confirm_dialog(user: UserInfo, ids: list[str]) -> None:
    count = len(ids)
    noun = "customer" if count == 1 else "customers"

    def cancel() -> None:
        st.session_state.pop(CONFIRM, None)

    @st.dialog(f"Delete {count} {noun}?", on_dismiss=cancel)
    def dialog() -> None:
        try:
            with tenant_session(user) as session:
                repository = CustomerRepository(session, user.tenant_id)
                names = [c.name for c in (repository.find(i) for i in ids[:10]) if c]
        except DataError as exc:
            st.error(str(exc))
            return
        listed = ", ".join(literal(name) for name in names) + (
            f" and {count - len(names)} more" if count > len(names) else ""
        )
        st.write(f"This deletes **{listed}**. You can undo it right after, or later from History.")
        left, right = st.columns(2)
        if left.button("Delete", type="primary", width="stretch"):
            _delete(user, ids)
        if right.button("Cancel", width="stretch"):
            cancel()
            st.rerun()

    dialog()


def _delete(user: UserInfo, ids: list[str]) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        with tenant_session(user, write=True) as session:
            deleted = CustomerRepository(session, user.tenant_id, user.actor).delete_many(ids)
    except DataError as exc:
        st.session_state[UNDO] = None
        st.error(f"Nothing was deleted: {exc}")
        return
    feedback.changed(user.tenant_id)
    names = ", ".join(literal(c.name) for c in deleted[:3]) + ("…" if len(deleted) > 3 else "")
    st.session_state[UNDO] = {
        "ids": [c.id for c in deleted],
        "message": f"Deleted {len(deleted)} customer{'s' if len(deleted) != 1 else ''}: {names}",
    }
    st.rerun()


def _undo(user: UserInfo, ids: list[str]) -> None:
    try:
        with tenant_session(user, write=True) as session:
            repository = CustomerRepository(session, user.tenant_id, user.actor)
            restored = [repository.restore(i) for i in ids]
    except DataError as exc:
        st.error(f"Could not undo: {exc}")
        return
    st.session_state.pop(UNDO, None)
    feedback.changed(user.tenant_id)
    request_reset()
    feedback.success(f"Restored {len(restored)} customer{'s' if len(restored) != 1 else ''}.")
    st.rerun()
