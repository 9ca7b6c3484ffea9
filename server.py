"""Production entry point: ``streamlit run server.py`` serves app.py with session cookies.

``st.App`` (Streamlit's ASGI app, 1.67) adds medviz's HTTP routes and middleware around app.py
(medviz/web.py): the HttpOnly session cookie that keeps a user signed in across refreshes and tabs, its
server-side revocation, and downloads only for a live session. ``streamlit run app.py`` still works,
without those (a session then lives in its browser tab only).
"""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from medviz import web

# Streamlit's multipage "v1" mode: while no session has yet run app.py's st.navigation, a process that
# finds a pages/ folder beside the main script runs the requested pages/<name>.py directly, with a bare
# menu of that folder (a bookmark opened first after a restart showed "audit" and no sign-out). medviz
# routes every page through st.navigation (v2), so the v1 mode is switched off before any session starts.
# (A class attribute of Streamlit's PagesManager, not a public option; tests/browser checks the result.)
PagesManager.uses_pages_directory = False
web.ENABLED = True

app = st.App("app.py", routes=web.routes(), middleware=web.middleware())
