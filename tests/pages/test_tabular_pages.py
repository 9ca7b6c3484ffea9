"""Case page (tabular form) and Batch page, driven through app.py with streamlit's AppTest."""
from __future__ import annotations

import json
import shutil

import pytest

from medviz.ui.common import plain



@pytest.fixture()
def tab_app(tiny_tabular_bundle, tmp_path, monkeypatch, logged_in_app):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(tiny_tabular_bundle, models / "tiny-tabular")
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(models))
    at = logged_in_app(timeout=120)  # signed in as clinician "tester", already run once
    assert not at.exception, at.exception
    return at


def test_case_page_scores_a_tabular_case(tab_app):
    at = tab_app
    assert not at.exception
    labels = [n.label for n in at.number_input]
    assert labels == ["Glucose (mg/dL)", "Body mass index (kg/m²)", "Age (years)"]  # aria-labels read as written
    assert at.number_input(key="case_tab_in_glu").max is None  # hard limits checked by validate_case, with a message
    at.number_input(key="case_tab_in_glu").set_value(400.0)
    at.number_input(key="case_tab_in_age").set_value(40)
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception and not at.error
    risk = at.metric[0]
    assert risk.label == "Calibrated risk of Yes" and risk.value.endswith("%")
    text = " ".join(m.value for m in at.markdown)
    assert "risk band" in text and "Bands:" in text and "Base rate" in text
    assert any("Extrapolation" in w.value and "Glucose" in w.value for w in at.warning)
    assert any("Imputed" in i.value and "Body mass index" in i.value for i in at.info)
    sens = at.table[0].value
    assert list(sens.index) == ["Sensitivity", "Specificity", "PPV", "NPV"]
    inputs = at.table[1].value
    status = [v.replace("\\", "") for v in inputs["status"]]  # st.table renders Markdown: cells go through plain()
    assert status[0] == "extrapolation" and status[1].startswith("imputed (median ") and status[2] == "ok"
    _assert_audited("prediction", "risk ")


def _assert_audited(action: str, summary_part: str) -> None:
    from medviz import audit
    from medviz.store import get_engine

    rows = audit.query(get_engine(), actions=[action])
    assert len(rows) >= 1 and any(summary_part in str(x) for x in rows["output_summary"])


def test_batch_page_validates_scores_filters_and_downloads(tab_app):
    at = tab_app
    at.switch_page("pages/batch.py")
    at.run()
    assert not at.exception
    assert any("10 MB" in m.value for m in at.markdown)  # the configured upload limit is stated
    data = b"id,glu,bmi,age,note\n1,120,30,40,ok\n2,high,30,40,=1+1\n3,1000,,50,x\n4,95,24,-1,y\n"
    at.file_uploader(key="batch_upload").set_value(("cases.csv", data, "text/csv"))
    at.run()
    assert not at.exception
    assert any("**id**" in i.value and "**note**" in i.value for i in at.info)  # unexpected columns listed
    at.button(key="batch_score").click()
    at.run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "4" and metrics["Not scored (see `error`)"] == "2"
    table = at.dataframe[0].value
    assert list(table["id"]) == ["1", "2", "3", "4"]
    assert table.loc[1, "error"] == "glu: 'high' is not a number"
    assert "extrapolation:glu" in table.loc[2, "flags"] and "imputed:bmi" in table.loc[2, "flags"]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(s["layout"]["title"]["text"].startswith("Predicted risk") for s in charts)
    shapes = [s for c in charts for s in c["layout"].get("shapes", [])]
    assert len(shapes) == 2  # the two band cut-points on the histogram
    # Filter by flag.
    at.multiselect(key="batch_filter_flag").set_value(["extrapolation"])
    at.run()
    assert list(at.dataframe[0].value["id"]) == ["3"]
    _assert_audited("batch_upload", "4 rows scored, 2 with errors")


def test_batch_page_reads_a_european_spreadsheet_export_and_states_the_limits(tab_app):
    at = tab_app
    at.switch_page("pages/batch.py")
    at.run()
    assert any("500,000 rows" in m.value and "2,000 columns" in m.value for m in at.markdown)
    data = b"sep=;\r\nid;glu;bmi;age\r\n1;120;30,5;40\r\n2;95;24,1;33\r\n"
    at.file_uploader(key="batch_upload").set_value(("eu.csv", data, "text/csv"))
    at.run()
    at.button(key="batch_score").click()
    at.run()
    assert not at.exception and not at.error
    assert list(at.dataframe[0].value["bmi"]) == ["30.5", "24.1"] and (at.dataframe[0].value["error"] == "").all()
    notes = " ".join(c.value for c in at.caption)
    assert "semicolon" in notes and "decimal commas" in notes and "sep\\=" in notes  # shown through plain()


def test_batch_page_lists_missing_columns(tab_app):
    at = tab_app
    at.switch_page("pages/batch.py")
    at.run()
    at.file_uploader(key="batch_upload").set_value(("x.csv", b"glu,weight\n1,2\n", "text/csv"))
    at.run()
    assert not at.exception
    assert any(plain("missing required column(s): bmi, age") in e.value for e in at.error)  # shown through plain()


def test_batch_page_reports_unreadable_file(tab_app):
    at = tab_app
    at.switch_page("pages/batch.py")
    at.run()
    at.file_uploader(key="batch_upload").set_value(("x.csv", b"PK\x03\x04rest-of-zip", "text/csv"))
    at.run()
    assert not at.exception
    shown = [e.value for e in at.error if "Excel" in e.value]
    assert shown, [e.value for e in at.error]
    # the upload's name once, in front; not "x.csv: uploaded file: …"
    assert shown[0].startswith(plain("x.csv: ")) and shown[0].count(plain("x.csv")) == 1, shown[0]
    assert "uploaded file" not in shown[0]


def test_batch_page_with_a_text_bundle(app):
    """The `app` fixture of tests/pages/conftest.py serves the tiny text bundle."""
    at = app
    at.switch_page("pages/batch.py")
    at.run()
    data = b"id,complaint\n1,fever and cough with chills\n2,\n3,itchy red rash on my arms\n"
    at.file_uploader(key="batch_upload").set_value(("notes.csv", data, "text/csv"))
    at.run()
    assert not at.exception
    assert at.selectbox(key="batch_text_column").options == ["id", "complaint"]
    assert at.selectbox(key="batch_text_column").value == "complaint"  # not the numeric id column
    at.selectbox(key="batch_text_column").set_value("complaint")
    at.button(key="batch_score").click()
    at.run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert len(table) == 3 and table.loc[1, "error"] != "" and table.loc[0, "prediction"] in ("flu", "migraine", "rash")
    # the outputs first (session 14: a newcomer scrolled past 801 probability columns to find cant_miss), the
    # probability as a percentage shown with one decimal on every row ("%.1f%%"; "percent" gave 88.1% beside 44.37%)
    assert list(table.columns[:7]) == ["prediction", "probability", "cant_miss", "prediction_set", "out_of_scope",
                                       "warnings", "error"]
    p = table["probability"].dropna()
    assert len(p) == 2 and ((p > 1) & (p <= 100)).all()
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(s["layout"]["title"]["text"].startswith("Rows per predicted diagnosis") for s in charts)
    at.multiselect(key="batch_filter_label").set_value(["rash"])
    at.run()
    assert set(at.dataframe[0].value["prediction"]) <= {"rash"}
