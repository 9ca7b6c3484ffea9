"""medviz dashboard entry point: `streamlit run app.py`."""
from __future__ import annotations

import streamlit as st

from medviz.i18n import N_, _
from medviz.ui import i18n as ui_i18n  # registers the per-session language (before any _() below)

TITLE = N_("medviz — clinical model dashboard")
st.set_page_config(page_title=_(TITLE), page_icon="🩺", layout="wide")

from medviz.ui.auth import account_page, account_sidebar, login_gate, remember_tab_downloads  # noqa: E402  (after set_page_config)
from medviz.ui.common import sidebar_bundle_picker  # noqa: E402


def pages() -> tuple[dict, dict]:
    """The navigation, titled in the session's language (built after the language is known)."""
    main = {
        _("Predict"): [
            st.Page("pages/case.py", title=_("Case"), icon="🩺", default=True),
            st.Page("pages/explanations.py", title=_("Explanations"), icon="🔎"),
            st.Page("pages/batch.py", title=_("Batch"), icon="📄"),
        ],
        _("Model"): [
            st.Page("pages/evaluation.py", title=_("Evaluation"), icon="📈"),
            st.Page("pages/model_card.py", title=_("Model card"), icon="📄"),
        ],
        _("Records"): [
            st.Page("pages/history.py", title=_("Case history"), icon="🗂️"),
            st.Page("pages/monitoring.py", title=_("Monitoring"), icon="📈"),
        ],
        _("Account"): [st.Page(account_page, title=_("Account"), icon="👤", url_path="account")],
    }
    admin = {_("Admin"): [st.Page("pages/audit.py", title=_("Audit trail"), icon="🔎")]}
    return main, admin


# Sign-in (or forced password change) until a user is signed in; idle logoff. Signed out, every page's
# address shows the sign-in form and keeps its URL, so a bookmark opens its page after signing in.
user = login_gate([p.url_path for group in (*pages()[0].values(), *pages()[1].values()) for p in group])
if ui_i18n.load_user_language(user) != "en":  # the account's language, once per session
    st.set_page_config(page_title=_(TITLE))
PAGES, ADMIN_PAGES = pages()
if user.is_admin:
    PAGES.update(ADMIN_PAGES)

nav = st.navigation(PAGES)
sidebar_bundle_picker()
ui_i18n.language_picker()  # after the model picker: the model stays the sidebar's first choice
account_sidebar(user)
try:
    nav.run()
finally:  # st.stop() included
    remember_tab_downloads()
    ui_i18n.warm_reader()  # after the page: a Chinese session's clinical reader is built in the background
