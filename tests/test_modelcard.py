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


def test_card_follows_the_language_and_keeps_bundle_text(evil_bundle):
    """Issue 14: headings and fixed sentences in the session's language, in the page and the download;
    the bundle's own text (title, labels, manifest prose) as written."""
    from medviz.i18n import use_language

    english = build_model_card(evil_bundle)
    with use_language("zh_CN"):
        chinese = build_model_card(evil_bundle)
    assert chinese.language == "zh_CN" and english.language == "en"
    assert [s.key for s in chinese.sections] == [s.key for s in english.sections]
    for en, zh in zip(english.sections, chinese.sections):
        assert en.title != zh.title, en.title  # every heading translated
        assert en.refs == zh.refs  # citations stay as written
    titles = section_titles(chinese)
    assert "模型概况（一页摘要）" in titles and "人工监督" in titles and "局限性、失效模式和未经检验的人群" in titles
    facts = dict(next(s for s in chinese.sections if s.key == "details").blocks[0].content)
    assert facts["名称"] == evil_bundle.name and facts["标题"] == EVIL  # bundle text unchanged
    assert facts["标签"] == ", ".join(evil_bundle.labels)
    perf = next(s for s in chinese.sections if s.key == "performance")
    assert any(b.kind == "facts" and "校准斜率（理想值 1）" in dict(b.content) for b in perf.blocks)
    # the download is in the card's language even when rendered outside it
    html = render_html(chinese)
    assert '<html lang="zh-CN">' in html and "仅供决策支持" in html and "由 medviz 于" in html
    assert "Decision support for clinicians" not in html and "Model details" not in html
    assert "<script>" not in html  # still escaped
    assert '<html lang="en">' in render_html(english) and "模型" not in render_html(english)


def test_card_shows_the_manifest_changelog_newest_first_and_escaped(tmp_path):
    import json

    path = build_tiny_tabular_bundle(tmp_path / "logged")
    m = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    m["changelog"] = ["0.2.0: reading rules " + EVIL, "0.1.0: first release"]
    (path / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    card = build_model_card(load_bundle(path))
    versions = next(s for s in card.sections if s.key == "versions")
    assert next(b for b in versions.blocks if b.kind == "list").content == m["changelog"]
    html = render_html(card)
    assert "0.1.0: first release" in html and "<script" not in html
    assert html.index("0.2.0: reading rules") < html.index("0.1.0: first release")
    plain = next(s for s in build_model_card(load_bundle(build_tiny_tabular_bundle(tmp_path / "plain"))).sections
                 if s.key == "versions")
    assert not any(b.kind == "list" for b in plain.blocks)
