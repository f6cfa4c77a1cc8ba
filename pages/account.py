"""Account: who you are, your password, your sessions and API tokens."""

import pandas as pd
import streamlit as st

from data.identity import Permission
from ui import auth, errors, feedback, text
from ui.db import scope
from ui.state import StateKey
from ui.timefmt import local

user = auth.require(Permission.READ)
ISSUED = StateKey[tuple[str, int]]("account_token")
ENDED = StateKey[int]("account_credentials_ended")  # bumped: the table is drawn afresh

st.title("Account")
feedback.show_pending()
errors.show_pending()
with errors.guard(), scope(user.identity) as reading:
    me = reading.users.me()
    standing = reading.credentials.list()
who = me.username if me.display_name == me.username else f"{me.display_name} ({me.username})"
text.plain(f"{who} · {me.role.value}" + (f" · {me.email}" if me.email else ""))

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
            with errors.guard(stop=False):
                with scope(user.identity, write=True) as writing:
                    ended = writing.users.change_own_password(current, new)
                feedback.success(
                    "Your password was changed."
                    + (f" {ended} other session(s) and token(s) ended." if ended else "")
                )
                st.rerun()

st.subheader("Sessions and API tokens")
st.caption(
    "Everywhere you are signed in, and every API token you hold. End any of them here; "
    "a password change ends all but this browser's session."
)
if standing:
    chosen_row = st.dataframe(
        pd.DataFrame(
            [
                {
                    "Kind": c.kind_label + (" (this one)" if c.current else ""),
                    "Where": c.label,
                    "Since": local(c.created_at, "%Y-%m-%d %H:%M:%S"),
                    "Ends": local(c.expires_at),
                }
                for c in standing
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "Kind": st.column_config.TextColumn("Kind", width="medium"),
            "Where": st.column_config.TextColumn("Where", width="medium"),
            "Since": st.column_config.TextColumn("Since", width="medium"),
            "Ends": st.column_config.TextColumn("Ends", width="medium"),
        },
        on_select="rerun",
        selection_mode="single-row",
        key=f"account_credentials:{ENDED.get_or(0)}",
    ).selection.rows
    chosen = standing[chosen_row[0]] if chosen_row else None
    actions = st.container(horizontal=True)
    end = actions.button(
        "End the chosen one",
        icon=":material/block:",
        disabled=chosen is None,
        help="Choose a session or token in the table first",
    )
    if end and chosen is not None:
        if chosen.current:
            auth.request_sign_out()  # ending this browser's session is signing out
            st.rerun()
        with errors.guard(stop=False):
            with scope(user.identity, write=True) as writing:
                writing.credentials.revoke(chosen.id)
            ENDED.set(ENDED.get_or(0) + 1)  # a fresh table, nothing chosen
            feedback.success(f"The {chosen.kind_label.lower()} was ended.")
            st.rerun()
    if actions.button(
        "Sign out everywhere else", icon=":material/logout:", disabled=len(standing) < 2
    ):
        with errors.guard(stop=False):
            with scope(user.identity, write=True) as writing:
                ended = writing.credentials.revoke_all(keep_current=True)
            ENDED.set(ENDED.get_or(0) + 1)
            feedback.success(f"Ended {ended} other session(s) and token(s).")
            st.rerun()

st.subheader("API token")
st.caption(
    "Scripts and integrations call the REST API with a bearer token. A token acts as you, "
    "in your tenant and with your current role, until it expires or you end it above."
)
if st.button("Create an API token", icon=":material/key:"):
    with errors.guard(stop=False):
        with scope(user.identity, write=True) as writing:
            ISSUED.set(writing.credentials.issue_token(label="Created on the Account page"))
        st.rerun()
issued = ISSUED.pop()
if issued:
    token, lifetime = issued
    st.code(token, language=None, wrap_lines=True)
    st.caption(
        f"Shown once. Valid for {lifetime // 60} minutes. Use it as "
        "`Authorization: Bearer <token>`; the copy icon is at the top right of the box."
    )
