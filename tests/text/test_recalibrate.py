"""Product recalibration (issue 15): the network x knowledge-base expert product gets its own temperature,
in ``train text --kb`` and in ``python -m medviz calibrate`` for an existing bundle."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medviz import metrics as M
from medviz.cli import main
from medviz.errors import InputError
from medviz.text.recalibrate import fit_product_calibration
from medviz.text.synth.bayes import combine
from tests.text.test_kb_bayes import CLIN, SYN


def _overconfident(n=600, c=5, seed=0):
    """A network and an expert that each know the answer 60 % of the time and multiply into an over-sharp product."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    def part(scale):
        z = rng.normal(0, 1, (n, c))
        z[np.arange(n), y] += rng.normal(1.0, 1.0, n)
        return z * scale
    from scipy.special import softmax
    return softmax(part(3.0), axis=1), part(3.0), y


def test_fitted_temperature_lowers_ece_and_sets_conformal_on_the_calibrated_product():
    net, kb_log, y = _overconfident()
    fit = fit_product_calibration(net, kb_log, 1.0, y, 0.9)
    assert fit.temperature > 1.0  # the product was over-confident: the temperature softens it
    assert fit.after["ece"] < fit.before["ece"] and fit.after["nll"] <= fit.before["nll"] + 1e-9
    assert np.allclose(fit.probabilities, combine(net, kb_log, 1.0, fit.temperature))
    member = (1 - fit.probabilities) <= fit.conformal.threshold + 1e-12
    assert member[np.arange(len(y)), y].mean() >= 0.9
    # Ranking never changes with a temperature.
    assert (fit.probabilities.argmax(1) == combine(net, kb_log, 1.0).argmax(1)).all()
    section = fit.manifest_section("calibration split")
    assert section["temperature"] == fit.temperature and section["fitted_on"] == "calibration split"


def test_bad_shapes_are_a_clear_error():
    net, kb_log, y = _overconfident(20)
    with pytest.raises(InputError, match="matching"):
        fit_product_calibration(net, kb_log[:, :3], 1.0, y, 0.9)


@pytest.fixture(scope="module")
def expert_bundle(tmp_path_factory, train_tiny_kb_bundle):
    """A 3-condition bundle trained with a knowledge-base expert on generated cases (seconds; tests/conftest.py)."""
    return train_tiny_kb_bundle(tmp_path_factory.mktemp("kbbundle"), SYN, CLIN, epochs=4, with_test=True)


def test_train_with_kb_records_and_applies_the_product_temperature(expert_bundle):
    from medviz.bundle import load_bundle
    from medviz.text.analyse import analyse_texts
    from medviz.text.predict import TextPredictor
    from medviz.text.synth.bayes import expert_for

    path, _ = expert_bundle
    m = json.loads((path / "manifest.json").read_text())
    cal = m["knowledge_base_expert"]["calibration"]
    assert cal["temperature"] > 0 and cal["fitted_on"] == "calibration split" and cal["n"] == m["training"]["n_calibration"]
    assert "product_before_recalibration" in m["metrics"]["test"]
    bundle = load_bundle(path)
    pred = TextPredictor.from_bundle(bundle)
    texts = ["fever and cough for 3 days", "A 30-year-old woman with a headache and vomiting"]
    expert, w = expert_for(bundle)
    shown = analyse_texts(pred, texts).probabilities
    expected = combine(pred.predict(texts).probabilities, expert.log_scores(texts), w, cal["temperature"])
    assert np.allclose(shown, expected, atol=1e-6)


def test_calibrate_command_redraws_the_split_and_rewrites_the_bundle(expert_bundle, tmp_path, capsys):
    import shutil

    from medviz.bundle import load_bundle

    path, d = expert_bundle
    copy = tmp_path / "b"
    shutil.copytree(path, copy)
    before = json.loads((copy / "manifest.json").read_text())
    # Undo the training-time calibration, as in a bundle made before recalibration existed.
    del before["knowledge_base_expert"]["calibration"]
    (copy / "manifest.json").write_text(json.dumps(before))
    assert main(["calibrate", str(copy), "--cases", str(d / "train.jsonl"), "--training-file",
                 "--test", str(d / "test.jsonl")]) == 0
    assert "product temperature" in capsys.readouterr().out
    after = json.loads((copy / "manifest.json").read_text())
    trained = json.loads((path / "manifest.json").read_text())
    # The same calibration split is drawn again: the same temperature and conformal threshold as at training time.
    assert np.isclose(after["knowledge_base_expert"]["calibration"]["temperature"],
                      trained["knowledge_base_expert"]["calibration"]["temperature"], rtol=1e-3)  # same texts; float32 noise only
    assert np.isclose(after["conformal"]["threshold"], trained["conformal"]["threshold"], atol=1e-5)
    b = load_bundle(copy)  # every file still matches its SHA-256
    labels = b.labels
    probs = b.test_predictions[[f"prob_{lab}" for lab in labels]].to_numpy()
    y = b.test_predictions["y_true"].map({lab: i for i, lab in enumerate(labels)}).to_numpy()
    assert np.isclose(after["metrics"]["test"]["ece"], M.top_label_ece(y, probs), atol=1e-3)


def test_calibrate_command_tunes_the_expert_weight_on_development_cases(expert_bundle, tmp_path, capsys):
    import shutil

    from medviz.bundle import load_bundle
    from medviz.text.synth.bayes import expert_for
    from medviz.text.train import EXPERT_WEIGHTS

    path, d = expert_bundle
    copy = tmp_path / "b"
    shutil.copytree(path, copy)
    dev = tmp_path / "dev.csv"
    pd.DataFrame({"text": ["fever, cough and sharp chest pain", "30F headache, vomiting, neck stiffness, fever",
                           "severe headache and vomiting", "not a condition of the bundle"],
                  "label": ["Pneumonia", "Meningitis", "Migraine", "Gout"]}).to_csv(dev, index=False)
    assert main(["calibrate", str(copy), "--cases", str(d / "train.jsonl"), "--training-file",
                 "--tune-expert-weight", str(dev)]) == 0
    out = capsys.readouterr().out
    assert "knowledge-base expert weight" in out and "on 3 development cases" in out and "product temperature" in out
    meta = json.loads((copy / "manifest.json").read_text())["knowledge_base_expert"]
    search = meta["weight_search"]
    assert search["cases"] == "dev.csv" and search["n_cases"] == 3 and [r["weight"] for r in search["grid"]] == list(EXPERT_WEIGHTS)
    best = max(search["grid"], key=lambda r: (r["top3"], r["top10"], -r["weight"]))
    assert meta["weight"] == best["weight"] == expert_for(load_bundle(copy))[1]
    none = tmp_path / "none.csv"
    pd.DataFrame({"text": ["x", "y"], "label": ["Gout", "Asthma"]}).to_csv(none, index=False)
    assert main(["calibrate", str(copy), "--cases", str(d / "train.jsonl"), "--training-file",
                 "--tune-expert-weight", str(none)]) == 1
    assert "none of the development cases' labels" in capsys.readouterr().err


def test_calibrate_command_refuses_the_wrong_file_and_a_bundle_without_expert(expert_bundle, tiny_text_bundle, tmp_path, capsys):
    path, d = expert_bundle
    small = tmp_path / "small.jsonl"
    pd.read_json(d / "train.jsonl", lines=True).sample(45, random_state=0).to_json(small, orient="records", lines=True)
    assert main(["calibrate", str(path), "--cases", str(small), "--training-file"]) == 1
    assert "not the file the bundle was trained on" in capsys.readouterr().err
    assert main(["calibrate", str(tiny_text_bundle), "--cases", str(small)]) == 1
    assert "no knowledge-base expert" in capsys.readouterr().err


def test_model_card_names_the_product_temperature(expert_bundle):
    from medviz.bundle import load_bundle
    from medviz.modelcard import build_model_card

    path, _ = expert_bundle
    card = build_model_card(load_bundle(path))
    facts = dict(next(s for s in card.sections if s.key == "method").blocks[0].content)
    assert "temperature" in facts["Product calibration"] and "calibration split" in facts["Product calibration"]
