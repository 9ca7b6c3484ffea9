"""The interface language on the pages (issue 14): sidebar picker, per session, stored with the account."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import TEST_PASSWORD, sign_in_session

ROOT = Path(__file__).resolve().parents[2]


def _picker(at):
    return next(s for s in at.sidebar.selectbox if s.key == "i18n_language_picker")


def test_english_by_default_then_chinese_remembered_for_the_account(app, make_user):
    from medviz.store import get_engine, preferences

    assert _picker(app).value == "en"
    assert app.title[0].value == "Case"
    _picker(app).set_value("zh_CN").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "病例"
    user = make_user()
    assert preferences.get_language(get_engine(), user.id) == "zh_CN"

    # another browser, after signing out: a new session for the same account starts in Chinese
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    sign_in_session(other, user)
    other.run()
    assert not other.exception, other.exception
    assert _picker(other).value == "zh_CN"
    assert other.title[0].value == "病例"


def test_sessions_do_not_share_a_language(app, make_user):
    """One user switching to Chinese leaves another user's open session in English."""
    other = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    sign_in_session(other, make_user("second-user"))
    other.run()
    _picker(app).set_value("zh_CN").run()
    other.run()
    assert app.title[0].value == "病例"
    assert other.title[0].value == "Case"


def test_language_chosen_on_the_sign_in_page_is_kept(make_user, models_dir):
    from medviz.store import get_engine, preferences

    user = make_user()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    _picker(at).set_value("zh_CN").run()
    assert not at.exception, at.exception
    at.text_input(key="login_username").set_value("tester")
    at.text_input(key="login_password").set_value(TEST_PASSWORD)
    at.button[0].click().run()
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "病例"
    assert preferences.get_language(get_engine(), user.id) == "zh_CN"  # the account had none: it is now its own


def test_chinese_case_page_names_diagnoses_in_chinese_when_the_bundle_has_names(models_dir, logged_in_app):
    """A bundle's label_names (manifest) are shown beside the label in that language; English is unchanged."""
    import json

    manifest_path = models_dir / "tiny-text" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["label_names"] = {"zh_CN": {"flu": "流感", "migraine": "偏头痛", "rash": "皮疹"}}
    manifest_path.write_text(json.dumps(manifest))
    at = logged_in_app()
    _picker(at).set_value("zh_CN").run()
    at.text_area(key="case_text").set_value("I have a fever and a bad cough with chills")
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    shown = set(at.dataframe[0].value.iloc[:, -1])  # rank, probability, diagnosis
    assert shown <= {"流感 (flu)", "偏头痛 (migraine)", "皮疹 (rash)"} and shown
    # the conformal-set sentence and the test-reliability table name the diagnoses the same way
    conformal = [i.value for i in at.info if "覆盖率" in i.value]
    assert conformal and "诊断在以下范围内" in conformal[0], [i.value for i in at.info]
    listed = conformal[0].split("：", 1)[1].rstrip("。").replace("\\", "")
    assert listed and all(item in {"流感 (flu)", "偏头痛 (migraine)", "皮疹 (rash)"} for item in listed.split("、")), listed
    reliability = [d.value for d in at.dataframe if "敏感度（95% 置信区间）" in d.value.columns]
    assert reliability and set(reliability[0].iloc[:, 0]) <= {"流感 (flu)", "偏头痛 (migraine)", "皮疹 (rash)"}
    # in English the same bundle shows the labels as written: tests/pages/test_case_page.py
