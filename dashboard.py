"""Inventory Pro — Customers: the Streamlit entry point.

Session and sign-in first, then ``st.navigation`` over the pages the user may see.
Signed out, the only page that exists is Sign in; every page also checks the session on
its first line (``ui.auth.require``), so a page opened by URL shows nothing without it.
"""

import streamlit as st

st.set_page_config(page_title="Inventory Pro — Customers", page_icon="📦", layout="wide")

from data.errors import DataError  # noqa: E402  (set_page_config comes first)
from data.models import Role  # noqa: E402
from ui import auth  # noqa: E402
from ui.text import literal  # noqa: E402

try:
    user = auth.resolve_user()
except DataError as exc:
    st.error(str(exc))
    st.stop()
auth.remember_for_run(user)
auth.sync_cookie()

sign_in = st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", url_path="sign-in")
if user is None:
    pages: dict[str, list[st.Page]] | list[st.Page] = [sign_in]
else:
    work = [
        st.Page("pages/customers.py", title="Customers", icon=":material/group:", default=True),
        st.Page("pages/overview.py", title="Overview", icon=":material/insights:"),
    ]
    if auth.can(user, Role.EDITOR):
        work.append(
            st.Page("pages/import_csv.py", title="Import CSV", icon=":material/upload_file:")
        )
    work.append(st.Page("pages/history.py", title="History", icon=":material/history:"))
    account = [st.Page("pages/account.py", title="Account", icon=":material/person:")]
    if auth.can(user, Role.ADMIN):
        account.insert(
            0, st.Page("pages/users.py", title="Users", icon=":material/manage_accounts:")
        )
    pages = {"Customers": work, "Settings": account}
    with st.sidebar:
        st.caption(f"Signed in as **{literal(user.display_name)}** · {user.role.value}")
        st.button(
            "Sign out", icon=":material/logout:", width="stretch", on_click=auth.request_sign_out
        )

notice = st.session_state.pop(auth.NOTICE, None)
if notice:
    st.info(notice)

page = st.navigation(pages)
if user is None and st.session_state.pop(auth.JUST_SIGNED_OUT, False) and page != sign_in:
    st.switch_page(sign_in)  # straight to Sign in, not "page not found"
page.run()
