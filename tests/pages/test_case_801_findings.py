"""Case page with the 801-condition bundle (no clinical preprocessing, a knowledge-base expert): the expert's findings
by status, hedged ones as uncertain, from the analysis's own reading (the one a scored CSV lists)."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def differential_app(tmp_path, monkeypatch, logged_in_app):
    d = tmp_path / "models"
    d.mkdir()
    (d / "differential-801").symlink_to(ROOT / "models" / "differential-801", target_is_directory=True)
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(d))
    at = logged_in_app()
    assert not at.exception, at.exception
    return at


def test_case_page_lists_the_experts_uncertain_findings(differential_app):
    at = differential_app
    at.text_area(key="case_text").set_value("58M sudden severe headache, vomiting x2. ?neck stiffness. No fever.")
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    title = next(e.label for e in at.expander if e.label.startswith("Findings the knowledge-base expert read"))
    assert title.endswith("2 present, 1 absent, 1 uncertain")
    shown = " ".join(h.value for h in at.html)
    assert "weighed as if present):</b> neck stiffness or tightness" in shown
    assert "Absent (after no / denies / without):</b> fever" in shown
