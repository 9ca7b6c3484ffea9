import json
import shutil

import numpy as np
import pytest

from medviz.bundle import MANIFEST_FILE, MODEL_FILE, list_bundles, load_bundle
from medviz.errors import BundleError, MedvizError


def _copy(src, tmp_path, name="b"):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def test_round_trip(tiny_text_bundle):
    b = load_bundle(tiny_text_bundle)
    assert b.is_text and b.labels == ["flu", "migraine", "rash"]
    assert b.model_sha256 and len(b.model_sha256) == 64
    assert b.test_predictions is not None
    assert {"y_true", "prob_flu", "prob_migraine", "prob_rash"} <= set(b.test_predictions.columns)
    m = b.manifest
    for key in ("name", "version", "task", "labels", "inputs", "training", "metrics", "intended_use", "out_of_scope_uses"):
        assert key in m


def test_missing_model_file(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    (d / MODEL_FILE).unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(d)


def test_corrupt_model_file(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    data = (d / MODEL_FILE).read_bytes()
    (d / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="corrupt"):
        load_bundle(d)
    # Even without the checksum, Keras' failure becomes a BundleError.
    with pytest.raises(BundleError, match="could not load"):
        load_bundle(d, verify=False)


def test_corrupt_manifest(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    (d / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(d)


def test_unknown_task(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    m = json.loads((d / MANIFEST_FILE).read_text())
    m["task"] = "image_segmentation"
    (d / MANIFEST_FILE).write_text(json.dumps(m))
    with pytest.raises(BundleError, match="unknown task kind 'image_segmentation'"):
        load_bundle(d)


def test_labels_disagree(tiny_text_bundle, tmp_path):
    d = _copy(tiny_text_bundle, tmp_path)
    m = json.loads((d / MANIFEST_FILE).read_text())
    m["labels"] = ["a", "b"]
    (d / MANIFEST_FILE).write_text(json.dumps(m))
    with pytest.raises(BundleError, match="labels disagree"):
        load_bundle(d)


def test_bundle_error_is_value_error():
    assert issubclass(BundleError, MedvizError) and issubclass(MedvizError, ValueError)


def test_list_bundles_reports_broken(tiny_text_bundle, tmp_path):
    _copy(tiny_text_bundle, tmp_path, "good")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MANIFEST_FILE).write_text("[]")
    infos = {i.path.name: i for i in list_bundles(tmp_path)}
    assert infos["good"].error is None and infos["good"].name == "tiny-text"
    assert "JSON object" in infos["bad"].error


def test_reload_in_fresh_process(tiny_text_bundle):
    """Custom layers are registered serializable: a new interpreter loads the .keras file in safe mode."""
    import subprocess
    import sys

    code = (
        "import tensorflow as tf;from medviz.bundle import load_bundle;"
        f"b=load_bundle(r'{tiny_text_bundle}');"
        "p,a,l=b.model(tf.constant(['fever and cough']));"
        "print(round(float(p.numpy().sum()),5))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().endswith("1.0")
