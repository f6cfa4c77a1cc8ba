"""Delete with confirmation, and Undo (which restores from the audit log).

Both write in their own scope: the user's rights are read when they click.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from data.errors import DataError
from ui import errors, feedback, text
from ui.auth import SignedIn
from ui.customer_table import request_reset
from ui.db import scope
from ui.state import StateKey


@dataclass(frozen=True)
class Deleted:
    """What the Undo bar offers to put back."""

    ids: list[str]
    names: list[str]


CONFIRM = StateKey[list[str]]("delete_confirm")
UNDO = StateKey[Deleted]("delete_undo")


def ask_delete(ids: list[str]) -> None:
    CONFIRM.set(list(ids))


def render_confirm(user: SignedIn) -> None:
    """The confirmation dialog, when asked for (call after the buttons that ask)."""
    ids = CONFIRM.get()
    if ids:
        _confirm_dialog(user, ids)


def _plural(count: int) -> str:
    return f"{count} customer{'s' if count != 1 else ''}"


def render_undo(user: SignedIn) -> None:
    """The Undo bar after a delete: who was deleted (literally), Undo, Dismiss."""
    undo = UNDO.get()
    if not undo:
        return
    names = ", ".join(undo.names[:3]) + ("…" if len(undo.names) > 3 else "")
    left, right, close = st.columns([6, 1, 1], vertical_alignment="center")
    with left:
        text.success(f"Deleted {_plural(len(undo.ids))}: {names}")
    if right.button("Undo", icon=":material/undo:", key="undo_delete"):
        _undo(user, undo.ids)
    if close.button("Dismiss", key="dismiss_undo"):
        UNDO.pop()
        st.rerun()


def _confirm_dialog(user: SignedIn, ids: list[str]) -> None:
    count = len(ids)

    def cancel() -> None:
        CONFIRM.pop()

    @st.dialog(f"Delete {_plural(count)}?", on_dismiss=cancel)
    def dialog() -> None:
        try:
            with scope(user.identity) as reading:
                found = reading.customers.get_many(ids[:10])
        except DataError as exc:
            errors.show(exc)
            return
        names = [found[i].name for i in ids[:10] if i in found]
        st.write(
            "This deletes the customers below. You can undo it right after, or later from History."
        )
        st.dataframe(pd.DataFrame({"Name": names}), hide_index=True, width="stretch")
        if count > len(names):
            st.caption(f"… and {count - len(names)} more.")
        left, right = st.columns(2)
        if left.button("Delete", type="primary", width="stretch"):
            _delete(user, ids)
        if right.button("Cancel", width="stretch"):
            cancel()
            st.rerun()

    dialog()


def _delete(user: SignedIn, ids: list[str]) -> None:
    CONFIRM.pop()
    try:
        with scope(user.identity, write=True) as writing:
            deleted = writing.customers.delete_many(ids)
    except DataError as exc:
        UNDO.pop()
        errors.show(exc, "Nothing was deleted: ")
        return
    feedback.changed(user.tenant_id)
    UNDO.set(Deleted([c.id for c in deleted], [c.name for c in deleted]))
    st.rerun()


def _undo(user: SignedIn, ids: list[str]) -> None:
    try:
        with scope(user.identity, write=True) as writing:
            restored = [writing.customers.restore(i) for i in ids]
    except DataError as exc:
        errors.show(exc, "Could not undo: ")
        return
    UNDO.pop()
    feedback.changed(user.tenant_id)
    request_reset()
    feedback.success(f"Restored {_plural(len(restored))}.")
    st.rerun()
