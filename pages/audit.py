"""Audit trail (administrators): browse, filter, export and verify the hash-chained records."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import streamlit as st

from medviz import audit
from medviz.errors import MedvizError
from medviz.io import neutralize_formulas
from medviz.store import get_engine
from medviz.ui.audit_hooks import record
from medviz.ui.auth import require_admin
from medviz.ui.common import encryption_banner, plain

if not require_admin():
    st.stop()
st.title("🔎 Audit trail")
encryption_banner()
engine = get_engine()
st.caption("One append-only record per sign-in/out, prediction, explanation view, upload, export, case and "
           "override. Inputs appear only as SHA-256 hashes. Each record carries the previous record's hash and an "
           "HMAC under a key kept outside the database; the chain head is exported to a file after every write.")

c1, c2, c3, c4 = st.columns(4)
today = datetime.now(timezone.utc).date()
start = c1.date_input("From (UTC)", today - timedelta(days=30), key="audit_from")
end = c2.date_input("To (UTC, inclusive)", today, key="audit_to")
users = c3.multiselect("Users", audit.distinct_values(engine, "username"), key="audit_users")
actions = c4.multiselect("Actions", audit.distinct_values(engine, "action"), key="audit_actions")
c5, c6 = st.columns(2)
models = audit.distinct_values(engine, "model_name")
model = c5.selectbox("Model", ["(any)"] + models, key="audit_model")
case_id = c6.text_input("Case ID", key="audit_case").strip()

since = datetime.combine(start, time.min, tzinfo=timezone.utc)
until = datetime.combine(end, time.min, tzinfo=timezone.utc) + timedelta(days=1)
df = audit.query(engine, since=since, until=until, users=users, actions=actions,
                 model_name=None if model == "(any)" else model, case_id=case_id or None, limit=20_000)
record("audit_view", output_summary=f"{len(df)} record(s) listed")
st.markdown(f"**{len(df)}** record(s), newest first" + (" (capped at 20,000: narrow the filters)" if len(df) == 20_000 else ""))
st.dataframe(df, hide_index=True, width="stretch")

csv = neutralize_formulas(df).to_csv(index=False).encode("utf-8")
st.download_button("Export these records (CSV)", csv, file_name=f"medviz-audit-{today}.csv", mime="text/csv",
                   key="audit_export", on_click=lambda: record("audit_export", output_summary=f"{len(df)} record(s) exported",
                                                                dedupe=False))

st.subheader("Verify the chain")
key_warning = audit.key_location_warning()
if key_warning:
    st.warning(plain(key_warning[0].upper() + key_warning[1:]))
if st.button("Verify the whole trail", key="audit_verify"):
    try:
        result = audit.verify(engine)
    except MedvizError as exc:  # the audit key is unreadable or malformed
        st.error(plain(f"Cannot verify: {exc}"))
    else:
        record("audit_verify", output_summary=result.message(), dedupe=False)
        (st.success if result.ok else st.error)(plain(result.message()))
seq, digest = audit.head(engine)
st.caption(f"Chain head: record #{seq}, hash {digest}. After every write it is also appended to "
           f"`{audit.head_file()}` (keep that file where database users cannot write, e.g. `chattr +a` or a "
           "log host); verify checks every head in it. Command line: `python -m medviz audit verify`.")
