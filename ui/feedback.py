"""Messages that outlive a rerun (toasts after a dialog closes), and per-tenant caches."""

from __future__ import annotations

import streamlit as st

TOASTS = "feedback_toasts"


def success(message: str) -> None:
    st.session_state.setdefault(TOASTS, []).append(message)


def show_pending() -> None:
    for message in st.session_state.pop(TOASTS, []):
        st.toast(message, icon=":material/check_circle:")


@st.cache_resource
def _generations() -> dict[str, int]:
    return {}


def generation(tenant_id: str) -> int:
    """Changes every time this process writes the tenant's customers (cache key)."""
    return _generations().get(tenant_id, 0)


def changed(tenant_id: str) -> None:
    """Call after a write: cached figures of the tenant are recomputed on next use."""
    generations = _generations()
    generations[tenant_id] = generations.get(tenant_id, 0) + 1
