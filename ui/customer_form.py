"""The Add Customer / Edit Customer dialog (Customer Name, Email, Phone, Address)."""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from data.customers import CustomerRepository
from data.errors import Conflict, DataError, Invalid, NotFound, StaleVersion
from data.schemas import FIELDS
from data.users import UserInfo
from ui import feedback
from ui.customer_table import request_reset
from ui.db import tenant_session
from ui.text import literal

STATE = "customer_form"
LABELS = {"name": "Customer Name", "email": "Email", "phone": "Phone", "address": "Address"}


def open_form(customer_id: str | None = None) -> None:
    """Ask the page to show the dialog on this run (for a new customer, or to edit one)."""
    st.session_state[STATE] = {
        "id": customer_id,
        "nonce": uuid.uuid4().hex[:8],
        "errors": {},
        "conflict": None,
        "version": None,
    }


def is_open() -> bool:
    return st.session_state.get(STATE) is not None


def close() -> None:
    st.session_state.pop(STATE, None)


def _field_key(state: dict[str, Any], name: str) -> str:
    return f"cf:{state['nonce']}:{name}"


def _submit(user: UserInfo) -> None:
    state = st.session_state.get(STATE)
    if state is None:
        return
    values = {name: st.session_state.get(_field_key(state, name)) for name in FIELDS}
    state["errors"] = {}
    state["conflict"] = None
    try:
        with tenant_session(user, write=True) as session:
            repository = CustomerRepository(session, user.tenant_id, user.actor)
            if state["id"] is None:
                saved = repository.create(values)
                message = f"Added {literal(saved.name)}."
            else:
                saved = repository.update(state["id"], values, expected_version=state["version"])
                message = f"Saved {literal(saved.name)}."
    except Invalid as exc:
        state["errors"] = exc.errors
    except StaleVersion as exc:
        state["conflict"] = exc.current
    except Conflict as exc:
        state["errors"] = {exc.field or "form": str(exc)}
    except NotFound:
        state["errors"] = {"form": "This customer was deleted by someone else in the meantime."}
    except DataError as exc:
        state["errors"] = {"form": str(exc)}
    else:
        state["done"] = message
        feedback.changed(user.tenant_id)
        request_reset()


def render(user: UserInfo) -> None:
    """Show the dialog if the page asked for it (call once per run, anywhere on the page)."""
    state = st.session_state.get(STATE)
    if state is None:
        return
    title = "Add Customer" if state["id"] is None else "Edit Customer"

    @st.dialog(title, width="large", on_dismiss=close)
    def dialog() -> None:
        _body(user, state)

    dialog()


def _body(user: UserInfo, state: dict[str, Any]) -> None:
    if state.get("done"):
        feedback.success(state["done"])
        close()
        st.rerun()
    if state["id"] is not None and state["version"] is None:
        try:
            with tenant_session(user) as session:
                current = CustomerRepository(session, user.tenant_id).get(state["id"])
        except NotFound:
            st.error("This customer no longer exists.")
            return
        state["version"] = current.version
        for name, value in current.fields().items():
            st.session_state[_field_key(state, name)] = value or ""
    errors: dict[str, str] = state["errors"]
    if errors.get("form"):
        st.error(errors["form"])
    if state.get("conflict"):
        _conflict(state)
    with st.form(f"customer_form:{state['nonce']}", border=False):
        for name in FIELDS:
            label = LABELS[name] + (" *" if name in ("name", "email") else "")
            key = _field_key(state, name)
            if name == "address":
                st.text_area(label, key=key, max_chars=500, height=110)
            else:
                st.text_input(label, key=key, max_chars=254 if name == "email" else None)
            if errors.get(name):
                st.markdown(f":red[{errors[name]}]")
        st.form_submit_button(
            "Save Customer", type="primary", on_click=_submit, args=(user,), width="stretch"
        )


def _conflict(state: dict[str, Any]) -> None:
    theirs = state["conflict"] or {}
    st.warning(
        "Someone else changed this customer after you opened it. Their values are below; "
        "load them to edit on top, or close without saving."
    )
    st.table({LABELS[name]: [theirs.get(name) or "—"] for name in FIELDS})
    if st.button("Load their version"):
        state["version"] = theirs.get("version")
        for name in FIELDS:
            st.session_state[_field_key(state, name)] = theirs.get(name) or ""
        state["conflict"] = None
        st.rerun(scope="fragment")
