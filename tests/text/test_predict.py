import numpy as np
import pytest

from medviz.bundle import load_bundle
from medviz.errors import InputError
from medviz.text.analyse import analyse_case, analyse_texts
from medviz.text.predict import TextPredictor, ranked, vectorizer_ids


@pytest.fixture(scope="module")
def predictor(tiny_text_bundle):
    return TextPredictor.from_bundle(load_bundle(tiny_text_bundle))


TEXTS = ["fever and cough", "a", "my head hurts and light bothers me, nausea too", "x " * 40, "发烧", ""]


def test_probabilities_sum_to_one(predictor):
    p = predictor.predict(TEXTS).probabilities
    assert p.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert (p >= 0).all()


def test_attention_sums_to_one_on_real_tokens_and_zero_on_padding(predictor):
    ids = vectorizer_ids(predictor.bundle, TEXTS)
    att = predictor.predict(TEXTS).attention
    assert att.shape == (len(TEXTS), 40)  # "x " * 40 is read whole: its 40 words get attention
    long = TEXTS.index("x " * 40)
    assert att[long].sum() == pytest.approx(1.0, abs=1e-5) and (att[long] > 0).all()
    att = att[:, : predictor.seq_len]
    real = ids != 0
    for row in range(len(TEXTS)):
        if row == long:
            continue
        if real[row].any():
            assert att[row][real[row]].sum() == pytest.approx(1.0, abs=1e-5)
        else:  # nothing to attend to: all zeros, never NaN
            assert att[row].sum() == 0.0
        assert np.all(att[row][~real[row]] == 0.0)
    assert not np.isnan(att).any()


def test_python_tokens_match_the_model(predictor):
    vocab = predictor.bundle.model.get_layer("vectorizer").get_vocabulary()
    for text in ["Fever, cough (3/7) & T38.9!", "no-fever; SOB", "<script>alert(1)</script>"]:
        ids = vectorizer_ids(predictor.bundle, [text])[0]
        toks = predictor.tokens(text)
        n = min(len(toks), predictor.seq_len)
        assert int((ids != 0).sum()) == n
        for tok, i in zip(toks[:n], ids[:n]):
            assert (vocab[i] == tok.normalized) if tok.known else (vocab[i] == "[UNK]")
            assert text[tok.start : tok.end].lower() == tok.normalized


def test_compiled_matches_eager(predictor):
    import tensorflow as tf

    eager = predictor.bundle.model(tf.constant(TEXTS))[0].numpy()
    np.testing.assert_allclose(predictor.predict(TEXTS).probabilities, eager, atol=1e-6)


def test_ranked_is_sorted(predictor):
    p = predictor.predict(["fever and cough"]).probabilities[0]
    t = ranked(p, predictor.bundle.labels)
    assert list(t["rank"]) == [1, 2, 3]
    assert t["probability"].is_monotonic_decreasing
    assert t.iloc[0]["label"] == predictor.bundle.labels[int(p.argmax())]


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_input_is_refused(predictor, text):
    with pytest.raises(InputError, match="empty"):
        analyse_case(predictor, text)


def test_input_warnings(predictor):
    codes = analyse_texts(predictor, ["fever", "zzz qqq www fever", "fever " * 30, "cough " * 20_000]).warning_codes()
    assert "very short text" in codes[0]
    assert "unknown words" in codes[1]
    assert "not read" not in codes[2]  # 30 words > the 12-word window: read whole in overlapping windows
    assert "text cut at 20,000 characters" in codes[3]
    with pytest.raises(InputError, match="English"):
        analyse_case(predictor, "发烧了 😷")


def test_unknown_share_from_the_compiled_call_matches_the_separate_pass(predictor):
    from medviz.text.predict import unknown_shares

    texts = ["fever and cough", "zzqx wibble fever", "", "!!!", "héllo wörld cough", "word " * 200, "[UNK] unk"]
    got = predictor.predict(texts).unknown
    assert got is not None  # the trimmed graph is in use and provides it
    np.testing.assert_allclose(got, unknown_shares(predictor.bundle.model, texts), atol=1e-6)
    # large batches are sorted by length inside predict: the shares must come back in input order
    many = texts * 400
    np.testing.assert_allclose(predictor.predict(many, batch_size=64).unknown, np.tile(got, 400), atol=1e-6)
