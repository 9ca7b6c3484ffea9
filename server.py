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

# TensorFlow, Keras, shap and medviz's model modules are imported here, once, in the server's main
# thread, before any session runs. Streamlit stops a session's script thread when the user acts again
# (fastReruns); a stop that lands inside the first `import tensorflow` leaves TensorFlow half registered
# ("KeyError: Registering two gradient with name 'ReduceDataset'") and every later page that loads a
# model fails until a restart. Seen in the browser suite: picking a model while the first one loads.
from medviz.runtime import configure_tensorflow  # noqa: E402

configure_tensorflow()
import tensorflow  # noqa: E402,F401
import keras  # noqa: E402,F401
import shap  # noqa: E402,F401

import medviz.explain  # noqa: E402,F401
import medviz.tabular.predict  # noqa: E402,F401
import medviz.text.analyse  # noqa: E402,F401
import medviz.text.predict  # noqa: E402,F401

app = st.App("app.py", routes=web.routes(), middleware=web.middleware())
