"""Reading a user's Keras model file safely.

Before Keras parses anything, the file is identified by its first bytes (a ``.keras`` file is a zip
holding ``config.json``; a legacy ``.h5`` file is HDF5 with a ``model_config`` attribute) and its
configuration is searched for content that would run Python code when the model is built: ``Lambda``
layers (their function is stored as Python bytecode or source), lambda activations, and layer classes
from outside Keras. Such a model is refused with what to change. The model is then loaded with Keras
3's loader in safe mode (which refuses the same things again), without compiling it.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from medviz.bundle import sha256_file
from medviz.importer.errors import NotAKerasModelError, UnsafeModelError

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

_FIX = (
    "Rebuild the model with built-in Keras layers only (e.g. a Lambda that scales or slices becomes a "
    "Rescaling, Reshape or Cropping layer; a custom layer's work moves into the data preparation), "
    "copy the weights over (new_model.set_weights(old_model.get_weights())) and save it again"
)


@dataclass(frozen=True)
class KerasFile:
    path: Path
    format: str  # "keras" (zip) or "h5" (legacy HDF5)
    sha256: str
    config: dict  # the model's configuration as stored


def _layers(node: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every dict with a ``class_name`` in a model config, depth first, with where it sits."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield path, node
        for key, value in node.items():
            yield from _layers(value, f"{path}/{key}" if path else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _layers(value, f"{path}[{i}]")


def read_keras_file(path: Path | str) -> KerasFile:
    """Identify the file and read its model configuration; raises :class:`NotAKerasModelError`."""
    p = Path(path)
    if not p.is_file():
        raise NotAKerasModelError(f"model file not found: {p}")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(p) as zf:
                if "config.json" not in zf.namelist():
                    raise NotAKerasModelError(
                        f"{p.name}: a zip file without config.json, so not a Keras 3 .keras model "
                        "(save it with model.save('my_model.keras'))"
                    )
                config = json.loads(zf.read("config.json"))
        except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise NotAKerasModelError(f"{p.name}: a damaged .keras file ({type(exc).__name__})") from None
        fmt = "keras"
    elif head.startswith(HDF5_MAGIC):
        import h5py

        try:
            with h5py.File(p, "r") as f:
                raw = f.attrs.get("model_config")
        except OSError as exc:
            raise NotAKerasModelError(f"{p.name}: a damaged HDF5 file ({exc})") from None
        if raw is None:
            raise NotAKerasModelError(
                f"{p.name}: an HDF5 file without a model configuration (weights only? save the whole model "
                "with model.save('my_model.h5'), not model.save_weights)"
            )
        try:
            config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise NotAKerasModelError(f"{p.name}: the HDF5 model configuration is not valid JSON") from None
        fmt = "h5"
    else:
        raise NotAKerasModelError(
            f"{p.name}: not a Keras model file (expected a .keras file, which is a zip archive, or a legacy "
            ".h5 HDF5 file; this file starts with neither signature)"
        )
    if not isinstance(config, dict) or "class_name" not in config:
        raise NotAKerasModelError(f"{p.name}: the stored configuration does not describe a Keras model")
    return KerasFile(path=p, format=fmt, sha256=sha256_file(p), config=config)


def check_safe(kf: KerasFile) -> None:
    """Refuse a model whose configuration would run Python code when built (:class:`UnsafeModelError`)."""
    for where, node in _layers(kf.config):
        cls = str(node.get("class_name"))
        cfg = node.get("config") if isinstance(node.get("config"), dict) else {}
        name = cfg.get("name", where or cls)
        if cls == "Lambda":
            raise UnsafeModelError(
                f"{kf.path.name}: layer '{name}' is a Lambda layer; its Python function would run when the model is "
                f"loaded, so medviz refuses it (Keras safe mode). {_FIX}"
            )
        if cls == "__lambda__" or cfg.get("function_type") == "lambda":
            raise UnsafeModelError(
                f"{kf.path.name}: '{name}' uses a Python lambda function (stored as code), which medviz refuses to "
                f"load (Keras safe mode). {_FIX}"
            )
        module = node.get("module")
        if isinstance(module, str) and module and not module.startswith("keras") and "registered_name" in node:
            raise UnsafeModelError(
                f"{kf.path.name}: '{name}' is a custom class '{cls}' from module '{module}'; medviz loads only Keras' "
                f"own layers from a model file it did not write. {_FIX}"
            )


def load_keras_model(kf: KerasFile):
    """Keras 3 loader, safe mode, not compiled. Errors become typed errors naming the file."""
    import keras

    check_safe(kf)
    try:
        return keras.saving.load_model(kf.path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad or foreign file; report them as one
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text:
            raise UnsafeModelError(f"{kf.path.name}: Keras safe mode refused the model. {_FIX}") from None
        if "Could not locate" in text or "Unknown layer" in text or "custom_objects" in text:
            raise UnsafeModelError(
                f"{kf.path.name}: the model uses a layer or function Keras does not know (a custom object). {_FIX}"
            ) from None
        first = text.strip().splitlines()[0][:200] if text.strip() else ""
        raise NotAKerasModelError(f"{kf.path.name}: Keras could not load the model ({type(exc).__name__}: {first})") from None
