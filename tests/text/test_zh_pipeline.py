"""Chinese free text (issue 14) through a tiny bilingual bundle built in tmp_path: the Han-character
tokenizer saves and loads inside the .keras file, tokens map to attention positions, and a Chinese
note gets the same outputs through the Case page function, the Batch page function and
``python -m medviz score``; an English-only bundle refuses Chinese with a plain message."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medviz.errors import InputError

ZH_TEXT = {
    "flu": ["发烧、咳嗽、浑身疼", "发热伴咳嗽，全身酸痛", "男，40岁，发热、咳嗽3天", "我发烧，嗓子疼，浑身没劲", "高热、寒战、咳嗽"],
    "migraine": ["单侧头痛伴恶心，畏光", "女，30岁，头痛、恶心、呕吐", "我头疼得厉害，怕光，想吐", "搏动性头痛，眼前闪光", "剧烈头痛伴呕吐"],
    "rash": ["皮肤瘙痒，起红疹", "我身上起疹子，很痒", "双上肢皮疹伴瘙痒", "皮肤发红、脱皮、发痒", "皮疹逐渐扩散，瘙痒"],
}
NOTES = pd.DataFrame({
    "id": ["z1", "z2", "z3", "z4", "e1", "x1"],
    "note": ["男，45岁，发热、咳嗽3天。否认头痛及皮疹。", "女，28岁，头痛伴恶心，疑似偏头痛，无发热。",
             "皮肤瘙痒、起红疹2天，既往湿疹病史，母亲有哮喘。", "我家孩子发烧、咳嗽，有2天了。没有起疹子。",
             "fever and cough for three days", "😀😀"],
})


@pytest.fixture(scope="module")
def zh_bundle(tmp_path_factory):
    from medviz.text.model import TextModelConfig
    from medviz.text.train import TextTrainingSpec, train_text
    from tests.conftest import tiny_text_frame

    zh = pd.DataFrame([{"text": t, "label": lab} for lab, ts in ZH_TEXT.items() for t in ts])
    df = pd.concat([tiny_text_frame(), zh] * 2, ignore_index=True)
    spec = TextTrainingSpec(
        name="tiny-zh", text_column="text", label_column="label", seed=2, epochs=8, patience=8,
        calibration_fraction=0.3, refit_epochs=8, conformal_coverage=0.9, oos_quantile=0.9,
        config=TextModelConfig(min_note_count=1, max_tokens=400, sequence_length=16, embed_dim=8, rnn_units=6,
                               attention_units=6, wide=True, tokenizer="han"),
        provenance={"data_source": "synthetic sentences written for the tests"},
    )
    return train_text(spec, df, tmp_path_factory.mktemp("bundles") / "tiny-zh", test_df=df)


@pytest.fixture(scope="module")
def predictor(zh_bundle):
    from medviz.bundle import load_bundle
    from medviz.text.predict import TextPredictor

    return TextPredictor.from_bundle(load_bundle(zh_bundle))


def test_han_tokenizer_roundtrip_and_tokens(zh_bundle, predictor):
    """Saved and loaded in a fresh graph: each Han character a token, English unchanged, ids as the model's."""
    import keras

    from medviz.text.layers import standardize_text, standardize_text_han
    from medviz.text.predict import vectorizer_ids

    bundle = predictor.bundle
    assert bundle.manifest["inputs"]["languages"] == ["en", "zh"]
    toks = predictor.tokens("发热3天，cough!")
    assert [t.text for t in toks] == ["发", "热", "3", "天", "cough"]
    assert [(t.start, t.end) for t in toks] == [(0, 1), (1, 2), (2, 3), (3, 4), (5, 10)]
    vocab = bundle.model.get_layer("vectorizer").get_vocabulary()
    for text in ["发热3天，cough!", "皮肤瘙痒，起红疹", "Fever, 38.9 and COUGH"]:
        ids = vectorizer_ids(bundle, [text])[0]
        expect = [vocab.index(t.normalized) if t.normalized in vocab else 1 for t in predictor.tokens(text)]
        assert list(ids[: len(expect)]) == expect[:16]
    english = ["Fever, cough & 38.9 temp!!", "I've had a rash"]
    a = keras.layers.TextVectorization(standardize=standardize_text, output_mode="int", vocabulary=["fever", "cough", "38", "9", "rash", "i"])
    b = keras.layers.TextVectorization(standardize=standardize_text_han, output_mode="int", vocabulary=["fever", "cough", "38", "9", "rash", "i"])
    np.testing.assert_array_equal(a(english).numpy(), b(english).numpy())
    reloaded = keras.saving.load_model(bundle.path / "model.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded(np.array(["发热咳嗽"]))[0].numpy(), bundle.model(np.array(["发热咳嗽"]))[0].numpy(), atol=1e-6)


def test_chinese_case_reads_and_attends(predictor):
    from medviz.text.analyse import analyse_case

    case = analyse_case(predictor, "男，45岁，发热、咳嗽3天。否认头痛及皮疹。")
    assert case.ranked[0][0] == "flu"
    assert case.findings("present") == ("发热", "咳嗽") and case.findings("absent") == ("头痛", "皮疹")
    assert case.model_text == "男，45岁，发热、咳嗽3天。否认头痛及皮疹。"  # preprocessing none: read as written
    positions = [t.position for t in case.tokens]
    assert positions == list(range(len(case.tokens))) and case.attention[: len(positions)].sum() == pytest.approx(1.0, abs=1e-4)
    assert "发" in [t.text for t in case.tokens]
    assert "very short text" not in case.warning_codes  # characters count as the words they are


@pytest.fixture(scope="module")
def single(predictor):
    from medviz.text.analyse import analyse_case

    out = {}
    for nid, note in zip(NOTES["id"], NOTES["note"]):
        try:
            out[nid] = (analyse_case(predictor, note), None)
        except InputError as exc:
            out[nid] = (None, str(exc))
    return out


def _check(frame, single, labels):
    for _, row in frame.iterrows():
        case, err = single[row["id"]]
        if case is None:
            assert row["error"].startswith("note: ")
            continue
        np.testing.assert_allclose([float(row[f"prob_{lab}"]) for lab in labels], case.probabilities, atol=1e-6)
        assert row["prediction"] == case.ranked[0][0] and row["prediction_set"] == "|".join(case.prediction_set)
        for status in ("present", "absent", "uncertain"):
            assert (row[f"findings_{status}"] if isinstance(row[f"findings_{status}"], str) else "") == "|".join(case.findings(status))


def test_same_outputs_case_batch_and_cli(zh_bundle, predictor, single, tmp_path):
    from medviz.cli import main
    from medviz.scoring import make_scorer, score_upload

    z3 = single["z3"][0]
    assert single["x1"][0] is None and z3.findings("present") == ("皮肤瘙痒",)
    assert z3.findings("historical") == ("湿疹",) and z3.findings("family/other person") == ("哮喘",)
    bundle = predictor.bundle
    result = score_upload(bundle, NOTES.to_csv(index=False).encode("utf-8"), text_column="note",
                          scorer=make_scorer(bundle, text_column="note", predictor=predictor))
    import io

    _check(pd.read_csv(io.BytesIO(result.csv), dtype=str, keep_default_na=False), single, bundle.labels)
    src, out = tmp_path / "notes.csv", tmp_path / "scored.csv"
    NOTES.to_csv(src, index=False)
    assert main(["score", str(zh_bundle), str(src), "-o", str(out), "--text-column", "note"]) == 0
    _check(pd.read_csv(out, dtype=str, keep_default_na=False), single, bundle.labels)


def test_english_only_bundle_says_it_reads_english_only(tiny_clinical_bundle):
    from medviz.bundle import load_bundle
    from medviz.text.analyse import ENGLISH_ONLY, analyse_case, analyse_texts
    from medviz.text.predict import TextPredictor

    p = TextPredictor.from_bundle(load_bundle(tiny_clinical_bundle))
    with pytest.raises(InputError, match="reads English only"):
        analyse_case(p, "发热三天，咳嗽，咳黄痰，胸痛")
    batch = analyse_texts(p, ["发热三天，咳嗽", "fever and cough 发热"])
    assert batch.error_codes()[0] == ENGLISH_ONLY.code
    assert "Chinese characters in the text were not read" in batch.warning_codes()[1]


def test_a_text_without_words_names_both_scripts_for_a_bundle_that_reads_chinese(predictor, tiny_clinical_bundle):
    """"12345" on a bundle that reads English and Chinese said the model "reads English letters" (a newcomer on
    differential-801, session 13); an English-only bundle still says so."""
    from medviz.bundle import load_bundle
    from medviz.text.analyse import UNREADABLE, UNREADABLE_ZH, analyse_texts
    from medviz.text.predict import TextPredictor

    assert analyse_texts(predictor, ["12345", "😀😀"]).error_codes() == [UNREADABLE_ZH.code] * 2
    english = TextPredictor.from_bundle(load_bundle(tiny_clinical_bundle))
    assert analyse_texts(english, ["12345"]).error_codes() == [UNREADABLE.code]
    assert "Chinese characters" in UNREADABLE_ZH.message and "Chinese" not in UNREADABLE.message
