"""Can't-miss conditions (data file, one case, the CSV column) and the top-k scored-CSV columns."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medviz.errors import InputError
from medviz.text.cant_miss import CantMissRule, cant_miss, cant_miss_column, load_rule
from medviz.text.wide import top_k_columns, top_k_names

RULE = CantMissRule(top_k=2, min_probability=0.05, conditions=(("Stroke", "time-critical", "NICE NG128"),
                                                                ("Sepsis", "organ failure", "NICE NG51")))
LABELS = ["Migraine", "stroke", "Sepsis", "Flu", "Cold"]


def test_shipped_list_is_complete_and_sourced():
    rule = load_rule()
    names = {c for c, _, _ in rule.conditions}
    for must in ("Stroke", "Heart attack", "Pulmonary embolism", "Meningitis", "Sepsis", "Ectopic pregnancy", "Appendicitis",
                 "Abdominal aortic aneurysm", "Thoracic aortic aneurysm", "Subarachnoid hemorrhage", "Diabetic ketoacidosis"):
        assert must in names
    assert all(src.strip() and danger.strip() for _, danger, src in rule.conditions)
    assert rule.top_k == 10 and 0 < rule.min_probability < 1


def test_named_in_top_k_or_above_probability_case_insensitive():
    p = np.array([0.60, 0.02, 0.06, 0.30, 0.02])
    hits = cant_miss(LABELS, p, RULE)
    # Sepsis ranks 3rd (outside top 2) but is above 5 %; stroke is 4th at 2 %: not named
    assert [(h.label, h.rank) for h in hits] == [("Sepsis", 3)]
    hits = cant_miss(LABELS, np.array([0.10, 0.50, 0.01, 0.30, 0.09]), RULE)
    assert [h.label for h in hits] == ["stroke"] and hits[0].probability == 0.5 and hits[0].source == "NICE NG128"
    assert cant_miss(["a", "b"], np.array([0.5, 0.5]), RULE) == []


def test_column_matches_single_case_and_skips_unscored_rows():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(len(LABELS)) * 0.3, size=200)
    probs[5] = np.nan
    col = cant_miss_column(LABELS, probs, RULE)
    assert col[5] == ""
    for i in (0, 1, 2, 3, 50, 199):
        assert col[i] == "|".join(h.text() for h in sorted(cant_miss(LABELS, probs[i], RULE), key=lambda h: -h.probability))
    assert any(col) and not all(col)


def test_bad_cant_miss_file_names_the_entry(tmp_path):
    f = tmp_path / "cm.json"
    f.write_text(json.dumps({"rule": {"top_k": 10, "min_probability": 0.02}, "conditions": [{"condition": "Stroke", "danger": "x"}]}))
    with pytest.raises(InputError, match=r"conditions\[0\] needs a non-empty 'source'"):
        load_rule(f)


def test_top_k_columns():
    p = np.array([[0.1, 0.5, 0.2, 0.2, 0.0], [np.nan] * 5])
    cols = top_k_columns(LABELS, p, 3)
    assert list(cols) == top_k_names(3) == ["top_1", "top_2", "top_3", "top_1_probability", "top_2_probability", "top_3_probability"]
    assert list(cols["top_1"]) == ["stroke", ""] and cols["top_1_probability"][0] == 0.5
    assert {cols["top_2"][0], cols["top_3"][0]} == {"Sepsis", "Flu"}
    assert np.isnan(cols["top_1_probability"][1])
    assert list(top_k_columns(LABELS, p, 99)) == top_k_names(5)
    with pytest.raises(InputError, match="--top-k"):
        top_k_columns(LABELS, p, 0)


def test_score_cli_top_k_and_cant_miss_column(tiny_text_bundle, tmp_path):
    from medviz.cli import main

    src = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2, 3], "note": ["fever and cough", "throbbing headache", ""]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", "note", "--top-k", "2"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert [c for c in df.columns if c.startswith(("top_", "prob_"))] == top_k_names(2)
    assert "cant_miss" in df.columns and df.loc[0, "top_1"] == df.loc[0, "prediction"]
    assert df.loc[2, "top_1"] == ""
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", "note"]) == 0
    df = pd.read_csv(out)
    assert any(c.startswith("prob_") for c in df.columns) and "top_1" not in df.columns and "cant_miss" in df.columns
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", "note", "--top-k", "0"]) == 1


def test_top_k_floor_drops_improbable_top_k_entries_only():
    floored = CantMissRule(top_k=3, min_probability=0.05, conditions=RULE.conditions, top_k_floor=0.01)
    p = np.array([0.90, 0.004, 0.003, 0.09, 0.003])  # stroke rank 3 at 0.4 %, sepsis rank 4
    assert [h.label for h in cant_miss(LABELS, p, CantMissRule(3, 0.05, RULE.conditions))] == ["stroke"]  # no floor
    assert cant_miss(LABELS, p, floored) == []  # in the top 3 but under the 1 % floor
    q = np.array([0.88, 0.03, 0.06, 0.02, 0.01])  # stroke rank 3 at 3 % (above the floor), sepsis 6 % (above 5 %)
    assert [(h.label, f"{h.probability:.2f}") for h in cant_miss(LABELS, q, floored)] == [("Sepsis", "0.06"), ("stroke", "0.03")]
    col = cant_miss_column(LABELS, np.vstack([p, q]), floored)
    assert col == ["", "Sepsis (6.0%)|stroke (3.0%)"]
    assert "at 1% or more" in floored.wording()


def test_shipped_floor_is_below_the_probability_rule(tmp_path):
    rule = load_rule()
    assert 0 < rule.top_k_floor < rule.min_probability
    f = tmp_path / "cm.json"
    f.write_text(json.dumps({"rule": {"top_k": 10, "min_probability": 0.02, "top_k_floor": 0.5},
                             "conditions": [{"condition": "Stroke", "danger": "x", "source": "y"}]}))
    with pytest.raises(InputError, match="top_k_floor"):
        load_rule(f)
