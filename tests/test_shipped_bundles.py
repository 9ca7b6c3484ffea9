"""The bundles committed under models/ load, verify and predict with this version of the code."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medviz.bundle import load_bundle

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p for p in (ROOT / "models").iterdir() if (p / "manifest.json").exists())


def test_there_are_shipped_bundles():
    assert {p.name for p in SHIPPED} >= {"symptom-diagnosis", "pima-diabetes"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_bundle_loads_and_predicts(path):
    bundle = load_bundle(path)  # checksums, labels, safe-mode load
    if bundle.is_text:
        from medviz.text.analyse import analyse_case
        from medviz.text.predict import TextPredictor

        predictor = TextPredictor.from_bundle(bundle)  # refuses a preprocessing id this code lacks
        case = analyse_case(predictor, "I have had a runny nose, sneezing and a mild sore throat for two days")
        assert case.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
        # a guard against a broken bundle, not a performance claim: the 801-condition bundle's synthetic
        # test split has top-1 0.498 / top-3 0.691 (2.1.0; hundreds of look-alike conditions), the 22-condition one 0.94
        t = bundle.manifest["metrics"]["test"]
        assert t["top1_accuracy"] > 0.4 and t.get("top3_accuracy", 1.0) > 0.6
    else:
        from medviz.tabular.predict import TabularPredictor

        predictor = TabularPredictor.from_bundle(bundle)
        row = np.array([[s.median for s in predictor.specs]], dtype=float)  # a typical patient
        risk = predictor.predict(row)
        assert 0.0 < float(risk[0]) < 1.0
