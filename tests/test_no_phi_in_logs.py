"""Canary test (CLINICAL.md S4): synthetic PHI put into cases, outcome reasons, uploads and the sign-in
form must not appear in any log record, captured output, the audit table, or — with encryption on —
anywhere in the database files."""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from medviz import audit
from medviz.store import cases, get_engine
from medviz.store.models import AuditRecord

CANARIES = ("Zebulon Quaxley", "MRN-77413902", "1961-04-27", "07700 900461")
CASE_TEXT = f"{CANARIES[0]} (DOB {CANARIES[2]}, {CANARIES[1]}) fever and cough with chills, call {CANARIES[3]}"


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs():
    """A DEBUG handler on the root logger and on every logger that does not propagate (e.g. streamlit)."""
    handler = _Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(exc_info)s"))
    loggers = [logging.getLogger()] + [
        lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger) and not lg.propagate
    ]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in saved:
        lg.removeHandler(handler)
        lg.setLevel(level)


def _assert_clean(text: str, where: str):
    for c in CANARIES:
        assert c not in text, f"canary {c!r} found in {where}"


def test_canaries_never_reach_logs_audit_or_database(tiny_text_bundle, monkeypatch, logged_in_app, make_user, all_logs, capfd,
                                                      medviz_db, tmp_path):
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(tiny_text_bundle.parent))
    monkeypatch.setenv("MEDVIZ_ENCRYPTION_KEY", Fernet.generate_key().decode())
    from medviz.bundle import load_bundle
    from medviz.scoring import score_csv
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    engine = get_engine()
    bundle = load_bundle(tiny_text_bundle)

    # 1. Sign-in form: an MRN typed as the user name, a name typed as the password.
    make_user()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.text_input(key="login_username").input(CANARIES[1])
    at.text_input(key="login_password").input(CANARIES[0])
    at.button[0].click().run()

    # 2. A case saved and overridden through the Case history page.
    at = logged_in_app()
    at.switch_page("pages/history.py").run()
    at.text_area(key="history_new_text").input(CASE_TEXT)
    at.button(key="history_new_save").click().run()
    at.selectbox(key="history_confirmed").select_index(0)  # the outcome starts empty: choose one
    at.radio(key="history_decision").set_value("override")
    at.text_area(key="history_reason").input(f"{CANARIES[0]} told me about a rash")
    at.button(key="FormSubmitter:history_outcome_form-Record outcome").click().run()
    assert not at.exception
    assert cases.list_cases(engine)[0].outcome.decision == "override"

    # 3. A form case and an upload through the library, and a scored CSV upload.
    s = cases.save_case(engine, username="dr-a", content={"name": CANARIES[0], "mrn": CANARIES[1]}, bundle=bundle,
                        prediction=cases.text_prediction(bundle.labels, [0.5, 0.3, 0.2]))
    cases.record_outcome(engine, s.case_id, username="dr-a", confirmed="flu", decision="disagree", reason=CANARIES[3])
    upload = pd.DataFrame({"id": [CANARIES[1], "x"], "input_text": [CASE_TEXT, "itchy red rash"]})
    src = tmp_path / "upload.csv"
    upload.to_csv(src, index=False)
    score_csv(bundle, src, tmp_path / "scored.csv", text_column="input_text")
    audit.record(engine, "batch_upload", username="dr-a", role="clinician", bundle=bundle, input_obj=upload,
                 output_summary="2 rows scored")
    audit.record(engine, "export", username="dr-a", role="clinician", bundle=bundle, input_obj=src.read_bytes(),
                 output_summary="2 rows exported")

    # 4. A failing audit write whose exception text carries patient data: the hook logs only the type.
    import medviz.ui.audit_hooks as hooks

    def broken(*a, **k):
        raise RuntimeError(f"constraint failed for {CANARIES[0]}")

    monkeypatch.setattr(hooks.audit, "append", broken)
    at2 = logged_in_app(username="other")
    at2.switch_page("pages/history.py").run()
    at2.text_area(key="history_new_text").input(CASE_TEXT)
    at2.button(key="history_new_save").click().run()
    assert any("could not be written to the audit trail" in w.value for w in at2.warning)
    monkeypatch.undo()

    # The checks.
    assert all_logs.lines, "nothing was logged at all: the handler is not attached"
    _assert_clean("\n".join(all_logs.lines), "the logs")
    out, err = capfd.readouterr()
    _assert_clean(out + err, "stdout/stderr")
    with engine.connect() as conn:
        rows = conn.execute(select(AuditRecord.__table__)).mappings().all()
    assert len(rows) >= 6
    _assert_clean(repr([dict(r) for r in rows]), "the audit table")
    engine.dispose()
    for f in Path(medviz_db).parent.glob("medviz.db*"):  # the file, its WAL and shared-memory index
        data = f.read_bytes()
        for c in CANARIES:
            assert c.encode() not in data, f"canary {c!r} stored in clear in {f.name}"
