"""Cross-fitted calibration and the wide (bag-of-words) path of the text model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import tiny_text_frame


@pytest.fixture(scope="module")
def crossfit_bundle(tmp_path_factory):
    from medviz.text.model import TextModelConfig
    from medviz.text.train import TextTrainingSpec, train_text

    df = pd.concat([tiny_text_frame()] * 2, ignore_index=True)
    spec = TextTrainingSpec(
        name="tiny-crossfit", text_column="text", label_column="label", seed=5, epochs=3, cross_fit_folds=2,
        lr_schedule="cosine", learning_rate=0.01, preprocessing="clinical",
        config=TextModelConfig(min_note_count=1, max_tokens=200, sequence_length=12, embed_dim=8, rnn_units=6, attention_units=6, wide=True),
        provenance={"data_source": "synthetic sentences written for the tests"},
    )
    return train_text(spec, df, tmp_path_factory.mktemp("bundles") / "tiny-crossfit", test_df=tiny_text_frame())


def test_crossfit_calibrates_on_every_training_row(crossfit_bundle):
    from medviz.bundle import load_bundle

    b = load_bundle(crossfit_bundle)
    m = b.manifest
    n_rows = 2 * len(tiny_text_frame())
    assert m["training"]["n_train"] == n_rows
    assert m["training"]["n_calibration"] == n_rows
    assert m["training"]["cross_fit_folds"] == 2
    assert m["calibration"]["fitted_on"] == "2-fold out-of-fold predictions"
    assert m["conformal"]["n_calibration"] == n_rows
    assert m["metrics"]["calibration"]["n"] == n_rows
    assert m["architecture"]["wide"] is True and "wide head" in m["architecture"]["summary"]


def test_wide_model_outputs_are_well_formed(crossfit_bundle):
    from medviz.bundle import load_bundle
    from medviz.text.predict import TextPredictor

    b = load_bundle(crossfit_bundle)
    pred = TextPredictor.from_bundle(b).predict(["fever and cough for three days", "", "zzz qqq"])
    np.testing.assert_allclose(pred.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.isfinite(pred.probabilities).all()  # a text with no known word must not give NaN
    real = pred.attention[0] > 0
    assert pytest.approx(pred.attention[0].sum(), abs=1e-5) == 1.0 and real.sum() == 6


def test_bag_of_words_layer_is_a_normalised_sum_and_safe_on_empty_rows():
    import keras

    from medviz.text.layers import BagOfWordsLogits

    layer = BagOfWordsLogits(2, 5)
    layer.build((None, 4))
    layer.table.assign(np.arange(10, dtype="float32").reshape(5, 2))
    out = keras.ops.convert_to_numpy(layer(np.array([[1, 2, 0, 0], [0, 0, 0, 0], [3, 3, 3, 3]])))
    np.testing.assert_allclose(out[0], (np.array([2, 3]) + np.array([4, 5])) / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(out[1], [0, 0])
    np.testing.assert_allclose(out[2], 4 * np.array([6, 7]) / 2, rtol=1e-6)
