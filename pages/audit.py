"""Audit trail (administrators): browse, filter, export and verify the hash-chained records."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import streamlit as st

from medviz import audit
from medviz.errors import MedvizError
from medviz.i18n import N_, _
from medviz.io import neutralize_formulas
from medviz.store import get_engine
from medviz.ui.audit_hooks import record
from medviz.ui.auth import require_admin
from medviz.ui.common import encryption_banner, plain

ANY = N_("(any)")  # the model filter's "no filter" value

if not require_admin():
    st.stop()
st.title("🔎 " + _("Audit trail"))
encryption_banner()
engine = get_engine()
st.caption(_("One append-only record per sign-in/out, prediction, explanation view, upload, export, case and "
             "override. Inputs appear only as SHA-256 hashes. Each record carries the previous record's hash and an "
             "HMAC under a key kept outside the database; the chain head is exported to a file after every write."))

c1, c2, c3, c4 = st.columns(4)
today = datetime.now(timezone.utc).date()
start = c1.date_input(_("From (UTC)"), today - timedelta(days=30), key="audit_from")
end = c2.date_input(_("To (UTC, inclusive)"), today, key="audit_to")
users = c3.multiselect(_("Users"), audit.distinct_values(engine, "username"), key="audit_users")
actions = c4.multiselect(_("Actions"), audit.distinct_values(engine, "action"), key="audit_actions")
c5, c6 = st.columns(2)
models = audit.distinct_values(engine, "model_name")
model = c5.selectbox(_("Model"), [ANY] + models, key="audit_model", format_func=lambda m: _(ANY) if m == ANY else m)
case_id = c6.text_input(_("Case ID"), key="audit_case").strip()

since = datetime.combine(start, time.min, tzinfo=timezone.utc)
until = datetime.combine(end, time.min, tzinfo=timezone.utc) + timedelta(days=1)
df = audit.query(engine, since=since, until=until, users=users, actions=actions,
                 model_name=None if model == ANY else model, case_id=case_id or None, limit=20_000)
record("audit_view", output_summary=f"{len(df)} record(s) listed")
st.markdown(_("**{n}** record(s), newest first").format(n=len(df))
            + (" " + _("(capped at 20,000: narrow the filters)") if len(df) == 20_000 else ""))
st.dataframe(df, hide_index=True, width="stretch")

csv = neutralize_formulas(df).to_csv(index=False).encode("utf-8")
st.download_button(_("Export these records (CSV)"), csv, file_name=f"medviz-audit-{today}.csv", mime="text/csv",
                   key="audit_export", on_click=lambda: record("audit_export", output_summary=f"{len(df)} record(s) exported",
                                                                dedupe=False))

st.subheader(_("Verify the chain"))
key_warning = audit.key_location_warning()
if key_warning:  # an operator's message, in English like the CLI's (its path is the operator's)
    st.warning(plain(key_warning[0].upper() + key_warning[1:]))
if st.button(_("Verify the whole trail"), key="audit_verify"):
    try:
        result = audit.verify(engine)
    except MedvizError as exc:  # the audit key is unreadable or malformed
        st.error(_("Cannot verify: {reason}").format(reason=plain(exc)))
    else:
        record("audit_verify", output_summary=result.message(), dedupe=False)
        (st.success if result.ok else st.error)(plain(result.message()))
seq, digest = audit.head(engine)
st.caption(_("Chain head: record #{seq}, hash {digest}. After every write it is also appended to "
             "`{head_file}` (keep that file where database users cannot write, e.g. `chattr +a` or a "
             "log host); verify checks every head in it. Command line: `python -m medviz audit verify`.").format(
    seq=seq, digest=digest, head_file=audit.head_file()))
