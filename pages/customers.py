"""Customers: search, sort and page through the tenant's customers."""

import math

import pandas as pd
import streamlit as st

from data.customers import SORTS, CustomerRepository
from data.errors import DataError
from ui import auth
from ui.db import tenant_session

user = auth.require()

st.title("Customers")

SORT_LABELS = {
    "name": "Name",
    "email": "Email",
    "phone": "Phone",
    "address": "Address",
    "created_at": "Created",
    "updated_at": "Updated",
}
left, middle, right = st.columns([3, 1, 1])
search = left.text_input("Search", placeholder="Name, email or phone", key="customers_search")
sort = middle.selectbox("Sort by", list(SORTS), format_func=SORT_LABELS.__getitem__)
descending = right.toggle("Descending", key="customers_desc")
page_size = right.selectbox("Rows per page", [25, 50, 100, 250], index=1)

page_key = f"customers_page:{user.tenant_id}:{search}:{sort}:{descending}:{page_size}"
page_number = st.session_state.get(page_key, 1)

try:
    with tenant_session(user) as session:
        repository = CustomerRepository(session, user.tenant_id)
        page = repository.list(
            search=search,
            sort=("-" if descending else "") + sort,
            limit=page_size,
            offset=(page_number - 1) * page_size,
        )
except DataError as exc:
    st.error(str(exc))
    st.stop()

pages = max(1, math.ceil(page.total.value / page_size))
if not page.items and page_number == 1:
    if search:
        st.info(f"No customer matches “{search}”.")
    else:
        st.info("No customers yet.")
    st.stop()

frame = pd.DataFrame(
    [
        {
            "Name": c.name,
            "Email": c.email,
            "Phone": c.phone,
            "Address": c.address,
            "Updated": c.updated_at,
        }
        for c in page.items
    ]
)
st.dataframe(frame, hide_index=True, width="stretch")

first = page.offset + 1
last = page.offset + len(page.items)
st.caption(f"{first:,}–{last:,} of {page.total} customers")
nav = st.columns([1, 1, 2, 6])
if nav[0].button("Previous", disabled=page_number <= 1):
    st.session_state[page_key] = page_number - 1
    st.rerun()
if nav[1].button("Next", disabled=not page.has_next):
    st.session_state[page_key] = page_number + 1
    st.rerun()
jump = nav[2].number_input(
    "Page", min_value=1, max_value=pages, value=min(page_number, pages), key=f"jump:{page_key}"
)
if jump != page_number:
    st.session_state[page_key] = int(jump)
    st.rerun()
