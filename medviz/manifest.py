"""The bundle manifest as a typed, validated object: bundles are untrusted input (issue 17 item 6).

``manifest.json`` is read once (:func:`parse_manifest_bytes`): size, JSON nesting depth, node count
and string lengths are checked before anything looks inside (a deeply nested file made ``json.loads``
raise RecursionError and took every page down); then the common keys are validated by
:class:`Manifest` (pydantic 2: types, sizes, a known task kind, distinct labels, SHA-256 digests,
file names that stay inside the bundle folder); then the model family of the task checks its own
sections (``medviz.families``: text — sequence length, conformal / out-of-scope / preprocessing
sections; tabular — feature specs and risk bands).

Every failure is a :class:`~medviz.errors.BundleError` naming the key path and what was expected.
Messages never quote values from the file (pydantic's ``input_value`` is dropped), never print file
contents and never hash a file outside the bundle: :func:`confined_file` refuses ``..``, absolute
paths and symlinks that leave the folder before any file is opened.
"""
from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from medviz.errors import BundleError

MAX_MANIFEST_BYTES = 8 * 1024 * 1024  # an 801-label bundle's manifest with per-class metrics is ~1 MB
MAX_DEPTH = 32  # nesting of objects/arrays
MAX_NODES = 500_000  # values in the whole document
MAX_STRING = 100_000  # characters in one string
MAX_LABELS = 20_000
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _structure_problem(doc: Any) -> str | None:
    """Depth, node count and string length of a parsed JSON document, walked without recursion."""
    stack = [(doc, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return f"more than {MAX_NODES:,} values"
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(value, dict):
            for k, v in value.items():
                if len(k) > MAX_STRING:
                    return f"a key longer than {MAX_STRING:,} characters"
                stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str) and len(value) > MAX_STRING:
            return f"a string longer than {MAX_STRING:,} characters"
    return None


def check_file_name(name: str) -> str:
    """A listed file name must be a relative path inside the bundle: no absolute path, drive, ``..``,
    backslash or control character. Returns it unchanged; raises ValueError otherwise."""
    if not isinstance(name, str) or not name or len(name) > 255:
        raise ValueError("file names must be 1-255 characters")
    if any(ord(c) < 32 for c in name) or "\\" in name or ":" in name:
        raise ValueError("file names may not contain control characters, backslashes or colons")
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or name.startswith("~"):
        raise ValueError("file names must be relative paths inside the bundle folder (no '..', no absolute path)")
    return name


def confined_file(folder: Path, name: str) -> Path:
    """``folder / name``, refused (BundleError) if the name or a symlink on the way leads outside
    ``folder``. Nothing outside the folder is opened, read or hashed."""
    try:
        check_file_name(name)
    except ValueError as exc:
        raise BundleError(f"{folder}: listed file name refused: {exc}") from None
    root = folder.resolve()
    target = (folder / name).resolve()
    if target != root and root not in target.parents:
        raise BundleError(f"{folder}: listed file '{name}' leads outside the bundle folder (a symlink); refused")
    return folder / name


class Manifest(BaseModel):
    """The keys every bundle has, typed. Family sections stay available as extra fields
    (``manifest.model_extra``) and are checked by the family (:mod:`medviz.families`)."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    name: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=64)
    task: str = Field(min_length=1, max_length=100)
    labels: list[str] = Field(min_length=2, max_length=MAX_LABELS)
    inputs: dict[str, Any]
    title: str | None = Field(default=None, max_length=500)
    files: dict[str, str] = Field(default_factory=dict)
    format_version: int | None = None
    # Optional display names of the labels per interface language ({"zh_CN": {label: name}}): shown
    # beside the label in that language; the label itself stays the bundle's identifier everywhere.
    label_names: dict[str, dict[str, str]] = Field(default_factory=dict, max_length=20)

    @field_validator("label_names")
    @classmethod
    def _label_names(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for lang, names in v.items():
            if not re.fullmatch(r"[A-Za-z]{2,3}(_[A-Za-z]{2,4})?", lang):
                raise ValueError("each language code must look like 'zh_CN' or 'fr'")
            if any(not n or len(n) > 300 for n in names.values()):
                raise ValueError("each label name must be 1-300 characters")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("labels must be distinct")
        if any(not lab or len(lab) > 300 for lab in v):
            raise ValueError("each label must be 1-300 characters")
        return v

    @field_validator("files")
    @classmethod
    def _files(cls, v: dict[str, str]) -> dict[str, str]:
        for name, digest in v.items():
            check_file_name(name)
            if not _SHA256.fullmatch(str(digest)):
                raise ValueError("each file needs its SHA-256 as 64 lower-case hex digits")
        return v

    @model_validator(mode="after")
    def _named_labels(self) -> "Manifest":
        known = set(self.labels)
        for lang, names in self.label_names.items():
            if not set(names) <= known:
                raise ValueError(f"label_names.{lang} names labels the bundle does not have")
        return self

    @model_validator(mode="after")
    def _task(self) -> "Manifest":
        from medviz.families import known_tasks

        if self.task not in known_tasks():
            raise ValueError(f"unknown task kind '{self.task}' (expected one of: {', '.join(known_tasks())})")
        return self


def _describe(err: ValidationError) -> str:
    """pydantic's errors without the offending values (they may be long or hostile)."""
    parts = []
    for e in err.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(x) for x in e.get("loc", ())) or "(top level)"
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"'{where}': {msg}")
    more = len(err.errors()) - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_manifest_bytes(data: bytes, where: str) -> tuple[dict[str, Any], Manifest]:
    """Parse and validate a manifest file's bytes -> (the plain dict, the typed :class:`Manifest`).

    Raises BundleError (naming ``where`` and the key path) for anything malformed; the family of the
    task then checks its sections."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise BundleError(f"{where}: {len(data):,} bytes, more than the {MAX_MANIFEST_BYTES:,} a manifest may have")
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{where}: not valid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{where}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise BundleError(f"{where}: not a usable manifest (nested deeper than {MAX_DEPTH} levels)") from None
    if not isinstance(raw, dict):
        raise BundleError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    problem = _structure_problem(raw)
    if problem:
        raise BundleError(f"{where}: not a usable manifest ({problem})")
    missing = [k for k in ("name", "version", "task", "labels", "inputs") if k not in raw]
    if missing:
        raise BundleError(f"{where}: missing required key(s): {', '.join(missing)}")
    try:
        typed = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise BundleError(f"{where}: {_describe(exc)}") from None
    from medviz.families import family_for_task

    family_for_task(typed.task).validate_manifest(raw, where)
    return raw, typed


def section(manifest: Mapping[str, Any], key: str, where: str, kind: type = dict) -> Any:
    """``manifest[key]`` if present and of ``kind`` (None if absent); BundleError otherwise."""
    value = manifest.get(key)
    if value is not None and not isinstance(value, kind):
        raise BundleError(f"{where}: '{key}' must be a {'JSON object' if kind is dict else kind.__name__}")
    return value
