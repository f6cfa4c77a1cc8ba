"""The Add Customer / Edit Customer dialog, its fields from ``data.fields``.

The form's labels, limits and required marks come from the field declarations; Save
Customer writes in its own scope, so the user's rights are read at the moment of the
write.  Errors go next to their field, or above the form, literally (``ui.errors``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from data.errors import DataError
from data.fields import FIELDS
from ui import errors, feedback, text
from ui.auth import SignedIn
from ui.customer_table import request_reset
from ui.db import scope
from ui.state import StateKey


@dataclass
class FormState:
    """What the open dialog remembers between runs."""

    id: str | None  # None: a new customer
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    errors: dict[str, str] = field(default_factory=dict)
    conflict: dict[str, Any] | None = None
    version: int | None = None
    done: str | None = None
    leave: DataError | None = None  # may not write (any more): the page says why


STATE = StateKey[FormState]("customer_form")


def open_form(customer_id: str | None = None) -> None:
    """Ask the page to show the dialog on this run (for a new customer, or to edit one)."""
    STATE.set(FormState(customer_id))


def is_open() -> bool:
    return STATE.get() is not None


def close() -> None:
    STATE.pop()


def _field_key(state: FormState, name: str) -> str:
    return f"cf:{state.nonce}:{name}"


def _submit(user: SignedIn) -> None:
    state = STATE.get()
    if state is None:
        return
    values = {f.name: st.session_state.get(_field_key(state, f.name)) for f in FIELDS}
    state.errors = {}
    state.conflict = None
    try:
        with scope(user.identity, write=True) as writing:
            if state.id is None:
                writing.customers.create(values)
                message = "The customer was added."
            else:
                writing.customers.update(state.id, values, expected_version=state.version)
                message = "The customer was saved."
    except DataError as exc:
        problem = errors.problem_of(
            exc, gone="This customer was deleted by someone else in the meantime."
        )
        if problem.kind in ("signed_out", "forbidden"):
            # Not a problem of the form: the page says it (or Sign in does), once.
            state.leave = exc
        elif problem.kind == "conflict":
            state.conflict = problem.theirs
        else:
            state.errors = problem.fields or {"form": problem.message}
    else:
        state.done = message
        feedback.changed(user.tenant_id)
        request_reset()


def render(user: SignedIn) -> None:
    """Show the dialog if the page asked for it (call once per run, anywhere on the page)."""
    state = STATE.get()
    if state is None:
        return
    title = "Add Customer" if state.id is None else "Edit Customer"

    @st.dialog(title, width="large", on_dismiss=close)
    def dialog() -> None:
        _body(user, state)

    dialog()


def _body(user: SignedIn, state: FormState) -> None:
    if state.done or state.leave:
        if state.done:
            feedback.success(state.done)
        if state.leave:
            errors.later(state.leave)  # said by the run below, which redraws the page
        close()
        st.rerun()  # the whole page: the dialog closes, the grid shows the change
    if state.id is not None and state.version is None:
        try:
            with scope(user.identity) as reading:
                current = reading.customers.get(state.id)
        except DataError as exc:
            errors.show(exc)
            return
        state.version = current.version
        for name, value in current.fields().items():
            st.session_state[_field_key(state, name)] = value or ""
    if state.errors.get("form"):
        text.error(state.errors["form"])
    if state.conflict:
        _conflict(state)
    with st.form(f"customer_form:{state.nonce}", border=False):
        for spec in FIELDS:
            label = spec.form_text + (" *" if spec.required else "")
            key = _field_key(state, spec.name)
            if spec.multiline:
                st.text_area(label, key=key, max_chars=spec.max_length, height=110)
            else:
                st.text_input(label, key=key, max_chars=spec.max_length)
            if state.errors.get(spec.name):
                text.error(state.errors[spec.name])
        st.form_submit_button(
            "Save Customer", type="primary", on_click=_submit, args=(user,), width="stretch"
        )


def _conflict(state: FormState) -> None:
    theirs = state.conflict or {}
    st.warning(
        "Someone else changed this customer after you opened it. Their values are below; "
        "load them to edit on top, or close without saving."
    )
    st.dataframe(
        pd.DataFrame({f.form_text: [theirs.get(f.name) or "—"] for f in FIELDS}),
        hide_index=True,
        width="stretch",
    )
    if st.button("Load their version"):
        state.version = theirs.get("version")
        for spec in FIELDS:
            st.session_state[_field_key(state, spec.name)] = theirs.get(spec.name) or ""
        state.conflict = None
        st.rerun(scope="fragment")
