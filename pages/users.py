"""Users (admins only): the tenant's users; add, change role, reset password, remove.

A role change, a password reset and removal end that user's sessions and API tokens.
"""

from collections.abc import Callable
from typing import TypeVar

import pandas as pd
import streamlit as st

from data.errors import DataError
from data.identity import Permission, Role
from data.scope import Scope
from ui import auth, errors, feedback, text
from ui.db import scope
from ui.state import StateKey
from ui.timefmt import local

user = auth.require(Permission.MANAGE_USERS)
ROLES = [r.value for r in Role]
SHOWN_ONCE = StateKey[tuple[str, str]]("users_new_password")
T = TypeVar("T")

st.title("Users")
feedback.show_pending()
errors.show_pending()


def act(operation: Callable[[Scope], T]) -> T | None:
    """One change in its own write scope (the admin's rights are read in it)."""
    try:
        with scope(user.identity, write=True) as writing:
            return operation(writing)
    except DataError as exc:
        errors.later(exc)
        return None


with errors.guard(), scope(user.identity) as reading:
    people = reading.users.list()

secret = SHOWN_ONCE.pop()
if secret:
    st.warning("The new password is shown once. Copy it and give it to them safely:")
    text.plain(f"User: {secret[0]}")
    st.code(secret[1], language=None)

st.dataframe(
    pd.DataFrame(
        [
            {
                "Username": p.username,
                "Name": p.display_name,
                "Email": p.email or "",
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
    found = by_name.get(chosen) if chosen else None
    if found is not None:
        target = found
        left, middle, right = st.columns(3)
        with left.container(border=True):
            role = st.selectbox(
                "Role", ROLES, index=ROLES.index(target.role.value), key=f"role:{target.id}"
            )
            if st.button(
                "Change role", key=f"set_role:{target.id}", disabled=role == target.role.value
            ):
                if act(lambda s: s.users.change_role(target.id, role)) is not None:
                    feedback.success("The role was changed; their sessions ended.")
                st.rerun()
        with middle.container(border=True):
            st.caption("A new password is generated and shown once; their sessions end.")
            if st.button("Reset password", key=f"reset:{target.id}"):
                new = act(lambda s: s.users.reset_password(target.id))
                if new is not None:
                    SHOWN_ONCE.set((target.username, new))
                st.rerun()
        with right.container(border=True):
            sure = st.checkbox("Yes, remove this user", key=f"sure:{target.id}")
            if st.button(
                "Remove user", key=f"remove:{target.id}", disabled=not sure, type="primary"
            ):
                if act(lambda s: s.users.remove(target.id)) is not None:
                    feedback.success("The user was removed.")
                st.rerun()

with add, st.form("add_user", clear_on_submit=True):
    username = st.text_input("Username *", help="3–150 characters: letters, digits, . _ - @")
    display = st.text_input("Display name")
    email = st.text_input("Email")
    new_role = st.selectbox("Role *", ROLES, index=ROLES.index("editor"))
    password = st.text_input(
        "Password", type="password", help="At least 10 characters; leave empty to generate one"
    )
    if st.form_submit_button("Add user", type="primary"):
        created = act(
            lambda s: s.users.add(
                username, new_role, password or None, display_name=display, email=email
            )
        )
        if created is not None:
            new_user, new_password = created
            if not password:
                SHOWN_ONCE.set((new_user.username, new_password))
            feedback.success("The user was added.")
        st.rerun()
