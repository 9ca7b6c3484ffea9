"""Case page with a bundle trained with the clinical-safety options: conformal sentence, negated
findings, recognised terms, out-of-scope flag wiring."""
import shutil

import pytest

from medviz.ui.common import plain


@pytest.fixture
def clinical_app(tmp_path, tiny_clinical_bundle, monkeypatch, logged_in_app):
    d = tmp_path / "models"
    d.mkdir()
    shutil.copytree(tiny_clinical_bundle, d / "tiny-clinical")
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(d))
    at = logged_in_app()  # every page needs a signed-in user (tests/conftest.py)
    assert not at.exception, at.exception
    return at


def _submit(at, text):
    at.text_area(key="case_text").set_value(text)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_case_page_shows_conformal_set_negations_and_terms(clinical_app):
    at = _submit(clinical_app, "34F, pyrexia and productive cough, denies rash <b>x</b>")
    infos = " ".join(i.value for i in at.info)
    assert plain("90% coverage on held-out cases") in infos  # messages show model text as plain text
    md = " ".join(m.value for m in at.markdown) + " ".join(h.value for h in at.html)
    assert "Absent (denied, not counted)" in md and "rash" in md
    assert "Present (read by the model)" in md and "pyrexia" in md
    assert "pyrexia → fever" in md  # the clinician terms rewritten for the model
    assert "<b>x" not in md  # typed HTML is escaped wherever it is shown
    flagged = [e.value for e in at.error]
    if flagged:
        assert "outside what the model was trained for" in flagged[0]


def test_case_page_all_negated_warns(clinical_app):
    at = _submit(clinical_app, "denies fever, cough or rash.")
    assert any("absent" in w.value for w in at.warning)
    assert not at.dataframe


def test_case_page_shows_vital_signs_not_interpreted_and_contradictions(clinical_app):
    at = _submit(clinical_app, "72M, productive cough and fever, denies chest pain. SpO2 88% on air, BP 80/50, "
                               "HR 124, T 36.8, MS <i>y</i>")
    tables = [d.value for d in at.dataframe]
    vitals = next(t for t in tables if "Adult reference range" in t.columns)
    assert list(vitals["Status"]) == ["low", "low", "low", "high", "normal"]
    assert "hypotension" in set(vitals["Meaning"]) and "≥ 94 %" in set(vitals["Adult reference range"])
    assert any("Fever is reported" in w.value and "36" in w.value for w in at.warning)  # shown as plain text (36\\.8)
    md = " ".join(m.value for m in at.markdown)
    assert "Not interpreted" in md and "multiple sclerosis" in md
    assert "Absent (denied, not counted)" in md and "chest pain" in md
    assert "<i>y" not in md
