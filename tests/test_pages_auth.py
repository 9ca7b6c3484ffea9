"""Login gate, roles, logout, idle logoff and the Case history / Monitoring / Audit pages (AppTest)."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from medviz import audit
from medviz.store import cases, get_engine
from medviz.ui.auth import AUTH_KEY

from tests.conftest import ROOT, TEST_PASSWORD, sign_in_session


@pytest.fixture
def models_dir(tiny_text_bundle, monkeypatch):
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(tiny_text_bundle.parent))
    return tiny_text_bundle.parent


def _texts(at):
    return " ".join(str(e.value) for kind in ("markdown", "title", "caption", "info", "warning", "success", "error", "code")
                    for e in getattr(at, kind))


def _actions():
    return audit.query(get_engine()).sort_values("seq")["action"].tolist()


def sign_in(at, username, password):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click()  # the form's submit button
    return at.run()


def test_fresh_install_explains_cli_then_one_time_admin_must_change_password(models_dir):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert "python -m medviz users add NAME --role admin" in _texts(at)
    at.button(key="login_bootstrap").click().run()
    assert len(at.code) == 1
    one_time = at.code[0].value
    assert "shown only now" in _texts(at)
    at = sign_in(at, "admin", one_time)
    assert not at.exception
    assert at.title[0].value.startswith("🔑 Change your password")
    at.text_input(key="account_old_password").input(one_time)
    at.text_input(key="account_new_password").input(TEST_PASSWORD)
    at.text_input(key="account_new_password2").input(TEST_PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert "Change your password" not in at.title[0].value
    assert one_time not in _texts(at)
    assert _actions() == ["user_created", "login", "password_change"]


def test_real_sign_in_through_the_form(models_dir, make_user):
    make_user("dr.real", "clinician")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert at.title[0].value.startswith("🩺 medviz — sign in")
    at = sign_in(at, "dr.real", "not the password")
    assert at.error[0].value == "unknown user name or wrong password"
    assert AUTH_KEY not in at.session_state
    at = sign_in(at, "dr.real", TEST_PASSWORD)
    assert not at.exception
    assert at.session_state[AUTH_KEY]["username"] == "dr.real"
    assert "Signed in as **dr\\.real** (clinician)" in _texts(at)  # user names shown as plain text
    assert _actions() == ["login_failed", "login"]
    failed = audit.query(get_engine(), actions=["login_failed"]).iloc[0]
    assert failed["username"] == "dr.real"


def test_mistyped_name_is_not_recorded(models_dir, make_user):
    make_user("dr.real", "clinician")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    sign_in(at, TEST_PASSWORD, TEST_PASSWORD)  # password typed into the name box
    rec = audit.query(get_engine()).iloc[0]
    assert rec["username"] == "(unknown user)" and TEST_PASSWORD not in rec.to_string()


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "pages").glob("*.py")))
def test_every_page_needs_sign_in_even_when_run_directly(tmp_path, monkeypatch, page):
    """Switching before the first run makes AppTest do what a fresh server does for a request to /<page>:
    Streamlit's pages/-directory mode runs the page file without app.py. Each page must refuse on its own
    (first line: medviz.ui.auth.require_signed_in())."""
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{page}")
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["🩺 medviz — sign in"], f"pages/{page} ran without a sign-in"


def test_clinician_has_no_audit_page_admin_does(models_dir, logged_in_app, make_user):
    at = logged_in_app()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit.py")  # not registered for a clinician
    direct = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    sign_in_session(direct, make_user())
    direct.switch_page("pages/audit.py").run()  # run directly, as a fresh server would
    assert [e.value for e in direct.error] == ["This page is for administrators."]
    assert not direct.title and not direct.dataframe
    admin = logged_in_app(role="admin")
    admin.switch_page("pages/audit.py").run()
    assert not admin.exception
    assert admin.title[0].value == "🔎 Audit trail"
    admin.button(key="audit_verify").click().run()
    assert admin.success[0].value.startswith("audit trail intact")
    assert "audit_verify" in _actions()


def test_sign_out_clears_every_session_key(models_dir, logged_in_app):
    at = logged_in_app()
    at.session_state["history_new_text"] = "something private"
    at.button(key="auth_sign_out").click().run()
    assert not at.exception
    assert AUTH_KEY not in at.session_state and "history_new_text" not in at.session_state
    assert "You have signed out." in _texts(at)
    assert _actions()[-1] == "logout"


def test_idle_session_is_signed_out(models_dir, logged_in_app, monkeypatch):
    monkeypatch.setenv("MEDVIZ_IDLE_MINUTES", "1")
    at = logged_in_app()
    at.switch_page("pages/history.py").run()
    assert at.title[0].value == "🗂️ Case history"
    at.session_state[AUTH_KEY] = {**at.session_state[AUTH_KEY], "last_seen": time.time() - 61}
    at.run()
    assert AUTH_KEY not in at.session_state
    assert at.title[0].value == "🩺 medviz — sign in"
    assert "signed out after 1 minutes without activity" in _texts(at)
    assert _actions()[-1] == "session_timeout"


def test_history_page_saves_case_and_records_override(models_dir, logged_in_app):
    at = logged_in_app()
    at.switch_page("pages/history.py").run()
    assert not at.exception
    at.text_area(key="history_new_text").input("fever and cough with chills")
    at.button(key="history_new_save").click().run()
    assert not at.exception
    saved = [s.value for s in at.success if "Saved as case" in s.value]
    assert saved and "top\\-3\\:" in saved[0]
    listed = cases.list_cases(get_engine(), created_by="tester")
    assert len(listed) == 1
    case_id = listed[0].case_id
    assert at.selectbox(key="history_open_case").value == case_id
    assert any(t.value == "fever and cough with chills" for t in at.text)
    at.selectbox(key="history_confirmed").select("rash")
    at.radio(key="history_decision").set_value("override")
    at.text_area(key="history_reason").input("skin findings on examination")
    at.button(key="FormSubmitter:history_outcome_form-Record outcome").click().run()
    assert not at.exception, at.exception
    out = cases.get_case(get_engine(), case_id).summary.outcome
    assert out.confirmed == "rash" and out.decision == "override"
    acts = _actions()
    assert acts[:3] == ["prediction", "case_saved", "case_view"] and acts[-1] == "override"
    rec = audit.query(get_engine(), actions=["prediction"]).iloc[0]
    assert rec["model_name"] == "tiny-text" and len(rec["model_sha256"]) == 64
    assert rec["input_hash"] == audit.input_hash("fever and cough with chills")


def test_monitoring_page_shows_live_beside_test_and_alerts(models_dir, tiny_text_bundle, logged_in_app):
    from medviz.bundle import read_manifest

    m = read_manifest(tiny_text_bundle)
    engine = get_engine()
    model = (m["name"], m["version"], m["files"]["model.keras"], m["task"])
    for i in range(24):  # the model always said "flu"; it was right 6 times in 24
        s = cases.save_case(engine, username="dr-x", content=f"c{i}", model=model,
                            prediction=cases.text_prediction(m["labels"], [0.8, 0.15, 0.05]))
        cases.record_outcome(engine, s.case_id, username="dr-x", confirmed="flu" if i % 4 == 0 else "rash",
                             decision="agree" if i % 4 == 0 else "override", reason="" if i % 4 == 0 else "exam")
    at = logged_in_app()
    at.switch_page("pages/monitoring.py").run()
    assert not at.exception
    assert any("clearly below the test figure" in e.value for e in at.error)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Outcomes recorded"] == "24" and metrics["Top-1 accuracy (live)"] == "25.0%"
    assert len(at.get("plotly_chart")) == 1


def test_case_page_records_prediction_and_saves_case(models_dir, logged_in_app):
    at = logged_in_app()
    at.text_area(key="case_text").set_value("itchy red rash on my arms")
    at.button[0].click().run()
    assert not at.exception
    at.run()  # a re-render is not a second prediction
    recs = audit.query(get_engine(), actions=["prediction"])
    assert len(recs) == 1
    rec = recs.iloc[0]
    assert rec["username"] == "tester" and rec["role"] == "clinician" and rec["model_name"] == "tiny-text"
    assert rec["input_hash"] == audit.input_hash("itchy red rash on my arms")
    assert rec["output_summary"].startswith("top-3: ")
    at.button(key="case_save").click().run()
    assert any("Saved as case" in s.value for s in at.success)
    saved = cases.list_cases(get_engine(), created_by="tester")
    assert len(saved) == 1 and saved[0].top_label == rec["output_summary"].split()[1]
    assert audit.query(get_engine())["action"].iloc[0] == "case_saved"


def test_two_sessions_do_not_see_each_others_cases(models_dir, logged_in_app):
    a = logged_in_app(username="dr-a")
    a.switch_page("pages/history.py").run()
    a.text_area(key="history_new_text").input("rash on my legs, very itchy")
    a.button(key="history_new_save").click().run()
    assert any("Saved as case" in s.value for s in a.success)
    b = logged_in_app(username="dr-b")
    b.switch_page("pages/history.py").run()
    assert not b.exception
    assert b.session_state["history_new_text"] == "" and "history_new_result" not in b.session_state
    assert any("not saved any cases" in i.value for i in b.info)
    assert not any(t.value == "rash on my legs, very itchy" for t in b.text)
