"""Overview: how many customers, how fast they grow, and what needs attention."""

import pandas as pd
import streamlit as st

from data.identity import Permission
from data.overview import Overview, overview
from ui import auth, errors, feedback
from ui.db import scope

user = auth.require(Permission.READ)


@st.cache_data(ttl=300, show_spinner="Counting…")
def figures(tenant_id: str, generation: int) -> Overview:
    """Cached per tenant and per write generation: a save in this process recomputes.

    The rights are checked on every run (``auth.require``); the cache holds figures only.
    """
    with scope(user.identity) as reading:
        return overview(reading.session, tenant_id)


st.title("Overview")
with errors.guard():
    stats = figures(user.tenant_id, feedback.generation(user.tenant_id))

if stats.customers == 0:
    st.info("No customers yet: add one on the Customers page, or import a CSV file.")
    st.stop()

a, b, c, d = st.columns(4)
a.metric("Customers", f"{stats.customers:,}", border=True)
b.metric("Added this week", f"{stats.added_this_week:,}", border=True)
c.metric("Added this month", f"{stats.added_this_month:,}", border=True)
d.metric(
    "Missing phone or address",
    f"{stats.missing_phone_or_address:,}",
    help=f"{stats.missing_phone:,} without a phone, {stats.missing_address:,} without an address",
    border=True,
)

st.subheader("Customers added per day (last 90 days)")
if stats.added_per_day:
    growth = pd.DataFrame(stats.added_per_day, columns=["Day", "Added"]).set_index("Day")
    st.bar_chart(growth, y="Added", height=260)
else:
    st.caption("No customers were added in the last 90 days.")

st.subheader("Suspected duplicates")
pairs, review = st.columns([1, 3], vertical_alignment="center")
pairs.metric(
    "Suspected duplicate pairs",
    f"{stats.duplicate_pairs:,}",
    help="Customers that share a phone or an email, or have similar names at the same "
    "company domain or address.",
    border=True,
)
review.page_link(
    "pages/duplicates.py", label="Review them on the Duplicates page", icon=":material/join:"
)
