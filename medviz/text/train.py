"""Train a text bundle from any CSV/JSONL with a text column and a label column (binary or multiclass)."""
from __future__ import annotations

import logging
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.bundle import TASK_TEXT, save_bundle
from medviz.errors import InputError, columns_hint
from medviz.text.model import TEMPERATURE, TextModelConfig, build_text_model, scope_logit_layer

log = logging.getLogger(__name__)

NEAR_DUPLICATE_COSINE = 0.85
#: Manifest keys a --card file may set (shown on the model card).
CARD_KEYS = ("intended_use", "out_of_scope_uses", "limitations", "setting", "demographics", "never_seen")
#: Above this many labels, test_predictions.csv keeps probabilities to 5 decimals (801 x n columns at full
#: precision would make the bundle several times larger than the model).
WIDE_LABELS_ROUNDING = 100


@dataclass(frozen=True)
class TextTrainingSpec:
    name: str
    text_column: str
    label_column: str
    version: str = "1.0.0"
    title: str = ""
    seed: int = 42
    val_fraction: float = 0.15
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 2e-3
    patience: int = 8
    config: TextModelConfig = field(default_factory=TextModelConfig)
    # Clinical-safety options (issue 3). All default to the plain behaviour.
    preprocessing: str = "none"  # "clinical": medviz.text.clinical.preprocess before the model
    calibration_fraction: float = 0.0  # > 0: a separate held-out split for temperature, conformal, OOS threshold
    refit: bool = False  # retrain on train+validation for the early-stopped epoch count
    refit_epochs: int = 0  # > 0: skip the selection run; train on train+validation for this many epochs
    # > 1: no held-out split at all. The shipped model trains on every row for ``epochs`` epochs;
    # temperature, conformal and out-of-scope thresholds come from out-of-fold predictions of
    # ``cross_fit_folds`` models trained the same way on the other folds (cross-fitting).
    cross_fit_folds: int = 0
    lr_schedule: str = "constant"  # or "cosine": cosine decay to 0 over the run (stable last epoch)
    augment_telegraphic: int = 0  # extra note-style copies of each training text
    outlier_texts: tuple[str, ...] = ()  # outlier exposure texts (never evaluation texts)
    outlier_weight: float = 0.5
    conformal_coverage: float = 0.90
    oos_method: str = "energy"
    oos_quantile: float = 0.95
    provenance: dict[str, Any] = field(default_factory=dict)
    # Model-card entries given at training time (--card FILE.json): any of CARD_KEYS, stored in the manifest.
    card: dict[str, Any] = field(default_factory=dict)
    # Knowledge-base expert (issue 15): a medviz.text.synth.bayes.KnowledgeBaseBayes multiplied into the
    # network's probabilities with this weight; saved in the bundle and applied wherever the bundle is used.
    expert: Any = None
    expert_weight: float = 0.0
    # Development cases (text, label) on which the weight is chosen from EXPERT_WEIGHTS (top-3, then top-10);
    # never the cases a figure is reported on as held out.
    expert_tune: Any = None
    intended_use: str = (
        "Decision support for clinicians: suggests a ranked differential for a short free-text case description. "
        "Not a diagnosis, not for standalone or time-critical use."
    )
    out_of_scope_uses: tuple[str, ...] = (
        "Conditions outside the trained label set",
        "Time-critical or emergency triage",
        "Use without clinician review",
        "Children, pregnancy or other populations not represented in the training text",
    )


def clean_labelled_text(df: pd.DataFrame, text_col: str, label_col: str) -> pd.DataFrame:
    for col in (text_col, label_col):
        if col not in df.columns:
            raise InputError(f"missing column '{col}': {columns_hint(df.columns, [col])}")
    out = pd.DataFrame({"text": df[text_col].astype(str).str.strip(), "label": df[label_col].astype(str).str.strip()})
    bad = (out["text"] == "") | (out["label"] == "") | df[text_col].isna().to_numpy() | df[label_col].isna().to_numpy()
    if bad.any():
        log.warning("dropping %d row(s) with an empty text or label", int(bad.sum()))
    out = out[~bad].reset_index(drop=True)
    if out["label"].nunique() < 2:
        raise InputError(f"column '{label_col}' needs at least 2 distinct labels, found {out['label'].nunique()}")
    return out


def near_duplicate_mask(test_texts: list[str], train_texts: list[str], threshold: float = NEAR_DUPLICATE_COSINE) -> np.ndarray:
    """True for test texts whose word TF-IDF cosine similarity to some training text is >= threshold."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    vec = TfidfVectorizer().fit(list(train_texts) + list(test_texts))
    sim = cosine_similarity(vec.transform(test_texts), vec.transform(train_texts))
    return sim.max(axis=1) >= threshold


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising validation NLL (Guo et al. 2017), searched on log scale."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def nll(log_t: float) -> float:
        lp = log_softmax(logits / np.exp(log_t), axis=1)
        return float(-lp[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def _length_quantiles(texts: pd.Series) -> dict[str, float]:
    """Token-count distribution of the training texts (for shift checks on uploaded cohorts)."""
    from medviz.text.layers import TOKEN_PATTERN_HAN

    n = texts.str.count(TOKEN_PATTERN_HAN).to_numpy()  # English texts: the same count as TOKEN_PATTERN
    return {f"p{q:02d}": float(np.percentile(n, q)) for q in (1, 5, 25, 50, 75, 95, 99)} | {"mean": float(n.mean())}


def _split(df: pd.DataFrame, frac: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    counts = df["label"].value_counts()
    stratify = df["label"] if counts.min() >= 2 else None
    tr, va = train_test_split(df, test_size=frac, random_state=seed, stratify=stratify)
    return tr.reset_index(drop=True), va.reset_index(drop=True)


def model_texts(spec: TextTrainingSpec, texts) -> list[str]:
    """The exact strings the model reads: the manifest-recorded preprocessing applied to raw texts."""
    from medviz.text.preprocess import apply_preprocessing

    return apply_preprocessing(spec.preprocessing, list(texts))


def _outlier_exposure_loss(weight: float):
    """Cross-entropy for labelled rows (y >= 0); cross-entropy to the uniform distribution for
    outlier rows (y == -1), scaled by ``weight`` (Hendrycks et al. 2019)."""
    from keras import ops

    def loss(y_true, logits):
        y = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        logp = ops.log_softmax(logits, axis=-1)
        n_cls = ops.shape(logits)[-1]
        onehot = ops.one_hot(ops.maximum(y, 0), n_cls)
        ce = -ops.sum(onehot * logp, axis=-1)
        uniform = -ops.mean(logp, axis=-1)
        return ops.where(y >= 0, ce, weight * uniform)

    return loss


def _fit_model(spec, fit_texts, y_fit, vocab_texts, n_classes, epochs, val=None):
    """Build and train one model; returns (model, epochs_run). Early stopping when ``val`` is given."""
    import keras
    import tensorflow as tf

    from medviz.text.model import member_logit_layers

    keras.utils.set_random_seed(spec.seed)
    tf.config.experimental.enable_op_determinism()
    model = build_text_model(vocab_texts, n_classes, spec.config)
    heads = [model.get_layer(n).output for n in member_logit_layers(model)]
    trainer = keras.Model(model.input, heads)
    loss = _outlier_exposure_loss(spec.outlier_weight)
    lr = spec.learning_rate
    if spec.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(spec.learning_rate, int(np.ceil(len(fit_texts) / spec.batch_size)) * epochs)
    trainer.compile(optimizer=keras.optimizers.Adam(lr), loss=[loss] * len(heads))
    rep = (lambda y: [y] * len(heads)) if len(heads) > 1 else (lambda y: y)
    callbacks = [keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: log.info(
        "epoch %d/%d: loss %.4f", epoch + 1, epochs, float((logs or {}).get("loss", float("nan")))))]
    validation = None
    if val is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=spec.patience, restore_best_weights=True))
        validation = (tf.constant(val[0]), rep(np.asarray(val[1])))
    hist = trainer.fit(
        tf.constant(list(fit_texts)), rep(np.asarray(y_fit)), validation_data=validation, epochs=epochs,
        batch_size=spec.batch_size, callbacks=callbacks, verbose=0, shuffle=True,
    )
    run = len(hist.history["loss"])
    if val is not None:
        best = int(np.argmin(hist.history["val_loss"])) + 1
        return model, run, best
    return model, run, run


def _augment(spec: TextTrainingSpec, texts: list[str], y: np.ndarray) -> tuple[list[str], np.ndarray]:
    if spec.augment_telegraphic <= 0:
        return list(texts), np.asarray(y)
    from medviz.text.clinical import telegraphic

    rng = np.random.default_rng(spec.seed)
    extra = [telegraphic(t, rng) for _ in range(spec.augment_telegraphic) for t in texts]
    return list(texts) + extra, np.r_[y, np.tile(y, spec.augment_telegraphic)]


def train_text(
    spec: TextTrainingSpec,
    train_df: pd.DataFrame,
    out_dir: Path | str,
    test_df: pd.DataFrame | None = None,
    evaluation_sets: dict[str, pd.DataFrame] | None = None,
    held_out_outliers: list[str] | None = None,
) -> Path:
    """Train, calibrate and save a text bundle.

    ``evaluation_sets``: name -> frame with ``text``, ``label`` (None/empty for out-of-scope rows)
    and ``in_scope``; scored after training only (never used for fitting or selection) and reported
    in ``metrics``. ``held_out_outliers``: out-of-scope texts never trained on, for the AUROC figures.
    """
    import keras
    import tensorflow as tf

    from medviz.text import conformal, ood
    from medviz.text.preprocess import preprocessing_manifest

    data = clean_labelled_text(train_df, spec.text_column, spec.label_column)
    labels = sorted(data["label"].unique())
    index = {lab: i for i, lab in enumerate(labels)}
    data["model_text"] = model_texts(spec, data["text"])
    outliers = model_texts(spec, spec.outlier_texts)

    def stack(frame: pd.DataFrame, extra_outliers: list[str]) -> tuple[list[str], np.ndarray]:
        x, y = _augment(spec, frame["model_text"].tolist(), frame["label"].map(index).to_numpy())
        return x + list(extra_outliers), np.r_[y, -np.ones(len(extra_outliers), dtype=int)].astype(int)

    def raw_logits(m, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Pre-temperature logits: the model's, and those the out-of-scope score reads."""
        heads = keras.Model(m.input, [m.get_layer("dense_logits").output, m.get_layer(scope_logit_layer(m)).output])
        final, scope = heads.predict(tf.constant(texts), verbose=0)
        return final, scope

    cal = None
    if spec.cross_fit_folds > 1:
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(n_splits=spec.cross_fit_folds, shuffle=True, random_state=spec.seed)
        calib_raw = np.zeros((len(data), len(labels)))
        calib_scope = np.zeros((len(data), len(labels)))
        for k, (fit_idx, held_idx) in enumerate(folds.split(data, data["label"])):
            fold = data.iloc[fit_idx]
            x_k, y_k = stack(fold, outliers)
            log.info("cross-fitting fold %d/%d: %d training rows", k + 1, spec.cross_fit_folds, len(fold))
            m_k, _, _ = _fit_model(spec, x_k, y_k, fold["model_text"].tolist() + outliers, len(labels), spec.epochs)
            calib_raw[held_idx], calib_scope[held_idx] = raw_logits(m_k, data["model_text"].iloc[held_idx].tolist())
            del m_k
            keras.backend.clear_session()
        x_all, y_all = stack(data, outliers)
        model, epochs_run, best_epoch = _fit_model(spec, x_all, y_all, data["model_text"].tolist() + outliers, len(labels), spec.epochs)
        tr, va, calib, n_fit = data, data.iloc[:0], data, len(data)
        calib_name = f"{spec.cross_fit_folds}-fold out-of-fold predictions"
    else:
        if spec.calibration_fraction > 0:
            rest, cal = _split(data, spec.calibration_fraction, spec.seed)
        else:
            rest, cal = data, None
        if spec.refit_epochs > 0:  # fixed epoch count: no early-stopping split
            tr, va = rest, rest.iloc[:0]
        else:
            tr, va = _split(rest, spec.val_fraction, spec.seed)
        n_out_val = int(round(len(outliers) * spec.val_fraction))
        out_fit, out_val = outliers[n_out_val:], outliers[:n_out_val]
        x_fit, y_fit = stack(tr, out_fit)
        x_val = va["model_text"].tolist() + out_val
        y_val = np.r_[va["label"].map(index).to_numpy(), -np.ones(len(out_val), dtype=int)]
        if spec.refit_epochs > 0:
            model = None
            epochs_run = best_epoch = spec.refit_epochs
        else:
            model, epochs_run, best_epoch = _fit_model(
                spec, x_fit, y_fit, tr["model_text"].tolist() + out_fit, len(labels), spec.epochs, val=(x_val, y_val)
            )
        if spec.refit or spec.refit_epochs > 0:
            x_all, y_all = stack(rest, outliers)
            model, _, _ = _fit_model(spec, x_all, y_all, rest["model_text"].tolist() + outliers, len(labels), best_epoch)
            n_fit = len(rest)
        else:
            n_fit = len(tr)
        # Calibration split: temperature, conformal threshold, out-of-scope threshold.
        calib = cal if cal is not None else va
        calib_name = "calibration split" if cal is not None else "validation split"
        calib_raw, calib_scope = raw_logits(model, calib["model_text"].tolist())
    y_cal = calib["label"].map(index).to_numpy()
    temperature = fit_temperature(calib_raw, y_cal)
    model.get_layer(TEMPERATURE).set_temperature(temperature)

    from medviz.text.predict import unknown_shares

    def run(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not texts:
            c = len(labels)
            return np.zeros((0, c)), np.zeros((0, c)), np.zeros(0)
        out = model.predict(tf.constant(texts), verbose=0)
        return out[0], out[2], unknown_shares(model, texts)

    from scipy.special import softmax

    cal_probs = softmax(calib_raw / temperature, axis=1)
    network_cal_probs = cal_probs
    weight_search = None
    if spec.expert is not None and spec.expert_tune is not None:
        spec, weight_search = _tune_expert_weight(spec, model, labels)
    product = None
    if spec.expert is not None:
        # Network x knowledge-base expert: the product gets its own temperature, and the conformal sets are
        # fitted on the calibrated product (what is shown) (medviz.text.recalibrate).
        from medviz.text.recalibrate import fit_product_calibration

        product = fit_product_calibration(cal_probs, spec.expert.log_scores(calib["text"].tolist()), spec.expert_weight,
                                          y_cal, spec.conformal_coverage)
        cal_probs = product.probabilities
    cal_logits = calib_scope / temperature
    cal_unk = unknown_shares(model, calib["model_text"].tolist())
    conf = product.conformal if product is not None else conformal.calibrate(cal_probs, y_cal, spec.conformal_coverage)
    weight = 0.0
    if spec.oos_method == "energy_unknown":
        _, exposure_logits, _ = run(outliers)
        weight = ood.unknown_weight_from(exposure_logits, cal_logits)
    detector = ood.fit_threshold(
        spec.oos_method, ood.scores(spec.oos_method, cal_logits, cal_unk, weight), spec.oos_quantile, weight
    )

    metrics: dict[str, Any] = {
        "validation": (
            {"n": 0, "note": f"none: fixed {epochs_run} epochs; thresholds from the {calib_name}"}
            if spec.cross_fit_folds > 1 or spec.refit_epochs > 0
            else {"n": int(len(va)), "note": "early-stopping split" + (" (then refit on train+validation)" if spec.refit else "")}
            | ({} if cal is not None else M.multiclass_summary(y_cal, cal_probs))
        ),
        "calibration": {"n": int(len(calib)), "split": calib_name, **M.multiclass_summary(y_cal, cal_probs)},
    }
    if spec.expert is not None:
        metrics["calibration"]["network_only"] = M.multiclass_summary(y_cal, network_cal_probs)
        metrics["calibration"]["product_before_recalibration"] = product.before
    held_scores = {}
    if held_out_outliers:
        _, ho_logits, ho_unk = run(model_texts(spec, held_out_outliers))
        held_scores = {m: ood.scores(m, ho_logits, ho_unk, weight) for m in ood.METHODS}
        metrics["out_of_scope_held_out"] = {
            "n_out_of_scope": len(held_out_outliers),
            "source": "held-out clinician notes never trained on",
            "in_scope_flagged_calibration": float(detector.flag(detector.score(cal_logits, cal_unk)).mean()),
            "out_of_scope_flagged": float(detector.flag(held_scores[spec.oos_method]).mean()),
            "auroc_vs_calibration": {
                m: ood.auroc(ood.scores(m, cal_logits, cal_unk, weight), held_scores[m]) for m in ood.METHODS
            },
        }
    test_predictions = None
    if test_df is not None:
        te = clean_labelled_text(test_df, spec.text_column, spec.label_column)
        unknown = sorted(set(te["label"]) - set(labels))
        if unknown:
            raise InputError(f"test labels not seen in training: {', '.join(unknown)}")
        probs, te_logits, te_unk = run(model_texts(spec, te["text"]))
        network_probs = probs
        if spec.expert is not None:
            from medviz.text.synth.bayes import combine

            expert_log = spec.expert.log_scores(te["text"].tolist())
            probs = combine(probs, expert_log, spec.expert_weight, product.temperature)
            before = combine(network_probs, expert_log, spec.expert_weight)
        y_te = te["label"].map(index).to_numpy()
        dup = near_duplicate_mask(te["text"].tolist(), data["text"].tolist())
        te_scores = detector.score(te_logits, te_unk)
        metrics["test"] = {
            "n": int(len(te)),
            **M.multiclass_summary(y_te, probs),
            "conformal": conformal.evaluate(probs, y_te, conf),
            "in_scope_flagged": float(detector.flag(te_scores).mean()),
        }
        if spec.expert is not None:
            from scipy.special import softmax as _softmax

            metrics["test"]["network_only"] = M.multiclass_summary(y_te, network_probs)
            metrics["test"]["knowledge_base_only"] = M.multiclass_summary(y_te, _softmax(expert_log, axis=1))
            metrics["test"]["product_before_recalibration"] = M.multiclass_summary(y_te, before)
        if held_scores:
            metrics["test"]["out_of_scope_auroc_vs_held_out_notes"] = {
                m: ood.auroc(ood.scores(m, te_logits, te_unk, weight), held_scores[m]) for m in ood.METHODS
            }
        metrics["test_deduplicated"] = {
            "n": int((~dup).sum()),
            "near_duplicates_removed": int(dup.sum()),
            "rule": f"word TF-IDF cosine >= {NEAR_DUPLICATE_COSINE} to any training text",
            **M.multiclass_summary(y_te[~dup], probs[~dup]),
            "conformal": conformal.evaluate(probs[~dup], y_te[~dup], conf),
        }
        test_predictions = pd.DataFrame({"y_true": te["label"], "near_duplicate": dup})
        for j, lab in enumerate(labels):
            test_predictions[f"prob_{lab}"] = probs[:, j]
        test_predictions["out_of_scope_score"] = te_scores
        if len(labels) > WIDE_LABELS_ROUNDING:
            test_predictions = test_predictions.round({f"prob_{lab}": 5 for lab in labels})

    for name, frame in (evaluation_sets or {}).items():
        metrics[name] = evaluate_case_set(frame, labels, lambda t: run(model_texts(spec, t)), conf, detector)

    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = {
        "name": spec.name,
        "version": spec.version,
        "title": spec.title or spec.name,
        "task": TASK_TEXT,
        "labels": labels,
        "inputs": {
            "kind": "text",
            "text_column": spec.text_column,
            "sequence_length": spec.config.sequence_length,
            "tokenizer": "lower-case ASCII; runs of letters and digits are tokens; everything else separates"
            + ("; each Chinese (Han) character is a token of its own" if spec.config.tokenizer == "han" else ""),
            "languages": ["en", "zh"] if spec.config.tokenizer == "han" else ["en"],
        },
        "preprocessing": preprocessing_manifest(spec.preprocessing),
        "outputs": {
            "probabilities": f"calibrated class probabilities (temperature scaling on the {calib_name})",
            "attention": "additive attention weights over the tokens read (sum to 1; 0 on padding)"
            + ("; mean over the ensemble members" if spec.config.members > 1 else ""),
            "logits": "temperature-scaled logits of the attention-RNN head, read by the out-of-scope score"
            if spec.config.wide else "temperature-scaled logits",
        },
        "architecture": {
            "summary": "TextVectorization -> Embedding -> bidirectional GRU -> additive attention -> dense softmax"
            + (f"; {spec.config.members} such branches in one graph, logits averaged" if spec.config.members > 1 else "")
            + ("; plus a wide head (linear bag-of-words over the same token ids) trained alongside, logits averaged"
               if spec.config.wide else ""),
            **asdict(spec.config),
            "vocabulary": {
                "size": len(model.get_layer("vectorizer").get_vocabulary()),
                "privacy": f"identifiers (e-mails, dates, phone numbers, MRN-like codes) stripped from the notes before "
                           f"the vocabulary was built; words in fewer than {spec.config.min_note_count} training notes "
                           "dropped (medviz.text.vocab)",
            },
            "parameters": int(model.count_params()),
        },
        "calibration": {"method": "temperature scaling", "temperature": temperature, "fitted_on": calib_name},
        "conformal": conf.to_manifest() | {"fitted_on": calib_name},
        "out_of_scope": detector.to_manifest()
        | {
            "fitted_on": calib_name,
            "meaning": "score higher = less like the training cases; flagged when above the threshold",
            "outlier_exposure": (
                {"n_texts": len(outliers), "weight": spec.outlier_weight, "source": spec.provenance.get("outlier_source", "")}
                if outliers else None
            ),
        },
        "training": {
            **spec.provenance,
            "trained_at": now,
            "seed": spec.seed,
            "n_train": int(n_fit),
            "n_validation": int(len(va)),
            "n_calibration": int(len(calib)) if (cal is not None or spec.cross_fit_folds > 1) else 0,
            "validation_split": (
                None if spec.cross_fit_folds > 1 or spec.refit_epochs > 0
                else f"stratified {spec.val_fraction:.0%} of the non-calibration training rows (seed {spec.seed})"
            ),
            "calibration_split": (
                f"cross-fitting: stratified {spec.cross_fit_folds} folds (seed {spec.seed}); each row's calibration "
                f"prediction comes from a model trained the same way without its fold; the shipped model trains on all rows"
                if spec.cross_fit_folds > 1
                else f"stratified {spec.calibration_fraction:.0%} of the training file (seed {spec.seed}), never trained on"
                if cal is not None else None
            ),
            "cross_fit_folds": spec.cross_fit_folds or None,
            "lr_schedule": spec.lr_schedule,
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "refit_on_train_plus_validation": bool(spec.refit or spec.refit_epochs),
            "refit_epochs_from_earlier_selection": spec.refit_epochs or None,
            "augment_telegraphic_copies": spec.augment_telegraphic,
            "text_length_tokens": _length_quantiles(tr["text"]),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": platform.python_version(),
        },
        "metrics": metrics,
        "last_validated": now[:10],
        "intended_use": spec.intended_use,
        "out_of_scope_uses": list(spec.out_of_scope_uses),
    }
    unknown = sorted(set(spec.card) - set(CARD_KEYS))
    if unknown:
        raise InputError(f"--card: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(CARD_KEYS)}")
    manifest.update(spec.card)
    extra = {}
    if spec.expert is not None:
        from medviz.text.synth.bayes import EXPERT_FILE, FORMAT

        if spec.expert.labels != labels:
            raise InputError("--kb: the knowledge base's condition names differ from the training labels")
        extra[EXPERT_FILE] = spec.expert.to_json()
        manifest["knowledge_base_expert"] = {
            "file": EXPERT_FILE, "format": FORMAT, "weight": spec.expert_weight, "weight_search": weight_search,
            "method": "probabilities = softmax((log p_network + weight x log p_kb) / temperature); p_kb: naive Bayes over the knowledge "
                      "base's symptom frequencies, age and sex odds and the clinician-findings table, findings read "
                      "with the synonym table and a crude negation rule (medviz/text/synth/bayes.py)",
            "source": spec.provenance.get("kb_source", ""),
            "calibration": product.manifest_section(calib_name),
        }
        if spec.config.tokenizer == "han":  # Chinese display names of the conditions (the authors' translations)
            from medviz.text.synth.render_zh import chinese_label_names

            names = chinese_label_names(labels)
            if names:
                manifest["label_names"] = {"zh_CN": names}
    return save_bundle(out_dir, model, manifest, test_predictions, extra_files=extra)


EXPERT_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def _tune_expert_weight(spec: TextTrainingSpec, model, labels: list[str]):
    """Choose the knowledge-base expert's weight on the development cases ``spec.expert_tune``."""
    import dataclasses

    import tensorflow as tf

    tune = spec.expert_tune
    known = tune[tune["label"].isin(labels)]
    if known.empty:
        raise InputError("--kb-tune: none of the development cases' labels is a training label")
    index = {lab: i for i, lab in enumerate(labels)}
    y = known["label"].map(index).to_numpy()
    net = model.predict(tf.constant(model_texts(spec, known["text"])), verbose=0)[0]
    weight, search = expert_weight_search(net, spec.expert.log_scores(known["text"].tolist()), y)
    log.info("knowledge-base expert weight %s chosen on %d development cases", weight, len(known))
    return dataclasses.replace(spec, expert_weight=weight), search


def expert_weight_search(net_probs: np.ndarray, kb_log: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
    """The knowledge-base expert's weight in the product of experts, chosen on development cases.

    ``net_probs`` (N, C): the network's calibrated probabilities; ``kb_log`` (N, C): the expert's log-scores;
    ``y`` (N,): class indices. Tries :data:`EXPERT_WEIGHTS` and keeps the highest top-3 accuracy, then top-10,
    then the smaller weight. Returns ``(weight, search)`` with the grid's figures for the manifest."""
    from scipy.special import softmax

    from medviz.text.synth.bayes import combine

    rows = []
    for w in EXPERT_WEIGHTS:
        p = combine(net_probs, kb_log, w)
        rows.append({"weight": w, "top3": M.top_k_accuracy(y, p, 3), "top10": M.top_k_accuracy(y, p, 10)})
    kb_only = softmax(kb_log, axis=1)
    best = max(rows, key=lambda r: (r["top3"], r["top10"], -r["weight"]))
    search = {"n_cases": int(len(y)), "grid": rows, "chosen": best["weight"],
              "knowledge_base_only": {"top3": M.top_k_accuracy(y, kb_only, 3), "top10": M.top_k_accuracy(y, kb_only, 10)},
              "rule": "highest top-3 on the development cases, then top-10, then the smaller weight"}
    return float(best["weight"]), search


def evaluate_case_set(frame: pd.DataFrame, labels: list[str], run, conf, detector) -> dict[str, Any]:
    """Top-1/top-3 on the in-scope rows, out-of-scope AUROC over all rows, share of in-scope flagged.

    ``run(texts) -> (probs, logits, unknown_share)`` on raw texts (preprocessing inside ``run``).
    """
    from medviz.text import conformal, ood

    frame = frame.reset_index(drop=True)
    in_scope = frame["in_scope"].astype(bool).to_numpy()
    probs, logits, unk = run(frame["text"].astype(str).tolist())
    score = detector.score(logits, unk)
    flagged = detector.flag(score)
    index = {lab: i for i, lab in enumerate(labels)}
    ins = frame[in_scope]
    unknown = sorted(set(ins["label"]) - set(labels))
    if unknown:
        raise InputError(f"evaluation labels not in the model: {', '.join(unknown)}")
    y = ins["label"].map(index).to_numpy().astype(int)
    p_in = probs[in_scope]
    return {
        "n_in_scope": int(in_scope.sum()),
        "n_out_of_scope": int((~in_scope).sum()),
        "top1_accuracy": M.top_k_accuracy(y, p_in, 1) if len(y) else None,
        "top3_accuracy": M.top_k_accuracy(y, p_in, 3) if len(y) else None,
        "conformal": conformal.evaluate(p_in, y, conf) if len(y) else None,
        "out_of_scope_auroc": ood.auroc(score[in_scope], score[~in_scope]),
        "out_of_scope_auroc_by_method": {
            m: ood.auroc(ood.scores(m, logits, unk, detector.unknown_weight)[in_scope],
                         ood.scores(m, logits, unk, detector.unknown_weight)[~in_scope])
            for m in ood.METHODS
        },
        "in_scope_flagged": float(flagged[in_scope].mean()) if in_scope.any() else None,
        "out_of_scope_flagged": float(flagged[~in_scope].mean()) if (~in_scope).any() else None,
    }
