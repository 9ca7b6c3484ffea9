"""Records (issue 17, item 10): risk-model cases are saved like text cases, outcome fields start empty,
a missing reason keeps the form and says what is missing, every save is confirmed, and an invalid
measurement names the field and why instead of the result vanishing."""
from __future__ import annotations

import shutil

import pytest

from medviz.store import cases, get_engine
from medviz.ui.cases import outcome_problems
from medviz.ui.common import plain

OTHER = "Other"


@pytest.fixture()
def tab_app(tiny_tabular_bundle, tmp_path, monkeypatch, logged_in_app):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(tiny_tabular_bundle, models / "tiny-tabular")
    monkeypatch.setenv("MEDVIZ_MODELS_DIR", str(models))
    at = logged_in_app(timeout=120)
    assert not at.exception, at.exception
    return at


def _button(at, label):
    return next(b for b in at.button if b.label == label)


def test_out_of_range_input_names_the_field_and_keeps_the_form(tab_app):
    at = tab_app
    at.number_input(key="case_tab_in_glu").set_value(2000.0)
    _button(at, "Estimate risk").click()
    at.run()
    assert not at.exception
    assert not at.metric  # not scored ...
    message = at.error[0].value
    assert "Not scored" in message and "Glucose" in message and "impossible" in message and "1500" in message, message
    assert at.number_input(key="case_tab_in_glu").value == 2000.0  # ... and the entry is still there to correct


def test_risk_case_saved_then_outcome_recorded_with_checks(tab_app):
    at = tab_app
    at.number_input(key="case_tab_in_glu").set_value(150.0)
    at.number_input(key="case_tab_in_bmi").set_value(31.0)
    at.number_input(key="case_tab_in_age").set_value(45)
    _button(at, "Estimate risk").click()
    at.run()
    assert at.metric and not at.exception
    _button(at, "💾 Save case for outcome feedback").click()
    at.run()
    assert not at.exception
    saved = [s.value for s in at.success if "Saved as case" in s.value]
    assert saved, [s.value for s in at.success]
    mine = cases.list_cases(get_engine(), created_by="tester")
    assert len(mine) == 1 and mine[0].kind == "form" and mine[0].risk is not None
    assert mine[0].prediction["labels"] == ["No", "Yes"]
    case_id = mine[0].case_id
    assert plain(case_id) in saved[0]  # shown escaped (user-visible text is never Markdown)

    at.switch_page("pages/history.py")
    at.run()
    assert not at.exception
    assert at.selectbox(key="history_confirmed").value is None  # no default outcome
    assert at.radio(key="history_decision").value is None  # no default decision
    at.selectbox(key="history_confirmed").select("Yes")
    at.radio(key="history_decision").set_value("override")
    _button(at, "Record outcome").click()
    at.run()
    assert not at.exception
    assert any(plain("Reason: required because you overrode the model") in e.value for e in at.error)
    assert at.selectbox(key="history_confirmed").value == "Yes"  # the form kept what was entered
    assert at.radio(key="history_decision").value == "override"
    assert cases.get_case(get_engine(), case_id).outcomes == ()
    at.text_area(key="history_reason").input("glucose tolerance test was negative")
    _button(at, "Record outcome").click()
    at.run()
    assert not at.exception
    assert any(plain(f"Outcome recorded for case {case_id}") in s.value for s in at.success)
    outcome = cases.get_case(get_engine(), case_id, decrypt=True).outcomes[-1]
    assert (outcome.confirmed, outcome.decision) == ("Yes", "override")
    assert at.selectbox(key="history_confirmed").value is None  # emptied for the next outcome


def test_outcome_problems_lists_every_missing_field():
    assert outcome_problems(None, "", None, "", other_choice=OTHER) == [
        "Confirmed diagnosis / outcome: choose one (or 'Other' and type it)",
        "Your decision about the model's output: choose agreed, disagreed or overrode",
    ]
    assert outcome_problems(OTHER, " ", "disagree", "", other_choice=OTHER) == [
        "If other, what was confirmed: type the confirmed diagnosis",
        "Reason: required because you disagreed with the model — say why",
    ]
    assert outcome_problems("flu", "", "agree", "", other_choice=OTHER) == []
