"""Inventory Pro — Customers: the Streamlit entry point.

Session and sign-in first, then ``st.navigation``.  Signed out, the only page that
exists is Sign in.  Signed in, the menu lists the pages the role may use; the others keep
their URL, hidden, so that a user demoted while on one is told why on the next click.
Every page re-reads the session and the role on its first line (``ui.auth.require``),
so a page opened by URL shows nothing without them.
"""

import streamlit as st

st.set_page_config(page_title="Inventory Pro — Customers", page_icon="📦", layout="wide")

from data.errors import DataError  # noqa: E402  (set_page_config comes first)
from data.identity import Permission  # noqa: E402
from ui import auth, text, uploads  # noqa: E402

uploads.janitor()  # once per process: stale uploads of earlier runs go, then a sweep a minute
try:
    signed_in = auth.resolve()
except DataError as exc:
    text.error(str(exc))
    st.stop()
auth.sync_cookie()

sign_in = st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", url_path="sign-in")
if signed_in is None:
    pages: dict[str, list[st.Page]] | list[st.Page] = [sign_in]
else:
    user = signed_in

    def entry(path: str, title: str, icon: str, needs: Permission = Permission.READ) -> st.Page:
        # A page the role may not use is left out of the menu but keeps its URL, so a
        # user demoted while on it gets the page's one refusal sentence on the next
        # click, not "page not found" (its first line re-checks the role).
        return st.Page(
            path, title=title, icon=icon, visibility="visible" if user.can(needs) else "hidden"
        )

    pages = {
        "Customers": [
            st.Page("pages/customers.py", title="Customers", icon=":material/group:", default=True),
            entry("pages/overview.py", "Overview", ":material/insights:"),
            entry("pages/duplicates.py", "Duplicates", ":material/join:"),
            entry("pages/import_csv.py", "Import CSV", ":material/upload_file:", Permission.IMPORT),
            entry("pages/history.py", "History", ":material/history:"),
        ],
        "Settings": [
            entry("pages/users.py", "Users", ":material/manage_accounts:", Permission.MANAGE_USERS),
            entry("pages/account.py", "Account", ":material/person:"),
        ],
    }
    with st.sidebar:
        actor = signed_in.actor
        text.plain(f"Signed in as {actor.display_name} · {actor.role.value}")
        st.button(
            "Sign out", icon=":material/logout:", width="stretch", on_click=auth.request_sign_out
        )

page = st.navigation(pages)
if signed_in is None and auth.JUST_SIGNED_OUT.pop() and page != sign_in:
    st.switch_page(sign_in)  # straight to Sign in, not "page not found"
page.run()
