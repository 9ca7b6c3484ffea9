"""Recalibration of a network x knowledge-base expert product (issue 15).

The network's probabilities are temperature-scaled on the calibration split; multiplying in the
expert (``softmax(log p_net + w · log p_kb)``, medviz.text.synth.bayes.combine) sharpens them again
(top-label ECE 0.132 against 0.042 for the network alone on the 801-condition synthetic test split).
So the product gets its own temperature (Guo et al., ICML 2017), fitted by minimising the negative
log-likelihood of ``softmax(z / T)`` over the calibration split, with ``z`` the product's log-scores
(scipy's bounded scalar minimiser, :func:`medviz.text.train.fit_temperature`). The conformal threshold
is then computed on the calibrated product's probabilities (what every page and file shows). The
out-of-scope score reads the attention-RNN head's logits, which the product does not change; its
threshold is re-fitted on the same calibration split so both thresholds come from one set of cases.

Two entry points:

* :func:`fit_product_calibration`: arrays in, a :class:`ProductCalibration` out; ``train text --kb``
  calls it on its calibration split;
* :func:`recalibrate_bundle`: an existing bundle plus its calibration cases (``python -m medviz
  calibrate BUNDLE --cases FILE``); rewrites the manifest (and the test predictions when test cases
  are given) atomically, leaving ``model.keras`` untouched.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from medviz import metrics as M
from medviz.errors import InputError
from medviz.text import conformal, ood

log = logging.getLogger(__name__)

METHOD = "temperature scaling of the product's log-scores (log p_network + weight x log p_kb), NLL on the calibration split"


@dataclass(frozen=True)
class ProductCalibration:
    """The product's temperature and the thresholds computed on its calibrated probabilities."""

    temperature: float
    conformal: conformal.ConformalCalibration
    before: dict[str, Any]  # multiclass_summary of the uncalibrated product on the calibration cases
    after: dict[str, Any]  # the same, calibrated
    probabilities: np.ndarray  # (N, C) calibrated product on the calibration cases

    def manifest_section(self, fitted_on: str) -> dict[str, Any]:
        return {"method": METHOD, "temperature": self.temperature, "fitted_on": fitted_on,
                "n": int(self.conformal.n_calibration),
                "calibration_ece_before": self.before["ece"], "calibration_ece_after": self.after["ece"],
                "calibration_nll_before": self.before["nll"], "calibration_nll_after": self.after["nll"]}


def fit_product_calibration(net_probs: np.ndarray, kb_log: np.ndarray, weight: float, y: np.ndarray,
                            coverage: float) -> ProductCalibration:
    """Fit the product's temperature and its conformal threshold.

    ``net_probs`` (N, C): the network's calibrated probabilities; ``kb_log`` (N, C): the expert's
    unnormalised log-scores; ``y`` (N,): class indices. Raises :class:`InputError` for empty or
    mismatched inputs."""
    from medviz.text.synth.bayes import product_logits
    from medviz.text.train import fit_temperature

    net_probs = np.asarray(net_probs, dtype=float)
    kb_log = np.asarray(kb_log, dtype=float)
    y = np.asarray(y, dtype=int)
    if net_probs.shape != kb_log.shape or len(y) != len(net_probs) or len(y) == 0:
        raise InputError(f"product calibration needs matching (N, C) network and expert scores and N labels; got "
                         f"{net_probs.shape}, {kb_log.shape} and {len(y)} labels")
    from scipy.special import softmax

    z = product_logits(net_probs, kb_log, weight)
    t = fit_temperature(z, y)
    raw, cal = softmax(z, axis=1), softmax(z / t, axis=1)
    return ProductCalibration(temperature=t, conformal=conformal.calibrate(cal, y, coverage),
                              before=M.multiclass_summary(y, raw), after=M.multiclass_summary(y, cal),
                              probabilities=cal)


def calibration_split(cases: pd.DataFrame, manifest: dict, text_column: str, label_column: str,
                      from_training_file: bool) -> pd.DataFrame:
    """The bundle's calibration cases (columns ``text``, ``label``).

    ``from_training_file``: ``cases`` is the bundle's whole training file (e.g. regenerated with the
    generator seed in ``training.data_source``); the calibration split is drawn again exactly as
    ``train text`` drew it (stratified, the manifest's seed and fraction) and its size must equal the
    manifest's ``n_calibration`` (else :class:`InputError`: not the same file). Otherwise every row is a
    calibration case."""
    from medviz.text.train import _split, clean_labelled_text

    data = clean_labelled_text(cases, text_column, label_column)
    if not from_training_file:
        return data
    tr = manifest.get("training") or {}
    n_cal, n_fit = int(tr.get("n_calibration") or 0), int(tr.get("n_train") or 0)
    if n_cal <= 0:
        raise InputError("--training-file: the bundle's manifest records no calibration split (training.n_calibration)")
    _, cal = _split(data, n_cal / (n_cal + n_fit), int(tr.get("seed", 42)))
    if len(cal) != n_cal:
        raise InputError(f"--training-file: the calibration split drawn from this file has {len(cal)} cases, the bundle's "
                         f"has {n_cal}: not the file the bundle was trained on")
    return cal


def set_denied_not_evidence(path: Path | str, on: bool) -> None:
    """Record in the bundle's manifest whether a denied finding is no evidence (``knowledge_base_expert.
    denied_not_evidence``; medviz.text.synth.bayes.denied_not_evidence: the network reads texts without the
    findings the expert reads as denied, the expert gives them no likelihood), atomically. Refit the weight and
    temperature next: the probabilities change. Raises :class:`InputError` for a bundle without an expert or
    whose preprocessing is not ``none`` (the expert cuts the raw text)."""
    from medviz.bundle import MANIFEST_FILE, read_manifest

    path = Path(path)
    manifest = read_manifest(path)
    if not manifest.get("knowledge_base_expert"):
        raise InputError(f"{path.name}: --denied-not-evidence needs a bundle with a knowledge-base expert")
    kind = (manifest.get("preprocessing") or {}).get("kind", "none")
    if on and kind != "none":
        raise InputError(f"{path.name}: --denied-not-evidence needs preprocessing 'none', the bundle has {kind!r}")
    manifest["knowledge_base_expert"]["denied_not_evidence"] = bool(on)
    mtmp = path / f".{MANIFEST_FILE}.part"
    mtmp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    mtmp.replace(path / MANIFEST_FILE)


def retune_expert_weight(path: Path | str, cases: pd.DataFrame, source: str) -> dict[str, Any]:
    """Choose the knowledge-base expert's weight of the bundle at ``path`` again, on development cases ``cases``
    (columns ``text``, ``label``; rows whose label is not a condition of the bundle are skipped), with the rule
    ``train text --kb-tune`` uses (:func:`medviz.text.train.expert_weight_search`), and record it in the manifest
    (``knowledge_base_expert.weight`` and ``weight_search``, with ``source`` naming the cases), atomically.
    The product temperature is left as it was: refit it next (:func:`recalibrate_bundle`). Returns the search.
    Raises :class:`InputError` for a bundle without an expert or cases none of whose labels are conditions."""
    from medviz.bundle import MANIFEST_FILE, load_bundle
    from medviz.text.analyse import SafetyConfig
    from medviz.text.predict import TextPredictor
    from medviz.text.preprocess import apply_preprocessing
    from medviz.text.synth.bayes import expert_for, expert_log_scores, network_inputs
    from medviz.text.train import expert_weight_search

    path = Path(path)
    bundle = load_bundle(path)
    found = expert_for(bundle)
    if found is None:
        raise InputError(f"{path}: the bundle has no knowledge-base expert whose weight could be tuned")
    index = {lab: i for i, lab in enumerate(bundle.labels)}
    known = cases[cases["label"].isin(index)]
    if known.empty:
        raise InputError("--tune-expert-weight: none of the development cases' labels is a condition of the bundle")
    texts = known["text"].tolist()
    cfg = SafetyConfig.from_manifest(bundle.manifest)
    pred = TextPredictor.from_bundle(bundle).predict(apply_preprocessing(cfg.preprocessing, network_inputs(bundle, texts)))
    weight, search = expert_weight_search(pred.probabilities, expert_log_scores(bundle, texts),
                                          known["label"].map(index).to_numpy())
    search["cases"] = source
    manifest = json.loads(json.dumps(dict(bundle.manifest)))
    manifest["knowledge_base_expert"].update(weight=weight, weight_search=search)
    mtmp = path / f".{MANIFEST_FILE}.part"
    mtmp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    mtmp.replace(path / MANIFEST_FILE)
    log.info("knowledge-base expert weight %s chosen on %d development cases", weight, len(known))
    return search


def recalibrate_bundle(path: Path | str, calibration: pd.DataFrame, test: pd.DataFrame | None = None,
                       fitted_on: str = "calibration split") -> dict[str, Any]:
    """Fit the product temperature of the bundle at ``path`` on ``calibration`` (``text``, ``label``), recompute
    its conformal and out-of-scope thresholds on those cases, and (with ``test``) its test metrics and
    ``test_predictions.csv``. Returns the new ``knowledge_base_expert.calibration`` section plus ``test_ece_before``
    / ``test_ece_after`` when test cases are given. The manifest and test predictions are replaced atomically;
    ``model.keras`` is untouched. Raises :class:`InputError` for a bundle without an expert or unknown labels."""
    from medviz.bundle import MANIFEST_FILE, TEST_PREDICTIONS_FILE, TEST_PREDICTIONS_FLOAT_FORMAT, load_bundle, sha256_file
    from medviz.text.analyse import SafetyConfig
    from medviz.text.predict import TextPredictor
    from medviz.text.preprocess import apply_preprocessing
    from medviz.text.synth.bayes import combine, expert_for, expert_log_scores, network_inputs, product_temperature
    from medviz.text.train import WIDE_LABELS_ROUNDING

    path = Path(path)
    bundle = load_bundle(path)
    found = expert_for(bundle)
    if found is None:
        raise InputError(f"{path}: the bundle has no knowledge-base expert; its temperature is fitted at training time")
    expert, weight = found
    labels = list(bundle.labels)
    index = {lab: i for i, lab in enumerate(labels)}
    predictor = TextPredictor.from_bundle(bundle)
    cfg = SafetyConfig.from_manifest(bundle.manifest)
    manifest = json.loads(json.dumps(dict(bundle.manifest)))  # a plain, mutable copy

    def parts(frame: pd.DataFrame, what: str):
        unknown = sorted(set(frame["label"]) - set(index))
        if unknown:
            raise InputError(f"{what} cases: {len(unknown)} label(s) are not conditions of the bundle "
                             f"(first: {unknown[0]!r})")
        texts = frame["text"].tolist()
        pred = predictor.predict(apply_preprocessing(cfg.preprocessing, network_inputs(bundle, texts)))
        return pred, expert_log_scores(bundle, texts), frame["label"].map(index).to_numpy()

    pred, kb_log, y = parts(calibration, "calibration")
    fit = fit_product_calibration(pred.probabilities, kb_log, weight, y, cfg.conformal.coverage if cfg.conformal
                                  else conformal.DEFAULT_COVERAGE)
    section = fit.manifest_section(fitted_on)
    meta = manifest["knowledge_base_expert"]
    meta["calibration"] = section
    meta["method"] = ("probabilities = softmax((log p_network + weight x log p_kb) / temperature); "
                      + meta.get("method", "").split("; ", 1)[-1])
    manifest["conformal"] = fit.conformal.to_manifest() | {"fitted_on": fitted_on}
    if cfg.detector is not None:
        det = ood.fit_threshold(cfg.detector.method, cfg.detector.score(pred.logits, _unknown(pred)),
                                cfg.detector.in_scope_quantile, cfg.detector.unknown_weight)
        manifest["out_of_scope"] = {**manifest["out_of_scope"], **det.to_manifest(), "fitted_on": fitted_on}
    metrics = manifest.setdefault("metrics", {})
    metrics["calibration"] = {**(metrics.get("calibration") or {}), "n": int(len(y)), "split": fitted_on, **fit.after,
                              "network_only": M.multiclass_summary(y, pred.probabilities),
                              "product_before_recalibration": fit.before}
    out = dict(section)
    files = {}
    if test is not None:
        tpred, tkb, ty = parts(test, "test")
        before = combine(tpred.probabilities, tkb, weight, product_temperature(bundle))
        probs = combine(tpred.probabilities, tkb, weight, fit.temperature)
        old = metrics.get("test") or {}
        det = cfg.detector
        te_scores = det.score(tpred.logits, _unknown(tpred)) if det is not None else np.full(len(ty), np.nan)
        metrics["test"] = {**old, "n": int(len(ty)), **M.multiclass_summary(ty, probs),
                           "conformal": conformal.evaluate(probs, ty, fit.conformal),
                           "network_only": M.multiclass_summary(ty, tpred.probabilities),
                           "knowledge_base_only": M.multiclass_summary(ty, _softmax(tkb)),
                           "product_before_recalibration": M.multiclass_summary(ty, before)}
        if det is not None:
            thr = float(manifest["out_of_scope"]["threshold"])
            metrics["test"]["in_scope_flagged"] = float((te_scores > thr).mean())
        out["test_ece_before"] = metrics["test"]["product_before_recalibration"]["ece"]
        out["test_ece_after"] = metrics["test"]["ece"]
        old_tp = bundle.test_predictions
        tp = pd.DataFrame({"y_true": test["label"].to_numpy()})
        if old_tp is not None and "near_duplicate" in old_tp.columns and len(old_tp) == len(tp):
            tp["near_duplicate"] = old_tp["near_duplicate"].to_numpy()
            dup = tp["near_duplicate"].astype(bool).to_numpy()
            metrics["test_deduplicated"] = {**(metrics.get("test_deduplicated") or {}), "n": int((~dup).sum()),
                                            **M.multiclass_summary(ty[~dup], probs[~dup]),
                                            "conformal": conformal.evaluate(probs[~dup], ty[~dup], fit.conformal)}
        tp = pd.concat([tp, pd.DataFrame(probs, columns=[f"prob_{lab}" for lab in labels])], axis=1)
        tp["out_of_scope_score"] = te_scores
        if len(labels) > WIDE_LABELS_ROUNDING:
            tp = tp.round({f"prob_{lab}": 5 for lab in labels})
        files[TEST_PREDICTIONS_FILE] = tp.to_csv(index=False, float_format=TEST_PREDICTIONS_FLOAT_FORMAT).encode("utf-8")
    manifest["last_validated"] = datetime.now(timezone.utc).date().isoformat()
    for name, data in files.items():
        tmp = path / f".{name}.part"
        tmp.write_bytes(data)
        tmp.replace(path / name)
        manifest["files"][name] = sha256_file(path / name)
    mtmp = path / f".{MANIFEST_FILE}.part"
    mtmp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    mtmp.replace(path / MANIFEST_FILE)
    log.info("product temperature %.4f fitted on %d cases", fit.temperature, len(y))
    return out


def _unknown(pred) -> np.ndarray:
    """Unknown-word shares of a TextPrediction (computed inside the compiled call by every medviz bundle)."""
    if pred.unknown is None:
        raise InputError("the bundle's compiled model gives no unknown-word share; cannot re-fit its out-of-scope threshold")
    return pred.unknown


def _softmax(x: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(x, axis=1)
