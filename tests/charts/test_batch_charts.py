"""The Batch page's summary charts come from the model family (ModelFamily.batch_charts), not from a
text/tabular branch in the page."""
from __future__ import annotations

import json

import pandas as pd


def _traces(fig) -> list[str]:
    return [t["type"] for t in json.loads(fig.to_json())["data"]]


def test_text_family_charts_labels_and_probabilities(tiny_text_bundle):
    from medviz.bundle import load_bundle
    from medviz.families import family_for

    bundle = load_bundle(tiny_text_bundle)
    scored = pd.DataFrame({"prediction": [bundle.labels[0], bundle.labels[0], ""],
                           "probability": [0.9, 0.6, float("nan")], "error": ["", "", "note: empty text"]})
    charts = family_for(bundle).batch_charts(bundle, scored)
    assert [k for k, _ in charts] == ["batch_labels", "batch_prob"]
    assert all(_traces(fig) for _, fig in charts)


def test_tabular_family_charts_risk_and_bands(tiny_tabular_bundle):
    from medviz.bundle import load_bundle
    from medviz.families import family_for

    bundle = load_bundle(tiny_tabular_bundle)
    scored = pd.DataFrame({"risk": [0.1, 0.5, 0.9], "risk_band": ["low", "medium", "high"]})
    charts = family_for(bundle).batch_charts(bundle, scored)
    assert [k for k, _ in charts] == ["batch_hist", "batch_bands"]
    cuts = bundle.manifest["risk_bands"]["cut_points"]
    shapes = json.loads(charts[0][1].to_json())["layout"].get("shapes", [])
    assert len(shapes) == len(cuts)  # the band cut-points are drawn


def test_a_family_without_batch_charts_draws_none():
    from medviz.families.base import ModelFamily

    assert ModelFamily.batch_charts(None, None, pd.DataFrame()) == ()  # the base class's default
