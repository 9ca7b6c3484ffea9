"""Speed paths of the differential (issue 15) give the same numbers as the plain ones."""
from __future__ import annotations

import numpy as np
import pytest

from medviz.text.synth.bayes import KnowledgeBaseBayes
from tests.text.test_kb_bayes import CLIN, SYN
from tests.text.test_synth import _kb


def test_bag_of_words_inference_path_equals_the_training_path():
    import keras

    from medviz.text.layers import BagOfWordsLogits

    rng = np.random.default_rng(0)
    layer = BagOfWordsLogits(7, 50, scale=3.0)
    layer.build((None, 12))
    layer.table.assign(rng.normal(size=(50, 7)).astype("float32"))
    ids = rng.integers(0, 50, (9, 12))
    ids[:, 8:] = 0  # padding
    ids[4] = 0  # an empty row
    ids[5, :6] = 17  # a repeated word counts each time
    ids[8] = 0  # an empty last row: still a row of zeros (num_segments), not dropped
    train = keras.ops.convert_to_numpy(layer(ids, training=True))
    infer = keras.ops.convert_to_numpy(layer(ids, training=False))
    np.testing.assert_allclose(infer, train, atol=1e-5)
    np.testing.assert_allclose(infer[4], 0)
    assert infer.shape == (9, 7) and not infer[8].any()


def test_expert_reads_each_distinct_text_once_with_the_same_scores(monkeypatch):
    b = KnowledgeBaseBayes(_kb(), SYN, CLIN)
    texts = ["67M pyrexia and meningism, no cough", "headache", "67M pyrexia and meningism, no cough", "",
             "A 30-year-old woman with vomiting"]
    one_by_one = np.vstack([b.log_scores([t]) for t in texts])
    calls = []
    read = b.read
    monkeypatch.setattr(b, "read", lambda t: calls.append(t) or read(t))
    np.testing.assert_allclose(b.log_scores(texts), one_by_one)
    assert len(calls) == 4  # the repeated text was read once
    assert b.log_scores([]).shape == (0, len(b.labels))


def test_batch_with_repeated_texts_equals_each_text_alone(tiny_text_bundle):
    from medviz.bundle import load_bundle
    from medviz.text.analyse import analyse_texts
    from medviz.text.predict import TextPredictor

    pred = TextPredictor.from_bundle(load_bundle(tiny_text_bundle))
    texts = ["fever and cough", "itchy red rash", "fever and cough", "", "headache with nausea", "itchy red rash"]
    batch = analyse_texts(pred, texts)
    for i, t in enumerate(texts):
        alone = analyse_texts(pred, [t])
        np.testing.assert_allclose(batch.probabilities[i], alone.probabilities[0], atol=1e-6)
        assert batch.prediction_set(i) == alone.prediction_set(0)
        if batch.ok[i]:
            assert batch.top[i] == int(np.argmax(batch.probabilities[i]))
            assert list(batch.row_order(i)) == list(np.argsort(-batch.probabilities[i], kind="stable"))
    assert batch.prediction_set_texts()[0] == "|".join(batch.prediction_set(0))
