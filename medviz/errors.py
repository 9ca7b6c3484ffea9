"""Typed errors. Pages and the CLI catch only :class:`MedvizError` and show its message."""


class MedvizError(ValueError):
    """Base class: a problem the user can act on, with a message that says what and where."""


class BundleError(MedvizError):
    """A model bundle is missing, corrupt or inconsistent."""


class SchemaError(MedvizError):
    """Input data does not match what the bundle declares (columns, types, ranges)."""


class InputError(MedvizError):
    """A single input (a case, a file, an argument) cannot be used."""


class UnsupportedBundleError(MedvizError):
    """A view or command cannot serve this kind of bundle."""


class LimitError(InputError):
    """A file is over a size cap (columns, rows, line or cell length); refused before it is parsed."""
