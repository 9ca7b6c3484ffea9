"""Shared steps of an import: the labelled data split, the model's output head, provenance."""
from __future__ import annotations

import getpass
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from medviz.importer.errors import LabelError, OutputWidthError, TooFewRowsError
from medviz.importer.keras_file import KerasFile


# The calibration part must hold at least this many rows: Platt / temperature fits and a 90 %
# conformal threshold (which needs n >= 9 to be below 1) are unstable below it; the test part at
# least MIN_TEST_ROWS. Each label needs MIN_PER_LABEL rows in the file (one per part, stratified).
MIN_CALIBRATION_ROWS = 30
MIN_TEST_ROWS = 20
MIN_PER_LABEL = 2


@dataclass(frozen=True)
class ImportOptions:
    """What every import needs besides the model file and the data (CLI flags of the same names)."""

    name: str
    label_column: str
    version: str = "1.0.0"
    title: str = ""
    seed: int = 42
    calibration_fraction: float = 0.5
    conformal_coverage: float = 0.90
    oos_quantile: float = 0.95
    imported_by: str | None = None
    data_source: str = ""
    data_licence: str = ""
    data_dates: str = ""
    intended_use: str = ""


@dataclass(frozen=True)
class OutputHead:
    """How the model's first output turns into logits."""

    width: int
    activation: str  # "sigmoid" | "softmax" | "unknown"
    logits_from: str  # how the logits are obtained, for the manifest


def rows_needed(fraction: float) -> int:
    """Labelled rows needed for MIN_CALIBRATION_ROWS in the calibration part and MIN_TEST_ROWS in the test part."""
    return int(max(np.ceil(MIN_CALIBRATION_ROWS / fraction), np.ceil(MIN_TEST_ROWS / (1 - fraction))))


def split_labelled(frame: pd.DataFrame, y: np.ndarray, opts: ImportOptions) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the calibration and test parts: stratified by label, seeded.

    Raises :class:`TooFewRowsError` saying how many rows are needed."""
    from sklearn.model_selection import train_test_split

    frac = opts.calibration_fraction
    if not 0.1 <= frac <= 0.9:
        raise TooFewRowsError(f"--calibration-fraction must be between 0.1 and 0.9, got {frac}")
    n = len(frame)
    need = rows_needed(frac)
    if n < need:
        raise TooFewRowsError(
            f"too few labelled rows to calibrate: {n} usable rows; at least {need} are needed "
            f"({MIN_CALIBRATION_ROWS} for calibration and {MIN_TEST_ROWS} for testing at --calibration-fraction {frac})"
        )
    counts = np.bincount(y)
    rare = [int(i) for i in np.flatnonzero((counts > 0) & (counts < MIN_PER_LABEL))]
    if rare:
        raise TooFewRowsError(
            f"label column '{opts.label_column}': {len(rare)} label(s) have fewer than {MIN_PER_LABEL} rows; each label "
            f"needs at least {MIN_PER_LABEL} (one for calibration, one for testing)"
        )
    idx = np.arange(n)
    cal, test = train_test_split(idx, train_size=frac, random_state=opts.seed, stratify=y)
    return np.sort(cal), np.sort(test)


def clean_labels(series: pd.Series, column: str) -> pd.Series:
    """Labels as stripped strings; blanks are NA. Raises if the column has fewer than two values."""
    s = series.astype("string").str.strip()
    s = s.mask(s == "")
    values = s.dropna().unique()
    if len(values) < 2:
        raise LabelError(
            f"label column '{column}' has {len(values)} distinct value(s); at least 2 are needed to calibrate and test a model"
        )
    return s


def output_head(model) -> OutputHead:
    """Width and final activation of the model's first output (a Dense/Activation/Softmax layer)."""
    import keras

    out = model.outputs[0]
    layer = out._keras_history[0]
    width = int(out.shape[-1])
    act = getattr(getattr(layer, "activation", None), "__name__", None)
    if isinstance(layer, keras.layers.Softmax):
        act = "softmax"
    if act in ("sigmoid", "softmax"):
        src = "pre-activation of the final layer" if isinstance(layer, keras.layers.Dense) else "input of the final activation layer"
        return OutputHead(width, act, src)
    return OutputHead(width, "unknown", "log of the output probabilities (the model exposes no logits)")


def logits_tensor(model, head: OutputHead, x):
    """Apply ``model`` to the symbolic ``x`` and return its logits (N, width) as a symbolic tensor.

    With a final Dense(activation=sigmoid|softmax) the same Dense without its activation (weights
    copied) reads the layer's input; with a final Activation/Softmax layer its input is the logit."""
    import keras

    from medviz.importer.layers import ProbabilitiesToLogits

    layer = model.outputs[0]._keras_history[0]
    if head.activation == "unknown":
        return ProbabilitiesToLogits("sigmoid" if head.width == 1 else "softmax", name="source_log_odds")(model(x))
    pre = keras.Model(model.inputs, layer.input, name="source_model")(x)
    if isinstance(layer, keras.layers.Dense):
        cfg = dict(layer.get_config(), activation="linear", name="source_logits")
        dense = keras.layers.Dense.from_config(cfg)
        z = dense(pre)
        dense.set_weights(layer.get_weights())
        return z
    return pre


def check_width(head: OutputHead, labels: Sequence[str], column: str, model_name: str) -> None:
    if head.width == 1 and head.activation != "softmax":
        if len(labels) != 2:
            raise OutputWidthError(
                f"{model_name} has one output unit (a binary model) but label column '{column}' has {len(labels)} "
                "distinct values; a binary model needs exactly 2"
            )
        return
    if head.width != len(labels):
        raise OutputWidthError(
            f"{model_name} outputs {head.width} classes but label column '{column}' has {len(labels)} distinct values; "
            "give --labels with every class in the model's output order if some are absent from the data"
        )


def importer_name(opts: ImportOptions) -> str:
    if opts.imported_by:
        return opts.imported_by
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers: getpass raises OSError/KeyError
        return "unknown"


def provenance(kf: KerasFile, data_path: Path | None, opts: ImportOptions, computed: list[str], **extra: Any) -> dict[str, Any]:
    """The manifest's ``import`` section: where the model came from, who imported it, when, what was computed."""
    import keras
    import tensorflow as tf

    from medviz.bundle import sha256_file

    return {
        "source_file": kf.path.name,
        "source_format": {"keras": "Keras 3 .keras", "h5": "legacy Keras HDF5 (.h5)"}[kf.format],
        "source_sha256": kf.sha256,
        "imported_by": importer_name(opts),
        "imported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_file": data_path.name if data_path else None,
        "data_sha256": sha256_file(data_path) if data_path and data_path.is_file() else None,
        "computed_at_import": computed,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        **extra,
    }


def training_section(opts: ImportOptions, n_cal: int, n_test: int) -> dict[str, Any]:
    """The manifest's ``training`` section of an imported model: medviz did not train it."""
    out = {
        "data_source": opts.data_source or "not recorded: the model was trained outside medviz (see the Model card's provenance section)",
        "data_licence": opts.data_licence or None,
        "data_dates": opts.data_dates or None,
        "trained_by": "outside medviz (imported)",
        "seed": opts.seed,
        "n_train": None,
        "n_calibration": n_cal,
        "n_test": n_test,
        "calibration_split": (
            f"stratified {opts.calibration_fraction:.0%} of the labelled import file (seed {opts.seed}); the other "
            f"{1 - opts.calibration_fraction:.0%} is the test part"
        ),
    }
    return {k: v for k, v in out.items() if v is not None}
