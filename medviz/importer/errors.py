"""Typed errors of ``python -m medviz import``: each names the file or column, what was expected
and what arrived (never cell contents). All are :class:`medviz.errors.MedvizError` subclasses, so the
CLI prints one line and exits non-zero."""
from __future__ import annotations

from medviz.errors import InputError, SchemaError


class NotAKerasModelError(InputError):
    """The model file is not a Keras model (.keras zip or legacy .h5 with a model config)."""


class UnsafeModelError(InputError):
    """The model holds content that would run code when loaded (Lambda layers, custom classes)."""


class OutputWidthError(SchemaError):
    """The model's output width does not match the labels in the data."""


class TokenizerMismatchError(InputError):
    """The tokenizer does not fit the model (ids beyond the embedding, wrong input kind)."""


class LabelError(SchemaError):
    """The label column cannot be used (one value, blanks, unknown positive value)."""


class TooFewRowsError(InputError):
    """Too few labelled rows to calibrate and test; the message says how many are needed."""
