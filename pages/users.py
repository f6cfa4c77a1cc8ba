"""Users (admins only): the tenant's users; add, change role, reset password, remove."""

import pandas as pd
import streamlit as st

from data.errors import DataError
from data.models import Role
from data.users import UserDirectory
from ui import auth, feedback
from ui.db import tenant_session
from ui.timefmt import local

user = auth.require(Role.ADMIN)
ROLES = [r.value for r in Role]
SHOWN_ONCE = "users_new_password"

st.title("Users")
feedback.show_pending()


def act(operation, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run one directory operation in a write transaction; errors become a message."""
    try:
        with tenant_session(user, write=True) as session:
            directory = UserDirectory(session, user.tenant_id, user.actor)
            return getattr(directory, operation)(*args, **kwargs)
    except DataError as exc:
        st.session_state["users_error"] = str(exc)
        return None


try:
    with tenant_session(user) as session:
        people = UserDirectory(session, user.tenant_id).list()
except DataError as exc:
    st.error(str(exc))
    st.stop()

error = st.session_state.pop("users_error", None)
if error:
    st.error(error)
secret = st.session_state.pop(SHOWN_ONCE, None)
if secret:
    st.warning(
        f"The password of **{secret[0]}** is shown once. Copy it and give it to them safely:"
    )
    st.code(secret[1], language=None)

st.dataframe(
    pd.DataFrame(
        [
            {
                "Username": p.username,
                "Name": p.display_name,
                "Email": p.email,
                "Role": p.role.value,
                "Added": local(p.created_at),
            }
            for p in people
        ]
    ),
    hide_index=True,
    width="stretch",
)

manage, add = st.tabs(["Manage a user", "Add a user"])

with manage:
    by_name = {p.username: p for p in people}
    chosen = st.selectbox("User", list(by_name), key="users_selected")
    target = by_name.get(chosen) if chosen else None
    if target is not None:
        left, middle, right = st.columns(3)
        with left.container(border=True):
            role = st.selectbox(
                "Role", ROLES, index=ROLES.index(target.role.value), key=f"role:{target.id}"
            )
            if st.button(
                "Change role", key=f"set_role:{target.id}", disabled=role == target.role.value
            ):
                if act("change_role", target.id, role) is not None:
                    feedback.success(f"{target.username} is now {role}.")
                st.rerun()
        with middle.container(border=True):
            st.caption("A new password is generated and shown once; their sessions end.")
            if st.button("Reset password", key=f"reset:{target.id}"):
                new = act("reset_password", target.id)
                if new is not None:
                    st.session_state[SHOWN_ONCE] = (target.username, new)
                st.rerun()
        with right.container(border=True):
            sure = st.checkbox(f"Yes, remove {target.username}", key=f"sure:{target.id}")
            if st.button(
                "Remove user", key=f"remove:{target.id}", disabled=not sure, type="primary"
            ):
                if act("remove", target.id) is not None:
                    feedback.success(f"Removed {target.username}.")
                st.rerun()

with add, st.form("add_user", clear_on_submit=True):
    username = st.text_input("Username *", help="3–150 characters: letters, digits, . _ - @")
    display = st.text_input("Display name")
    email = st.text_input("Email")
    role = st.selectbox("Role *", ROLES, index=ROLES.index("editor"))
    password = st.text_input(
        "Password", type="password", help="At least 10 characters; leave empty to generate one"
    )
    if st.form_submit_button("Add user", type="primary"):
        created = act("add", username, role, password or None, display_name=display, email=email)
        if created is not None:
            new_user, new_password = created
            if not password:
                st.session_state[SHOWN_ONCE] = (new_user.username, new_password)
            feedback.success(f"Added {new_user.username} ({new_user.role.value}).")
        st.rerun()
