"""Import a text classifier trained outside medviz into a text bundle.

The saved bundle model is::

    strings (N,) ─► [KerasTokenizerVectorizer, when the model reads token ids] ─► the user's model up to
    its logits ─► calibration (binary: PlattScaling + [0, z]; multiclass: TemperatureScaling) ─►
    outputs [probabilities (N, C), attention (N, L) all zero, logits (N, C)]

i.e. the text family's three outputs, so every page and command serves it like a trained bundle.
Calibration, the conformal threshold and the out-of-scope threshold are fitted on the calibration
part of the labelled file with the same functions ``medviz.text.train`` uses; the test part gives
``metrics.test`` and ``test_predictions.csv``.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from medviz.errors import columns_hint, line_numbers
from medviz import metrics as M
from medviz.bundle import TASK_TEXT, save_bundle, sha256_file
from medviz.importer.core import (
    ImportOptions,
    check_width,
    clean_labels,
    logits_tensor,
    output_head,
    provenance,
    split_labelled,
    training_section,
)
from medviz.importer.errors import LabelError, OutputWidthError, TokenizerMismatchError
from medviz.importer.keras_file import load_keras_model, read_keras_file
from medviz.importer.tokenizer import KerasTokenizerVectorizer, read_tokenizer_file

log = logging.getLogger(__name__)

PREDICT_BATCH = 1024
# A label order is refused when another order of the same labels would be right this much more
# often on the calibration part (see check_label_order).
LABEL_ORDER_MARGIN = 0.25


def _labels_and_index(labels_col: pd.Series, width: int, activation: str, positive: str | None,
                      given: Sequence[str] | None, column: str) -> tuple[list[str], np.ndarray]:
    """The model's labels in output order and each row's index into them."""
    values = sorted(labels_col.unique().tolist())
    if given:
        labels = [str(v).strip() for v in given]
        if len(set(labels)) != len(labels):
            raise LabelError("--labels lists a label twice")
        unknown = sorted(set(values) - set(labels))
        if unknown:
            rows = np.flatnonzero(labels_col.isin(unknown).to_numpy())  # line numbers, never the values (PHI)
            raise LabelError(f"label column '{column}' has {len(unknown)} value(s) not in --labels ({line_numbers(rows)})")
    elif width == 1 and activation != "softmax":
        if len(values) != 2:
            raise OutputWidthError(
                f"the model has one output unit (a binary model) but label column '{column}' has {len(values)} distinct values"
            )
        from medviz.tabular.train import binary_target

        try:
            _, labels = binary_target(labels_col, positive, column)
        except Exception as exc:  # binary_target raises InputError; re-type it for the importer
            raise LabelError(str(exc).replace("target column", "label column")) from None
    elif all(v.lstrip("-").isdigit() for v in values):  # integer-coded classes: the code is the index
        codes = sorted(int(v) for v in values)
        if codes[0] < 0 or codes[-1] >= width:
            raise OutputWidthError(
                f"label column '{column}' holds class numbers {codes[0]}..{codes[-1]} but the model "
                f"outputs {width} classes (0..{width - 1})"
            )
        labels = [str(i) for i in range(width)]
    else:
        labels = values  # LabelEncoder / sorted order, the usual way string labels become indices
    if positive is not None and (width > 1 or activation == "softmax") and positive not in labels:
        raise LabelError(f"--positive {positive!r} is not a label of column '{column}'")
    index = {lab: i for i, lab in enumerate(labels)}
    return labels, labels_col.map(index).to_numpy().astype(int)


def check_label_order(y: np.ndarray, probs: np.ndarray, labels: list[str], column: str) -> None:
    """Refuse a label order that another order of the same labels beats by LABEL_ORDER_MARGIN (top-1
    on the calibration part): the model's outputs were most likely meant in that other order."""
    from scipy.optimize import linear_sum_assignment

    c = len(labels)
    pred = probs.argmax(axis=1)
    conf = np.zeros((c, c))
    np.add.at(conf, (pred, y), 1)
    rows, cols = linear_sum_assignment(-conf)
    best = conf[rows, cols].sum() / len(y)
    identity = np.trace(conf) / len(y)
    if best - identity >= LABEL_ORDER_MARGIN:
        order = [labels[cols[i]] for i in np.argsort(rows)]
        shown = ",".join(order[:12]) + (",…" if c > 12 else "")
        raise LabelError(
            f"the model's outputs do not follow the label order assumed for column '{column}' "
            f"({','.join(labels[:12])}{',…' if c > 12 else ''}): top-1 {identity:.0%} on the calibration part, "
            f"{best:.0%} if read as {shown}; give --labels in the model's output order"
            + (" (or --positive for a binary model)" if c == 2 else "")
        )


def _embedding_input_dim(model) -> int | None:
    import keras

    def walk(layer):
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
        for sub in getattr(layer, "layers", []) or []:
            found = walk(sub)
            if found is not None:
                return found
        return None

    return walk(model)


def _find_text_vectorization(model):
    import keras

    for layer in getattr(model, "layers", []) or []:
        if isinstance(layer, keras.layers.TextVectorization):
            return layer
        found = _find_text_vectorization(layer)
        if found is not None:
            return found
    return None


def _predict(model, texts: list[str]) -> list[np.ndarray] | np.ndarray:
    import tensorflow as tf

    return model.predict(tf.constant(texts, dtype=tf.string), batch_size=PREDICT_BATCH, verbose=0)


def import_text_model(
    model_file: Path | str,
    data: pd.DataFrame,
    out_dir: Path | str,
    opts: ImportOptions,
    *,
    text_column: str,
    tokenizer_file: Path | str | None = None,
    sequence_length: int | None = None,
    padding: str = "pre",
    truncating: str = "pre",
    positive: str | None = None,
    labels: Sequence[str] | None = None,
    data_path: Path | None = None,
) -> Path:
    """Import a Keras text classifier (binary sigmoid or multiclass softmax) into a bundle at ``out_dir``.

    ``data``: labelled rows with ``text_column`` and ``opts.label_column``. A model whose input is token
    ids needs ``tokenizer_file`` (``Tokenizer.to_json()``) and the padding it was trained with; a model
    whose input is strings carries its own ``TextVectorization``. Raises the typed errors of
    :mod:`medviz.importer.errors` (and :class:`~medviz.errors.InputError` for missing columns).
    """
    import keras
    import tensorflow as tf
    from scipy.special import softmax

    from medviz.layers import TemperatureScaling
    from medviz.importer.layers import NoAttention, StringColumn, TwoClassLogits
    from medviz.tabular.layers import PlattScaling
    from medviz.tabular.train import fit_platt
    from medviz.text import conformal, ood
    from medviz.text.preprocess import preprocessing_manifest
    from medviz.text.train import fit_temperature

    kf = read_keras_file(model_file)
    source = load_keras_model(kf)
    if len(source.inputs) != 1:
        raise TokenizerMismatchError(f"{kf.path.name}: the model has {len(source.inputs)} inputs; a text model needs one")
    head = output_head(source)

    # ---- data and labels
    for col in (text_column, opts.label_column):
        if col not in data.columns:
            raise LabelError(f"column '{col}' not found: {columns_hint(data.columns, [col])}")
    lab = clean_labels(data[opts.label_column], opts.label_column)
    text = data[text_column].astype("string")
    keep = lab.notna().to_numpy() & text.notna().to_numpy() & (text.str.strip() != "").fillna(False).to_numpy()
    dropped = int((~keep).sum())
    lab, texts = lab[keep].reset_index(drop=True), text[keep].astype(str).reset_index(drop=True)
    label_names, y = _labels_and_index(lab, head.width, head.activation, positive, labels, opts.label_column)
    check_width(head, label_names, opts.label_column, kf.path.name)
    binary = head.width == 1 and head.activation != "softmax"
    cal_idx, test_idx = split_labelled(texts.to_frame(), y, opts)

    # ---- the input side
    inp = source.inputs[0]
    text_in = keras.Input(shape=(), dtype="string", name="text")
    tokenizer_info: dict[str, Any] | None = None
    if inp.dtype == "string":
        if tokenizer_file:
            raise TokenizerMismatchError(
                f"{kf.path.name} takes raw strings (its vectorisation is inside the model); leave out --tokenizer"
            )
        vec = _find_text_vectorization(source)
        if vec is None:
            raise TokenizerMismatchError(f"{kf.path.name} takes strings but holds no TextVectorization layer")
        seq_len = vec.get_config().get("output_sequence_length") or sequence_length
        if not seq_len:
            raise TokenizerMismatchError(
                f"{kf.path.name}: its TextVectorization has no output_sequence_length; give --sequence-length"
            )
        x = StringColumn(name="text_column")(text_in) if len(inp.shape) == 2 else text_in
        input_kind = "raw strings (the model's own TextVectorization)"
        vocab_size = len(vec.get_vocabulary())
    else:
        if not tokenizer_file:
            raise TokenizerMismatchError(
                f"{kf.path.name} takes token ids ({inp.dtype}, shape {tuple(inp.shape)}); give --tokenizer "
                "(tokenizer.to_json()) and --sequence-length with the padding it was trained with"
            )
        model_len = inp.shape[1] if len(inp.shape) == 2 else None
        if sequence_length and model_len and sequence_length != model_len:
            raise TokenizerMismatchError(
                f"--sequence-length {sequence_length} but {kf.path.name} takes sequences of {model_len} token ids"
            )
        seq_len = int(sequence_length or model_len or 0)
        if not seq_len:
            raise TokenizerMismatchError(
                f"{kf.path.name} accepts sequences of any length; give --sequence-length (the pad_sequences maxlen)"
            )
        tok = read_tokenizer_file(tokenizer_file, sequence_length=seq_len, padding=padding, truncating=truncating)
        emb = _embedding_input_dim(source)
        if emb is not None and tok.max_id() >= emb:
            raise TokenizerMismatchError(
                f"{Path(tokenizer_file).name} gives token ids up to {tok.max_id()} (num_words {tok.num_words}, "
                f"{len(tok.word_index)} words) but the model's Embedding takes ids below {emb}: the tokenizer and the "
                "model do not belong together"
            )
        if emb is not None and tok.num_words and tok.num_words != emb:
            log.warning("tokenizer num_words %d differs from the Embedding input size %d", tok.num_words, emb)
        vec = KerasTokenizerVectorizer.from_tokenizer(tok)
        x = vec(text_in)
        input_kind = "token ids from a Keras Tokenizer, padded inside the model"
        vocab_size = len(vec.get_vocabulary())
        tokenizer_info = tok.summary() | {"file": Path(tokenizer_file).name,
                                          "sha256": sha256_file(Path(tokenizer_file)),
                                          "embedding_input_dim": emb}

    z = logits_tensor(source, head, x)
    raw = keras.Model(text_in, z, name="imported_raw_logits")
    z_all = np.asarray(_predict(raw, texts.tolist()), dtype=np.float64)
    z_cal, z_test = z_all[cal_idx], z_all[test_idx]
    y_cal, y_test = y[cal_idx], y[test_idx]

    # ---- calibration on the calibration part
    if binary:
        slope, intercept = fit_platt(z_cal[:, 0], y_cal)
        calib = PlattScaling(slope, intercept, name="platt")
        logits = TwoClassLogits(name="two_class_logits")(calib(z))
        calibration = {"method": "Platt scaling (logistic recalibration of the model's log-odds)", "slope": slope,
                       "intercept": intercept, "fitted_on": "calibration part of the import file"}

        def calibrated(zz):
            s = slope * zz[:, 0] + intercept
            return np.c_[np.zeros_like(s), s]
    else:
        temperature = fit_temperature(z_cal, y_cal)
        logits = TemperatureScaling(temperature, name="temperature")(z)
        calibration = {"method": "temperature scaling", "temperature": temperature,
                       "fitted_on": "calibration part of the import file"}

        def calibrated(zz):
            return zz / temperature
    probs_out = keras.layers.Softmax(name="probabilities")(logits)
    attention = NoAttention(int(seq_len), name="attention")(text_in)
    logits_out = keras.layers.Identity(name="logits")(logits)
    model = keras.Model(text_in, [probs_out, attention, logits_out], name="imported_text_classifier")

    cal_logits, test_logits = calibrated(z_cal), calibrated(z_test)
    cal_probs, test_probs = softmax(cal_logits, axis=1), softmax(test_logits, axis=1)
    check_label_order(y_cal, cal_probs, label_names, opts.label_column)

    # ---- conformal sets and the out-of-scope reference, on the calibration part
    from medviz.importer.serving import unknown_shares_of

    unk = unknown_shares_of(vec, texts.tolist())
    conf = conformal.calibrate(cal_probs, y_cal, opts.conformal_coverage)
    # Multiclass logits: energy (Liu et al. 2020). A binary model's only signal beyond its own confidence
    # (already the low-confidence flag) is how many of a case's words the tokenizer does not know.
    method = "unknown_share" if binary else ("energy" if head.activation != "unknown" else "msp")
    detector = ood.fit_threshold(method, ood.scores(method, cal_logits, unk[cal_idx]), opts.oos_quantile)
    test_scores = detector.score(test_logits, unk[test_idx])

    metrics: dict[str, Any] = {
        "calibration": {"n": int(len(cal_idx)), "split": "calibration part", **M.multiclass_summary(y_cal, cal_probs)},
        "test": {
            "n": int(len(test_idx)),
            **M.multiclass_summary(y_test, test_probs),
            "conformal": conformal.evaluate(test_probs, y_test, conf),
            "in_scope_flagged": float(detector.flag(test_scores).mean()),
            "note": "test part of the labelled import file (never used for calibration)",
        },
    }
    # no near_duplicate column: the training texts are unknown at import, so duplicates cannot be found
    test_predictions = pd.DataFrame({"y_true": [label_names[i] for i in y_test]})
    for j, name in enumerate(label_names):
        test_predictions[f"prob_{name}"] = test_probs[:, j]
    test_predictions["out_of_scope_score"] = test_scores

    computed = [
        f"calibration ({calibration['method']}) on {len(cal_idx)} rows",
        f"split-conformal threshold for {opts.conformal_coverage:.0%} coverage on {len(cal_idx)} rows",
        f"out-of-scope threshold ({method}, {opts.oos_quantile:.0%} quantile of the calibration scores)",
        f"test predictions and metrics on {len(test_idx)} rows",
    ]
    lengths = (vec.split_words(tf.constant(texts.iloc[cal_idx].tolist())).row_lengths().numpy()
               if tokenizer_info else np.zeros(1))
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = {
        "name": opts.name,
        "version": opts.version,
        "title": opts.title or opts.name,
        "task": TASK_TEXT,
        "labels": label_names,
        **({"positive_label": label_names[1]} if len(label_names) == 2 else {}),
        "inputs": {
            "kind": "text",
            "text_column": text_column,
            "sequence_length": int(seq_len),
            "tokenizer": (
                f"Keras Tokenizer (lower={tokenizer_info['lower']}, filters {tokenizer_info['filters']!r} -> split "
                f"{tokenizer_info['split']!r}, {tokenizer_info['words_known']} words, OOV token {tokenizer_info['oov_token']!r}); "
                f"pad_sequences(maxlen={seq_len}, padding={padding!r}, truncating={truncating!r})"
                if tokenizer_info else "the model's own TextVectorization layer"
            ),
            "input_kind": input_kind,
            "vocabulary_size": int(vocab_size),
        },
        "capabilities": {"attention": False, "shap": True},
        "preprocessing": preprocessing_manifest("none"),
        "outputs": {
            "probabilities": f"calibrated class probabilities ({calibration['method']} on the calibration part)",
            "attention": None,
            "logits": "calibrated logits" + ("" if head.activation != "unknown" else " (log-probabilities: the model exposes no logits)"),
        },
        "architecture": {
            "summary": f"imported Keras model ({head.activation} output, {head.width} unit(s)); logits: {head.logits_from}",
            "source_layers": [layer.__class__.__name__ for layer in getattr(source, "layers", [])][:40],
            "parameters": int(source.count_params()),
        },
        "calibration": calibration,
        "conformal": conf.to_manifest() | {"fitted_on": "calibration part of the import file"},
        "out_of_scope": detector.to_manifest() | {
            "fitted_on": "calibration part of the import file",
            "meaning": "score higher = less like the calibration cases; flagged when above the threshold",
            "outlier_exposure": None,
        },
        "training": training_section(opts, len(cal_idx), len(test_idx))
        | ({"text_length_tokens": {f"p{q:02d}": float(np.percentile(lengths, q)) for q in (1, 5, 25, 50, 75, 95, 99)}
            | {"mean": float(lengths.mean())}} if tokenizer_info else {}),
        "import": provenance(
            kf, data_path, opts, computed,
            rows={"usable": int(len(texts)), "dropped_blank": dropped, "calibration": int(len(cal_idx)), "test": int(len(test_idx))},
            tokenizer=tokenizer_info,
            output={"activation": head.activation, "width": head.width, "logits": head.logits_from},
        ),
        "metrics": metrics,
        "last_validated": now[:10],
        "intended_use": opts.intended_use or (
            "Decision support for clinicians, as intended by the model's developers (imported model: see the import "
            "section). Not a diagnosis, not for standalone or time-critical use."
        ),
        "out_of_scope_uses": [
            "Conditions outside the model's label set", "Time-critical or emergency triage", "Use without clinician review",
            "Populations unlike the labelled import file",
        ],
    }
    return save_bundle(out_dir, model, manifest, test_predictions)
