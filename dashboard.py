"""Inventory Pro — Customers: the Streamlit entry point.

Session and sign-in first, then ``st.navigation`` over the pages the user may see.
Signed out, the only page that exists is Sign in; every page also checks the session on
its first line (``ui.auth.require``), so a page opened by URL shows nothing without it.
"""

import streamlit as st

st.set_page_config(page_title="Inventory Pro — Customers", page_icon="📦", layout="wide")

from data.errors import DataError  # noqa: E402  (set_page_config must come first)
from data.models import Role  # noqa: E402
from ui import auth  # noqa: E402

try:
    user = auth.resolve_user()
except DataError as exc:
    st.error(str(exc))
    st.stop()
auth.remember_for_run(user)
auth.sync_cookie()

if user is None:
    pages = [st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:")]
else:
    pages = [
        st.Page("pages/customers.py", title="Customers", icon=":material/group:", default=True),
    ]
    with st.sidebar:
        st.caption(f"Signed in as **{user.display_name}** ({user.role.value})")
        if st.button("Sign out", icon=":material/logout:", width="stretch"):
            auth.sign_out()
            st.rerun()

notice = st.session_state.pop(auth.NOTICE, None)
if notice:
    st.info(notice)

st.navigation(pages).run()

_ = Role  # roles are used by pages through ui.auth.require
