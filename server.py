"""The dashboard as served: ``streamlit run server.py`` (``manage.py dashboard``, ``make run``).

Streamlit's own ASGI app (``st.App``) running ``dashboard.py`` — the entry script with
the navigation — plus one route of ours, ``POST /_session``, through which the sign-in
cookie is set ``HttpOnly`` (``ui.cookie_route``).  ``streamlit run dashboard.py`` still
works, with a cookie set by a script instead.
"""

from pathlib import Path

import streamlit as st

from ui.cookie_route import routes

app = st.App(str(Path(__file__).resolve().parent / "dashboard.py"), routes=routes())
