"""Sign in with username and password."""

import streamlit as st

from data.errors import DataError, Throttled
from data.users import Unauthenticated, authenticate
from ui import auth
from ui.db import database

st.title("Inventory Pro — Customers")
st.subheader("Sign in")

with st.form("sign_in", clear_on_submit=False):
    username = st.text_input("Username", autocomplete="username")
    password = st.text_input("Password", type="password", autocomplete="current-password")
    submitted = st.form_submit_button("Sign in", type="primary")

if submitted:
    if not username.strip() or not password:
        st.error("Enter your username and password.")
    else:
        try:
            user = authenticate(database(), username, password, auth.client_id())
        except Throttled as exc:
            st.error(str(exc))
        except Unauthenticated as exc:
            st.error(str(exc))
        except DataError as exc:
            st.error(str(exc))
        else:
            auth.start_session(user)
            st.rerun()
