"""Sign in with username and password."""

import streamlit as st

from data.errors import DataError
from data.signin import authenticate
from ui import auth, text
from ui.db import database

st.title("Inventory Pro — Customers")
st.subheader("Sign in")
notice = st.container()  # why this browser was signed out, until the next attempt

with st.form("sign_in", clear_on_submit=False):
    username = st.text_input("Username", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

if not submitted:
    said = auth.NOTICE.get()
    if said:
        with notice:
            text.info(said)
else:
    auth.NOTICE.pop()  # a new attempt: its own answer replaces the notice
    if not username.strip() or not password:
        st.error("Enter your username and password.")
    else:
        try:
            user = authenticate(database(), username, password, auth.client_id())
            auth.start_session(user)
        except DataError as exc:
            text.error(str(exc))
        else:
            st.rerun()
