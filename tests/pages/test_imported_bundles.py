"""Every page serves an imported bundle (AppTest; caches cleared by tests/pages/conftest.py): the seed article's LSTM (.h5 + Tokenizer) and a tabular model."""
from __future__ import annotations

import pytest

pytest.importorskip("keras_preprocessing")

from tests.importer.models import build_id_model, build_tabular_model, labelled_tabular, labelled_text  # noqa: E402

PAGES = ("pages/batch.py", "pages/evaluation.py", "pages/explanations.py", "pages/model_card.py",
         "pages/history.py", "pages/monitoring.py")


@pytest.fixture(scope="module")
def imported_dirs(tmp_path_factory):
    from medviz.importer.core import ImportOptions
    from medviz.importer.tabular import import_tabular_model
    from medviz.importer.text import import_text_model

    root = tmp_path_factory.mktemp("imported")
    data = labelled_text(binary=True)
    model_file, tok = build_id_model(root, data, fmt="h5", binary=True, padding="pre")
    import_text_model(model_file, data, root / "text" / "seed-lstm",
                      ImportOptions(name="seed-lstm", label_column="label", imported_by="tester"),
                      text_column="note", tokenizer_file=tok, positive="yes")
    tab = labelled_tabular()
    import_tabular_model(build_tabular_model(root, tab), tab, root / "tabular" / "risk",
                         ImportOptions(name="risk", label_column="outcome", imported_by="tester"), positive="Yes")
    return {"text": root / "text", "tabular": root / "tabular"}


def _app(imported_dirs, kind, monkeypatch, logged_in_app):
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(imported_dirs[kind]))
    at = logged_in_app(timeout=180)
    assert not at.exception, at.exception
    return at


def test_text_case_page_and_every_page_serve_the_imported_lstm(imported_dirs, monkeypatch, logged_in_app):
    at = _app(imported_dirs, "text", monkeypatch, logged_in_app)
    at.text_area(key="case_text").set_value("fever and cough since yesterday")
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    heads = [h.value for h in at.subheader]
    assert "Ranked differential" in heads and "Why: word contributions (SHAP)" in heads
    assert "Words the model attended to" not in heads and "Attention over the same words" not in heads
    assert any("exposes no attention" in c.value for c in at.caption)
    assert list(at.dataframe[0].value["Diagnosis"])[0] == "yes"
    for page in PAGES:
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, at.exception)


def test_model_card_states_the_import_provenance(imported_dirs, monkeypatch, logged_in_app):
    at = _app(imported_dirs, "text", monkeypatch, logged_in_app)
    at.switch_page("pages/model_card.py")
    at.run()
    assert not at.exception, at.exception
    assert "Imported model: provenance" in [h.value for h in at.subheader]
    facts = " ".join(t.value.to_string() for t in at.table).replace("\\", "")  # st.table cells go through plain()
    assert "tester" in facts and "my_model.h5" in facts and "SHA-256" in facts
    assert any("imported " in c.value for c in at.caption)  # the card's subtitle says when


def test_tabular_case_page_and_every_page_serve_the_imported_model(imported_dirs, monkeypatch, logged_in_app):
    at = _app(imported_dirs, "tabular", monkeypatch, logged_in_app)
    for name, value in (("glu", 150.0), ("bmi", 33.0), ("age", 50)):
        at.number_input(key=f"case_tab_in_{name}").set_value(value)
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception, at.exception
    assert at.metric and at.metric[0].value.endswith("%")
    for page in PAGES:
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, at.exception)
