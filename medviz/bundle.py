"""Model bundles: one folder per model, holding the Keras model, its manifest and test predictions.

Layout of a bundle folder::

    models/<name>/
        model.keras            the saved Keras model (raw strings or raw feature values in)
        manifest.json          what the model is, what it takes and returns, provenance, metrics
        test_predictions.csv   held-out predictions (labels + calibrated probabilities)
        <extra files>          optional artefacts named in manifest["files"]

The manifest records the SHA-256 of every file, so a truncated or edited file is caught before
Keras ever parses it. Models are loaded with Keras' safe mode (no arbitrary code from lambdas).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from medviz.errors import BundleError, MedvizError

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.keras"
TEST_PREDICTIONS_FILE = "test_predictions.csv"
# Six significant digits: a probability rounded to 5 decimals keeps them all, and a zero is written "0", not "0.0"
# (the 801-condition bundle's file: 20.7 -> 16.4 MB, which keeps its files under the 30 MB).
TEST_PREDICTIONS_FLOAT_FORMAT = "%.6g"
FORMAT_VERSION = 1

TASK_TEXT = "text_classification"
TASK_TABULAR = "tabular_binary"

REQUIRED_KEYS = ("name", "version", "task", "labels", "inputs")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle. Shared across sessions by the UI cache: never mutate it."""

    path: Path
    manifest: Mapping[str, Any]
    model: Any  # keras.Model
    test_predictions: pd.DataFrame | None = field(repr=False, default=None)
    spec: Any = field(repr=False, default=None)  # medviz.manifest.Manifest, parsed once (load_bundle)

    @property
    def family(self):
        """The model family serving this bundle's task (medviz.families)."""
        from medviz.families import family_for

        return family_for(self)

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def task(self) -> str:
        return str(self.manifest["task"])

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    def label_names(self, language: str) -> dict[str, str]:
        """Display names of the labels in ``language`` (a code of medviz.i18n.LANGUAGES) from the manifest's
        optional ``label_names`` section; {} when the bundle has none for that language."""
        names = (self.manifest.get("label_names") or {}).get(language) or {}
        return {str(k): str(v) for k, v in names.items()}

    def display_label(self, label: str, language: str) -> str:
        """``label`` with its name in ``language`` first when the bundle provides one: ``"肺炎 (Pneumonia)"``."""
        name = self.label_names(language).get(label)
        return f"{name} ({label})" if name and name != label else label

    @property
    def is_text(self) -> bool:
        return self.task == TASK_TEXT

    @property
    def is_tabular(self) -> bool:
        return self.task == TASK_TABULAR

    @property
    def model_sha256(self) -> str:
        return str(self.manifest.get("files", {}).get(MODEL_FILE, ""))

    @property
    def title(self) -> str:
        return str(self.manifest.get("title") or self.name)

    def file(self, name: str) -> Path:
        """Path of an extra artefact declared in the manifest's ``files``."""
        from medviz.manifest import confined_file

        if name not in self.manifest.get("files", {}):
            raise BundleError(f"bundle '{self.name}' has no file '{name}' in its manifest")
        return confined_file(self.path, name)


@dataclass(frozen=True)
class BundleInfo:
    """What the sidebar needs to list a bundle without loading the model."""

    path: Path
    name: str
    version: str
    task: str
    title: str
    error: str | None = None


def _register_custom_objects() -> None:
    from medviz.runtime import configure_tensorflow

    configure_tensorflow()  # before the first TensorFlow operation of the process
    # Importing these modules registers their Keras layers as serializable.
    import medviz.layers  # noqa: F401
    import medviz.text.layers  # noqa: F401
    import medviz.tabular.layers  # noqa: F401
    import medviz.importer.layers  # noqa: F401  (imported models: medviz/importer/)
    import medviz.importer.tokenizer  # noqa: F401


def read_manifest(path: Path | str) -> dict[str, Any]:
    """The bundle's manifest as a plain dict, validated (:func:`read_manifest_typed`)."""
    return read_manifest_typed(path)[0]


def read_manifest_typed(path: Path | str) -> tuple[dict[str, Any], Any]:
    """Read and validate ``manifest.json`` once -> (plain dict, :class:`medviz.manifest.Manifest`).

    Structure limits, the common keys and the family's sections are checked
    (:func:`medviz.manifest.parse_manifest_bytes`); BundleError names the file and the key."""
    from medviz.manifest import MAX_MANIFEST_BYTES, confined_file, parse_manifest_bytes

    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"model bundle folder not found: {path}")
    mpath = confined_file(path, MANIFEST_FILE)
    if not mpath.is_file():
        raise BundleError(f"{path}: no {MANIFEST_FILE} (expected a bundle folder with {MANIFEST_FILE} and {MODEL_FILE})")
    with open(mpath, "rb") as fh:
        data = fh.read(MAX_MANIFEST_BYTES + 1)
    return parse_manifest_bytes(data, str(mpath))


def verify_files(path: Path, manifest: Mapping[str, Any]) -> None:
    """Check every file listed in the manifest exists and matches its recorded SHA-256."""
    from medviz.manifest import confined_file

    files = manifest.get("files") or {}
    if MODEL_FILE not in files:
        raise BundleError(f"{path / MANIFEST_FILE}: 'files' does not list {MODEL_FILE}")
    for fname in files:  # every name confined before any file is opened
        confined_file(path, fname)
    for fname, digest in files.items():
        fpath = path / fname
        if not fpath.is_file():
            raise BundleError(f"{path}: file '{fname}' named in the manifest is missing")
        if sha256_file(fpath) != digest:  # neither digest is printed: the message says which file, not what it holds
            raise BundleError(
                f"{fpath}: contents do not match the SHA-256 recorded in the manifest;"
                " the file is corrupt or was changed after the bundle was saved"
            )


def _output_width(model: Any) -> int:
    out = model.outputs[0] if isinstance(model.outputs, (list, tuple)) else model.outputs
    return int(out.shape[-1])


def check_model_matches(manifest: Mapping[str, Any], model: Any, where: str = "") -> None:
    width = _output_width(model)
    labels = manifest["labels"]
    if manifest["task"] == TASK_TEXT and width != len(labels):
        raise BundleError(
            f"{where}labels disagree: manifest lists {len(labels)} labels but the model outputs {width} classes"
        )
    if manifest["task"] == TASK_TABULAR and width != 1:
        raise BundleError(f"{where}a {TASK_TABULAR} model must output one probability, this one outputs {width}")


def load_model_file(path: Path) -> Any:
    _register_custom_objects()
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad file; report them all as one
        raise BundleError(f"{path}: could not load the Keras model ({type(exc).__name__}: {exc})") from None


def load_bundle(path: Path | str, *, verify: bool = True) -> ModelBundle:
    """Load a bundle folder; raise :class:`BundleError` with a precise message if anything is wrong."""
    path = Path(path)
    manifest, spec = read_manifest_typed(path)
    if verify:
        verify_files(path, manifest)
    model = load_model_file(path / MODEL_FILE)
    check_model_matches(manifest, model, where=f"{path}: ")
    preds = None
    tp = path / TEST_PREDICTIONS_FILE
    if tp.is_file():
        from medviz.manifest import confined_file

        tp = confined_file(path, TEST_PREDICTIONS_FILE)  # a symlink out of the folder is refused
        try:
            preds = pd.read_csv(tp, keep_default_na=False, na_values=[""])
        except Exception as exc:  # pandas parser errors vary
            raise BundleError(f"{tp}: could not read test predictions ({exc})") from None
    return ModelBundle(path=path, manifest=manifest, model=model, test_predictions=preds, spec=spec)


def save_bundle(
    path: Path | str,
    model: Any,
    manifest: Mapping[str, Any],
    test_predictions: pd.DataFrame | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> Path:
    """Write a bundle atomically (to a temp folder, then renamed over ``path``)."""
    path = Path(path)
    manifest = dict(manifest)
    manifest.setdefault("format_version", FORMAT_VERSION)
    manifest.setdefault("saved_at", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    read_check = {k: manifest.get(k) for k in REQUIRED_KEYS}
    if any(v is None for v in read_check.values()):
        raise BundleError(f"manifest is missing required key(s): {[k for k, v in read_check.items() if v is None]}")
    from medviz.families import known_tasks

    if manifest["task"] not in known_tasks():
        raise BundleError(f"unknown task kind '{manifest['task']}' (expected one of: {', '.join(known_tasks())})")
    check_model_matches(manifest, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        model.save(tmp / MODEL_FILE)
        files = {MODEL_FILE: sha256_file(tmp / MODEL_FILE)}
        if test_predictions is not None:
            test_predictions.to_csv(tmp / TEST_PREDICTIONS_FILE, index=False, float_format=TEST_PREDICTIONS_FLOAT_FORMAT)
            files[TEST_PREDICTIONS_FILE] = sha256_file(tmp / TEST_PREDICTIONS_FILE)
        for fname, data in (extra_files or {}).items():
            if "/" in fname or fname in (MANIFEST_FILE, MODEL_FILE, TEST_PREDICTIONS_FILE):
                raise BundleError(f"extra file name '{fname}' is reserved or not a plain file name")
            (tmp / fname).write_bytes(data)
            files[fname] = sha256_file(tmp / fname)
        manifest["files"] = files
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
        path.chmod(0o755)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("saved bundle %s to %s", manifest["name"], path)
    return path


def list_bundles(folder: Path | str) -> list[BundleInfo]:
    """Every sub-folder holding a manifest, sorted by name; broken ones carry ``error`` instead of raising."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out: list[BundleInfo] = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (sub / MANIFEST_FILE).exists():
            continue
        try:
            m = read_manifest(sub)
            out.append(BundleInfo(sub, str(m["name"]), str(m["version"]), m["task"], str(m.get("title") or m["name"])))
        except (MedvizError, OSError) as exc:  # never let one bad folder break the list (or a page)
            out.append(BundleInfo(sub, sub.name, "?", "?", sub.name, error=str(exc)))
    return out


def add_bundle_file(path: Path | str, name: str, data: bytes) -> None:
    """Add (or replace) one extra artefact in an existing bundle and record its SHA-256.

    The model file is untouched; the manifest is rewritten atomically (temp file, then rename).
    """
    path = Path(path)
    manifest = read_manifest(path)
    if "/" in name or name in (MANIFEST_FILE, MODEL_FILE, TEST_PREDICTIONS_FILE):
        raise BundleError(f"extra file name '{name}' is reserved or not a plain file name")
    tmp = path / f".{name}.part"
    tmp.write_bytes(data)
    tmp.replace(path / name)
    files = dict(manifest.get("files") or {})
    files[name] = sha256_file(path / name)
    manifest["files"] = files
    mtmp = path / f".{MANIFEST_FILE}.part"
    mtmp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    mtmp.replace(path / MANIFEST_FILE)
