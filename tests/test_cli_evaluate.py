"""`python -m medviz evaluate`: figures printed and written as JSON; errors as one line."""
from __future__ import annotations

import json

from tests.conftest import tiny_text_frame
from medviz.cli import main


def test_evaluate_text_bundle_writes_json(tiny_text_bundle, tmp_path, capsys):
    csv = tmp_path / "labelled.csv"
    tiny_text_frame().rename(columns={"label": "diagnosis"}).to_csv(csv, index=False)
    out = tmp_path / "ev.json"
    rc = main(["evaluate", str(tiny_text_bundle), str(csv), "--label-column", "diagnosis", "--text-column", "text",
               "--json", str(out), "--resamples", "200"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "top-1 accuracy" in printed and "bootstrap: 200 stratified resamples" in printed
    data = json.loads(out.read_text())
    assert data["kind"] == "multiclass" and data["cohort"]["n"] == 18
    assert data["macro_auc"]["resamples"] == 200 and data["macro_auc"]["seed"] == 20240501
    assert {r["label"] for r in data["per_diagnosis"]} == {"flu", "migraine", "rash"}


def test_evaluate_reports_bad_label_column_in_one_line(tiny_text_bundle, tmp_path, capsys):
    csv = tmp_path / "labelled.csv"
    tiny_text_frame().to_csv(csv, index=False)
    rc = main(["evaluate", str(tiny_text_bundle), str(csv), "--label-column", "outcome", "--text-column", "text"])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "label column 'outcome' not found" in err and "Traceback" not in err
