"""Account: who you are, change your password, and an API token for scripts."""

import streamlit as st

from data.errors import DataError, Invalid
from data.models import Role
from data.users import UserDirectory
from ui import auth
from ui.db import tenant_session
from ui.text import literal

user = auth.require(Role.VIEWER)

st.title("Account")
st.write(f"**{literal(user.display_name)}** · `{user.username}` · role **{user.role.value}**")

st.subheader("Change password")
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", autocomplete="current-password")
    new = st.text_input(
        "New password",
        type="password",
        autocomplete="new-password",
        help="At least 10 characters and at most 72 bytes",
    )
    again = st.text_input("New password again", type="password", autocomplete="new-password")
    if st.form_submit_button("Change password", type="primary"):
        if new != again:
            st.error("The two new passwords differ.")
        else:
            try:
                with tenant_session(user, write=True) as session:
                    UserDirectory(session, user.tenant_id).change_own_password(
                        user.id, current, new
                    )
            except Invalid as exc:
                for message in exc.errors.values():
                    st.error(message)
            except DataError as exc:
                st.error(str(exc))
            else:
                # Sessions and tokens from before the change stop working; this one goes on.
                auth.start_session(user)
                st.success(
                    "Your password was changed. Other browsers and API tokens must sign in again."
                )

st.subheader("API token")
st.write(
    "Scripts and integrations call the REST API with a bearer token. A token acts as you, "
    "in your tenant and with your role, until it expires or you change your password."
)
if st.button("Create an API token", icon=":material/key:"):
    from api.security import issue_token

    token, lifetime = issue_token(user)
    st.session_state["account_token"] = (token, lifetime)
issued = st.session_state.pop("account_token", None)
if issued:
    token, lifetime = issued
    minutes = lifetime // 60
    st.code(token, language=None, wrap_lines=True)
    st.caption(
        f"Shown once. Valid for {minutes} minutes. Use it as "
        "`Authorization: Bearer <token>`; the copy icon is at the top right of the box."
    )
