"""Duplicates: customers that look like one, best first; compare, merge or dismiss.

Everyone who signs in sees the queue; editors merge (field by field, in one transaction
with the version check of an edit) or dismiss a pair.  A merge is undone from History.
"""

import streamlit as st

from data.identity import Permission
from ui import auth, errors, feedback, text
from ui import duplicates as d
from ui.db import scope
from ui.state import StateKey

user = auth.require(Permission.READ)
PAGE_SIZE = 50

st.title("Duplicates")
feedback.show_pending()
errors.show_pending()

floor = st.select_slider(
    "Lowest score shown",
    options=list(range(0, 101, 10)),
    value=0,
    key="duplicates_min_score",
    help="Pairs score 0–100: the same email or phone with the same name scores highest.",
)
PAGE = StateKey[int](f"duplicates_page:{user.tenant_id}:{floor}")
page_number = PAGE.get_or(0)
with errors.guard(), scope(user.identity) as reading:
    page = reading.duplicates.list(min_score=floor, limit=PAGE_SIZE, offset=page_number * PAGE_SIZE)

if not page.items:
    st.info("No suspected duplicates. Pairs appear here as customers are added or imported.")
    st.stop()

st.caption(
    f"{page.total:,} suspected pair{'s' if page.total != 1 else ''} · best first · "
    "choose one to compare"
)
table = st.dataframe(
    d.queue_frame(page.items),
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key=f"duplicates_queue:{user.tenant_id}:{floor}:{page_number}:{d.DRAWN.get_or(0)}",
    column_config={"Score": st.column_config.NumberColumn("Score", width="small")},
)
picked = table.selection.rows
pair = page.items[picked[0]] if picked else None
if pair is not None:
    with st.container(border=True, key="duplicates_pair"):
        text.plain(f"Score {pair.score} · {pair.reasons_text()}")
        st.dataframe(d.comparison(pair), hide_index=True, width="stretch")
        if user.can(Permission.WRITE):
            d.merge_panel(user, pair)
        else:
            st.caption("Editors can merge these customers or dismiss the pair.")

if page.total > PAGE_SIZE:
    info, newer, older = st.columns([6, 1, 1], vertical_alignment="center")
    first = page_number * PAGE_SIZE + 1
    info.caption(f"Pairs {first:,}–{first + len(page.items) - 1:,} of {page.total:,}")
    if newer.button("Better", icon=":material/chevron_left:", disabled=page_number == 0):
        PAGE.set(page_number - 1)
        st.rerun()
    if older.button("Next", icon=":material/chevron_right:", disabled=not page.has_next):
        PAGE.set(page_number + 1)
        st.rerun()
