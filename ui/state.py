"""Typed keys of ``st.session_state``: what the dashboard remembers between runs.

Streamlit's session state is a dictionary of anything; each thing the dashboard keeps
there has one ``StateKey`` with its type, so readers get what writers put.  Only ids
and small UI state live here: the database is the state.
"""

from __future__ import annotations

from typing import Generic, TypeVar, cast

import streamlit as st

T = TypeVar("T")


class StateKey(Generic[T]):
    """One entry of the session state, of type ``T``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self) -> T | None:
        return cast("T | None", st.session_state.get(self.name))

    def get_or(self, default: T) -> T:
        value = st.session_state.get(self.name)
        return default if value is None else cast("T", value)

    def set(self, value: T) -> None:
        st.session_state[self.name] = value

    def pop(self) -> T | None:
        return cast("T | None", st.session_state.pop(self.name, None))

    def setdefault(self, default: T) -> T:
        return cast("T", st.session_state.setdefault(self.name, default))

    def is_set(self) -> bool:
        return self.name in st.session_state
