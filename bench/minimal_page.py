"""The anchor of the bench's page-open step: the least a Streamlit page with our grid is.

One ``st.data_editor`` of 50 customers (the Customers page's page size and columns), no
database, no sign-in, no sidebar of ours, served by the same ``streamlit run`` with the
same flags: what opening a page costs in Streamlit and Chromium on this machine before
any of our work.  ``bench/browser.py`` opens it in a new tab beside the Customers page.
"""

import pandas as pd
import streamlit as st

FIRST_EMAIL = "anchor0@example.com"

st.set_page_config(page_title="Customers", layout="wide")
st.data_editor(
    pd.DataFrame(
        {
            "Name": [f"Customer {i}" for i in range(50)],
            "Email": [f"anchor{i}@example.com" for i in range(50)],
            "Phone": [f"+49 151 {1000000 + i}" for i in range(50)],
            "Address": [f"Hauptstraße {i}\n10115 Berlin" for i in range(50)],
        }
    ),
    hide_index=True,
    disabled=["Email"],
    key="grid",
)
