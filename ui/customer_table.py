"""The Customers table's controls and page state.

Widget and state keys carry the tenant, the filters and the page number, so pending edits
of one page never bleed into another page, another search or another tenant.  While a
page has unsaved edits the search, sort and paging controls are disabled: Streamlit drops
the state of a grid that is not drawn, and losing typed work silently is not acceptable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from data.customers import SORT_LABELS, SORTS, Count
from data.fields import FIELD_NAMES, LABELS
from ui import grid as g
from ui import text
from ui.auth import SignedIn
from ui.db import scope

PAGE_SIZES = [25, 50, 100, 250]
LAST_EDITOR = "customers_last_editor"


@dataclass(frozen=True)
class PageInfo:
    """What the controls need to know of the page shown (the rows live in the snapshot)."""

    total: Count
    offset: int
    count: int

    @property
    def has_next(self) -> bool:
        return self.offset + self.count < self.total.value or not self.total.exact


@dataclass(frozen=True)
class Query:
    tenant_id: str
    search: str
    sort: str
    descending: bool
    size: int
    page: int

    @property
    def sort_spec(self) -> str:
        return ("-" if self.descending else "") + self.sort

    @property
    def filters_key(self) -> str:
        return f"{self.tenant_id}|{self.search}|{self.sort_spec}|{self.size}"

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


RESET = "customers_reset_grid"


def request_reset() -> None:
    """After a change made outside the grid (dialog, delete, undo): redraw it from the data."""
    st.session_state[RESET] = True


def _editor_has_edits(key: str | None) -> bool:
    """Does the grid hold typed changes?  Ticking rows for Edit or Delete does not count."""
    value: Any = st.session_state.get(key) if key else None
    if not value:
        return False
    try:
        edited = value.get("edited_rows") or {}
        typed = any(set(cells) - {g.SELECT} for cells in edited.values())
        added = any(
            any(v not in (None, "") for v in row.values()) for row in value.get("added_rows") or []
        )
        return typed or added or bool(value.get("deleted_rows"))
    except AttributeError:
        return False


def locked() -> bool:
    """True while the grid drawn last has unsaved edits or failed rows."""
    last = st.session_state.get(LAST_EDITOR)
    if not last:
        return False
    editor_key, drafts_key = last
    return _editor_has_edits(editor_key) or bool(st.session_state.get(drafts_key))


def table_controls(user: SignedIn) -> Query:
    busy = locked()
    left, middle, right, size_col = st.columns([4, 1.4, 1, 1], vertical_alignment="bottom")
    search = left.text_input(
        "Search",
        placeholder="Search name, email or phone",
        key=f"customers_search:{user.tenant_id}",
        disabled=busy,
        label_visibility="collapsed",
        icon=":material/search:",
    )
    sort = middle.selectbox(
        "Sort by",
        list(SORTS),
        format_func=SORT_LABELS.__getitem__,
        key=f"customers_sort:{user.tenant_id}",
        disabled=busy,
        label_visibility="collapsed",
    )
    descending = right.toggle("Z→A", key=f"customers_desc:{user.tenant_id}", disabled=busy)
    size = size_col.selectbox(
        "Rows per page",
        PAGE_SIZES,
        index=1,
        key=f"customers_size:{user.tenant_id}",
        disabled=busy,
        label_visibility="collapsed",
        format_func=lambda n: f"{n} per page",
    )
    if busy:
        st.caption(":orange[You have unsaved changes on this page: Save or Discard them first.]")
    query = Query(user.tenant_id, search.strip(), sort, descending, int(size), 1)
    page = int(st.session_state.get(f"customers_page:{query.filters_key}", 1))
    return Query(query.tenant_id, query.search, query.sort, query.descending, query.size, page)


class PageState:
    """Keys and remembered state of one page of one query."""

    def __init__(self, user: SignedIn, query: Query) -> None:
        self.user = user
        self.query = query
        base = f"{query.filters_key}|p{query.page}"
        self.generation_key = f"customers_gen:{base}"
        self.snapshot_key = f"customers_snapshot:{base}"
        self.drafts_key = f"customers_drafts:{base}"
        self._base = base
        self.editor_key = self._editor_key()
        st.session_state[LAST_EDITOR] = (self.editor_key, self.drafts_key)
        if st.session_state.pop(RESET, False):
            self._reset_editor()

    def _editor_key(self) -> str:
        return f"customers_grid:{self._base}:{st.session_state.get(self.generation_key, 0)}"

    @property
    def drafts(self) -> dict[str, g.Draft]:
        drafts: dict[str, g.Draft] = st.session_state.setdefault(self.drafts_key, {})
        return drafts

    def pending(self) -> bool:
        return _editor_has_edits(self.editor_key)

    def _reset_editor(self) -> None:
        """A fresh grid (new widget key) drawn from the data on the next run."""
        st.session_state[self.generation_key] = st.session_state.get(self.generation_key, 0) + 1
        st.session_state.pop(self.snapshot_key, None)
        self.editor_key = self._editor_key()
        st.session_state[LAST_EDITOR] = (self.editor_key, self.drafts_key)

    def discard(self) -> None:
        st.session_state.pop(self.drafts_key, None)
        self._reset_editor()

    def after_save(self, result: g.SaveResult) -> None:
        st.session_state[self.drafts_key] = result.drafts
        self._reset_editor()

    def render_problems(self) -> None:
        """Below the grid: each failed row's problem; conflicts with both values."""
        drafts = self.drafts
        if not drafts:
            return
        conflicts = [d for d in drafts.values() if d.theirs is not None]
        invalid = len(drafts) - len(conflicts)
        if invalid:
            st.error(
                f"{invalid} row{'s' if invalid != 1 else ''} could not be saved; "
                "the Problem column says why. Correct them and Save again, or Discard."
            )
        for draft in conflicts:
            with st.container(border=True):
                name = draft.values.get("name") or "A customer"
                text.warning(f"{name} — {draft.problem}")
                rows = {
                    "Field": [LABELS[f] for f in FIELD_NAMES],
                    "Your values": [draft.values.get(f) or "—" for f in FIELD_NAMES],
                    "Saved by someone else": [
                        (draft.theirs or {}).get(f) or "—" for f in FIELD_NAMES
                    ],
                }
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
                keep, mine = st.columns(2)
                if keep.button("Keep theirs", key=f"theirs:{draft.key}", width="stretch"):
                    drafts.pop(draft.key, None)
                    self._reset_editor()
                    st.rerun()
                if mine.button("Use mine (Save next)", key=f"mine:{draft.key}", width="stretch"):
                    drafts[draft.key] = g.use_mine(draft)
                    self._reset_editor()
                    st.rerun()


def load_page(
    user: SignedIn, query: Query, state: PageState
) -> tuple[list[g.SnapshotRow], PageInfo]:
    """The rows to show: frozen while the grid has unsaved edits, else fresh."""
    remembered: tuple[list[g.SnapshotRow], PageInfo] | None = st.session_state.get(
        state.snapshot_key
    )
    if remembered is not None and state.pending():
        return remembered
    with scope(user.identity) as reading:
        page = reading.customers.list(
            search=query.search, sort=query.sort_spec, limit=query.size, offset=query.offset
        )
    if not page.items and query.page > 1:
        # The page emptied (rows deleted elsewhere): go back to the last one there is.
        last = max(1, math.ceil(page.total.value / query.size)) if page.total.exact else 1
        st.session_state[f"customers_page:{query.filters_key}"] = last
        st.rerun()
    loaded = (g.snapshot(page.items), PageInfo(page.total, page.offset, len(page.items)))
    st.session_state[state.snapshot_key] = loaded
    return loaded


def paging_controls(query: Query, page: PageInfo, state: PageState) -> None:
    busy = state.pending() or bool(state.drafts)
    key = f"customers_page:{query.filters_key}"
    pages = max(1, math.ceil(page.total.value / query.size))
    first = page.offset + 1 if page.count else 0
    last = page.offset + page.count
    total = f"{page.total.value:,}" if page.total.exact else f"more than {page.total.value:,}"
    info, prev, nxt, jump = st.columns([4, 1, 1, 1.3], vertical_alignment="center")
    info.caption(
        f"Showing {first:,}–{last:,} of {total} customers · page {query.page:,} of "
        f"{pages:,}{'' if page.total.exact else '+'}"
    )
    if prev.button(
        "Previous",
        icon=":material/chevron_left:",
        disabled=busy or query.page <= 1,
        width="stretch",
    ):
        st.session_state[key] = query.page - 1
        st.rerun()
    if nxt.button(
        "Next", icon=":material/chevron_right:", disabled=busy or not page.has_next, width="stretch"
    ):
        st.session_state[key] = query.page + 1
        st.rerun()
    target = jump.number_input(
        "Go to page",
        min_value=1,
        max_value=pages if page.total.exact else None,
        value=query.page,
        step=1,
        key=f"customers_jump:{query.filters_key}:{query.page}",
        disabled=busy,
        label_visibility="collapsed",
        help="Type a page number and press Enter",
    )
    if int(target) != query.page:
        st.session_state[key] = int(target)
        st.rerun()
