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


def columns_hint(found, expected) -> str:
    """What to say about a file's columns when an expected one is missing, without listing them.

    A file without a header line has its first patient row read as column names, so messages never
    echo the file's column names: they give the count and, for each expected name, a column that
    differs from it only in case, spaces or a small typo (difflib ratio >= 0.8 — a field name, not data).
    """
    import difflib

    cols = [str(c) for c in found]
    hints = []
    for name in expected:
        for c in cols:
            if c != name and (c.strip().lower() == name.lower()
                              or difflib.SequenceMatcher(None, c.strip().lower(), name.lower()).ratio() >= 0.8):
                hints.append(f"'{c[:40]}' looks like '{name}'")
                break
    text = f"the file has {len(cols)} column(s), none named {', '.join(repr(e) for e in expected[:10])}"
    if hints:
        text += f" ({'; '.join(hints)}; names must match exactly)"
    else:
        text += "; check that its first line is a header row naming the columns"
    return text


def line_numbers(positions, *, first_data_line: int = 2, limit: int = 5) -> str:
    """'lines 2, 7 and 3 more' for 0-based row positions (row 0 is on ``first_data_line``: a header line first)."""
    pos = [int(p) for p in positions]
    shown = ", ".join(str(p + first_data_line) for p in pos[:limit])
    more = f" and {len(pos) - limit} more" if len(pos) > limit else ""
    return f"line{'s' if len(pos) != 1 else ''} {shown}{more}"


class LimitError(InputError):
    """A file is over a size cap (columns, rows, line or cell length); refused before it is parsed."""
