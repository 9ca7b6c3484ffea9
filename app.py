"""medviz dashboard entry point: `streamlit run app.py`."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="medviz — clinical model dashboard", page_icon="🩺", layout="wide")

from medviz.ui.auth import account_page, account_sidebar, login_gate  # noqa: E402  (after set_page_config)
from medviz.ui.common import sidebar_bundle_picker  # noqa: E402

PAGES = {
    "Predict": [
        st.Page("pages/case.py", title="Case", icon="🩺", default=True),
        st.Page("pages/explanations.py", title="Explanations", icon="🔎"),
        st.Page("pages/batch.py", title="Batch", icon="📄"),
    ],
    "Model": [
        st.Page("pages/evaluation.py", title="Evaluation", icon="📈"),
        st.Page("pages/model_card.py", title="Model card", icon="📄"),
    ],
    "Records": [
        st.Page("pages/history.py", title="Case history", icon="🗂️"),
        st.Page("pages/monitoring.py", title="Monitoring", icon="📈"),
    ],
    "Account": [st.Page(account_page, title="Account", icon="👤", url_path="account")],
}
ADMIN_PAGES = {
    "Admin": [st.Page("pages/audit.py", title="Audit trail", icon="🔎")],
}
# Sign-in (or forced password change) until a user is signed in; idle logoff. Signed out, every page's
# address shows the sign-in form and keeps its URL, so a bookmark opens its page after signing in.
user = login_gate([p.url_path for group in (*PAGES.values(), *ADMIN_PAGES.values()) for p in group])
if user.is_admin:
    PAGES.update(ADMIN_PAGES)

nav = st.navigation(PAGES)
sidebar_bundle_picker()
account_sidebar(user)
nav.run()
