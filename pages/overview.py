"""Overview: how many customers, how fast they grow, and what needs attention."""

import pandas as pd
import streamlit as st

from data.errors import DataError
from data.models import Role
from data.overview import Overview, overview
from ui import auth, feedback
from ui.db import database

user = auth.require(Role.VIEWER)


@st.cache_data(ttl=300, show_spinner="Counting…")
def figures(tenant_id: str, generation: int) -> Overview:
    """Cached per tenant and per write generation: a save in this process recomputes."""
    with database().transaction(tenant_id) as session:
        return overview(session, tenant_id)


st.title("Overview")
try:
    stats = figures(user.tenant_id, feedback.generation(user.tenant_id))
except DataError as exc:
    st.error(str(exc))
    st.stop()

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
if stats.duplicate_groups:
    st.caption(
        f"{stats.duplicate_customers:,} customers share a name with another one "
        "(compared ignoring case and surrounding spaces). The most common:"
    )
    st.dataframe(
        pd.DataFrame(stats.duplicate_groups, columns=["Name", "Customers"]),
        hide_index=True,
        width="stretch",
    )
else:
    st.caption("No two customers share a name.")
