"""Model card: required sections, figures from the held-out data, everything escaped."""
from __future__ import annotations

import pytest

from tests.evaluation_fixtures import build_tiny_tabular_bundle
from medviz.bundle import load_bundle
from medviz.modelcard import build_model_card, render_html, section_titles

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def evil_bundle(tmp_path_factory):
    return load_bundle(build_tiny_tabular_bundle(tmp_path_factory.mktemp("mc") / "evil", title=EVIL))


def test_card_has_every_required_section(evil_bundle):
    card = build_model_card(evil_bundle)
    titles = " | ".join(section_titles(card)).lower()
    for needed in ("model facts", "model details", "intended use", "out-of-scope", "inputs", "training and test data",
                   "method", "performance overall and by subgroup", "limitations", "explanation methods",
                   "human oversight", "version history", "audit", "fda cds criterion 4"):
        assert needed in titles, needed


def test_card_reports_test_figures_with_cis_and_subgroups(evil_bundle):
    card = build_model_card(evil_bundle)
    perf = next(s for s in card.sections if s.key == "performance")
    facts = dict(next(b for b in perf.blocks if b.kind == "facts").content)
    assert "95% CI" in facts["AUC"] and "95% CI" in facts["Calibration slope (ideal 1)"]
    assert any(b.kind == "table" and "AUC (95% CI)" in b.content.columns for b in perf.blocks)  # age bands
    inputs = next(s for s in card.sections if s.key == "inputs")
    table = next(b for b in inputs.blocks if b.kind == "table").content
    assert list(table["unit"]) == ["years", "mg/dL"]
    method = dict(next(s for s in card.sections if s.key == "method").blocks[0].content)
    assert method["Why this threshold"] == "chosen for the tests"


def test_html_is_standalone_and_escaped(evil_bundle):
    html = render_html(build_model_card(evil_bundle))
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html  # no external resources


def test_text_card_mentions_attention_limits(tiny_text_bundle):
    card = build_model_card(load_bundle(tiny_text_bundle))
    expl = next(s for s in card.sections if s.key == "explanations")
    assert any("not a faithful explanation" in i for i in expl.blocks[0].content)
    perf = next(s for s in card.sections if s.key == "performance")
    assert any(b.kind == "table" and "diagnosis" in b.content.columns for b in perf.blocks)


def test_text_card_reports_conformal_out_of_scope_and_robustness(tiny_clinical_bundle):
    b = load_bundle(tiny_clinical_bundle)
    card = build_model_card(b)
    safety = next(s for s in card.sections if s.key == "safety")
    facts = dict(safety.blocks[0].content)
    cov = b.manifest["metrics"]["test"]["conformal"]["coverage"]
    assert f"coverage {cov:.1%}" in facts["Conformal prediction sets"]
    assert b.manifest["out_of_scope"]["method"] in facts["Out-of-scope flag"]
    table = next(bl.content for bl in safety.blocks if bl.kind == "table")
    rob = b.manifest["metrics"]["robustness"]
    values = dict(zip(table["Measure"], table["Value"]))
    assert values["Top-3 accuracy (in-scope vignettes)"] == f"{rob['top3_accuracy']:.1%}"
    assert values["In-scope vignettes wrongly flagged"] == f"{rob['in_scope_flagged']:.1%}"
    assert "Clinical safety" in render_html(card)


def test_tabular_card_has_no_text_safety_section(tiny_tabular_bundle):
    card = build_model_card(load_bundle(tiny_tabular_bundle))
    assert all(s.key != "safety" for s in card.sections)
