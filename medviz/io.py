"""Reading user files (CSV / JSONL) with messages that say what is wrong."""
from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pandas as pd

from medviz.errors import InputError

# A few leading bytes that mark files which are certainly not CSV text.
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx file?)",
    b"\xd0\xcf\x11\xe0": "an OLE2 file (an old Excel .xls file?)",
    b"%PDF": "a PDF file",
    b"\x89PNG": "a PNG image",
    b"\x1f\x8b": "a gzip archive",
}


def sniff_binary(head: bytes) -> str | None:
    """Describe ``head`` if it is clearly not a text file, else None."""
    for sig, what in _BINARY_SIGNATURES.items():
        if head.startswith(sig):
            return what
    if b"\x00" in head[:4096]:
        return "a binary file (it contains NUL bytes)"
    return None


def decode_head(head: bytes) -> str:
    """The encoding to read with: UTF-8 (with or without BOM), else latin-1 (never fails)."""
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if exc.start >= len(head) - 3:
            return "utf-8-sig"
        return "latin-1"


def open_table(source: str | Path | bytes | IO[bytes]) -> tuple[IO[bytes], str]:
    """Return a binary stream positioned at 0, and its name for messages."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"input file not found: {path}")
        return open(path, "rb"), path.name
    if isinstance(source, bytes):
        return io.BytesIO(source), "uploaded file"
    name = getattr(source, "name", "uploaded file")
    source.seek(0)
    return source, str(name)


def sniff_delimiter(sample: str) -> str:
    """Comma unless the header line clearly uses semicolons or tabs (European spreadsheets)."""
    first = sample.splitlines()[0] if sample else ""
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 and counts[best] > counts[","] else ","


ROW_ERRORS_ATTR = "row_errors"
_BAD_LINE_RE = re.compile(r"Skipping line (\d+): expected (\d+) fields, saw (\d+)")


def _with_bad_lines(chunk: pd.DataFrame, caught: list, first_line: int, start: int) -> pd.DataFrame:
    """Put a blank placeholder row where the parser skipped a malformed line, its reason in ``attrs``.

    pandas' C parser can only skip bad lines (with a warning naming the line) or stop; a row must
    never vanish from a scored file, so the skipped lines come back as rows whose error says why.
    Line numbers assume one physical line per record (a quoted newline shifts the placement).
    """
    bad = {}
    for w in caught:
        for m in _BAD_LINE_RE.finditer(str(w.message)):
            line, want, saw = (int(g) for g in m.groups())
            bad[line] = f"line {line} of the file has {saw} fields but the header has {want}; the row was not read (an unquoted comma or semicolon?)"
    total = len(chunk) + len(bad)
    rel = {line - first_line: msg for line, msg in bad.items() if 0 <= line - first_line < total}
    if not rel:
        chunk.index = pd.RangeIndex(start, start + len(chunk))
        return chunk
    total = len(chunk) + len(rel)
    good_pos = np.setdiff1d(np.arange(total), np.fromiter(rel, dtype=int))
    out = pd.DataFrame("", index=pd.RangeIndex(start, start + total), columns=chunk.columns)
    out.iloc[good_pos] = chunk.to_numpy()
    out.attrs[ROW_ERRORS_ATTR] = {start + pos: msg for pos, msg in rel.items()}
    return out


def iter_csv_chunks(
    source: str | Path | bytes | IO[bytes], chunksize: int = 50_000, *, bad_lines: str = "error"
) -> Iterator[pd.DataFrame]:
    """Stream a CSV as string-typed chunks (values are validated later, never guessed by pandas).

    Raises :class:`InputError` for a file that is empty, binary, or not parseable as CSV.
    ``bad_lines="report"``: a line with more fields than the header does not stop the read; it comes
    back as a blank row at its place, and ``chunk.attrs["row_errors"]`` maps its index to the reason.

    With ``bad_lines="report"`` a UTF-8 file is read by pyarrow's streaming CSV reader (C++,
    multi-threaded; about 5x pandas' C parser with ``dtype=str``) with every column as text; the
    first line whose field count differs from the header (or a header pyarrow would read
    differently: empty or multi-line names) hands the rest of the file to the pandas reader
    below, which reports it exactly as before. Both give the same chunks (tested on the
    bad-input corpus).
    """
    fh, name = open_table(source)
    head = fh.read(65536)
    fh.seek(0)
    if not head.strip():
        raise InputError(f"{name}: the file is empty (expected a header line and at least one row)")
    what = sniff_binary(head)
    if what:
        raise InputError(f"{name}: this is {what}, not a CSV text file; export it as CSV (comma-separated) first")
    encoding = decode_head(head)
    sample = head.decode(encoding, errors="replace")
    sep = sniff_delimiter(sample)
    done = 0
    if bad_lines == "report" and encoding == "utf-8-sig":
        names = _header_names(sample, sep, complete=len(head) < 65536 or "\n" in sample)
        if names is not None:
            dupes = sorted({c for c in names if names.count(c) > 1})
            if dupes:
                raise InputError(_duplicates_message(name, names, dupes))
            arrow = _iter_arrow(fh, name, names, sep, chunksize)
            for chunk in arrow:
                done += len(chunk)
                yield chunk
            if not arrow.handed_over:
                return
            fh, name = open_table(source)  # a line pyarrow would not read as pandas does: pandas from here
    yield from _iter_pandas(fh, name, encoding, sep, chunksize, bad_lines, skip=done)


def _header_names(sample: str, sep: str, complete: bool) -> list[str] | None:
    """The header's column names as pandas reads them, or None when only pandas should decide
    (no full line in the sample, a name that is empty or spans lines)."""
    if not complete:
        return None
    try:
        first = next(csv.reader(io.StringIO(sample.lstrip("\ufeff"), newline=""), delimiter=sep))
    except (StopIteration, csv.Error):
        return None
    if not first or any(c == "" or "\n" in c or "\r" in c for c in first):
        return None
    line = sample.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    if len(line) == len(sample.lstrip("\ufeff")):  # no newline after the header: header only
        return None
    return first


class _iter_arrow:
    """pyarrow's streaming reader as chunks of exactly ``chunksize`` rows (the last may be shorter).

    Stops early with ``handed_over`` set at the first block holding a line whose field count
    differs from the header (pyarrow cannot say which row it was); the rows yielded before it
    all precede that line, so pandas can take over after them.
    """

    def __init__(self, fh, name, names, sep, chunksize):
        self.fh, self.name, self.names, self.sep, self.chunksize = fh, name, names, sep, max(1, int(chunksize))
        self.handed_over = False

    def __iter__(self):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        bad = []

        def handler(row):
            bad.append(row.actual_columns)
            return "skip"

        try:
            reader = pacsv.open_csv(
                self.fh,
                read_options=pacsv.ReadOptions(column_names=self.names, skip_rows=1, block_size=8 << 20, use_threads=True),
                parse_options=pacsv.ParseOptions(delimiter=self.sep, newlines_in_values=True, invalid_row_handler=handler),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in self.names}, strings_can_be_null=False,
                    quoted_strings_can_be_null=False, check_utf8=True),
            )
        except pa.ArrowInvalid as exc:
            if bad:
                self.handed_over = True
                return
            raise InputError(f"{self.name}: not a well-formed CSV ({_arrow_message(exc)})") from None
        pending: list = []
        n_pending = 0
        start = 0
        emitted = False
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                if bad:
                    break
                raise InputError(f"{self.name}: not a well-formed CSV ({_arrow_message(exc)})") from None
            if bad:  # this block (or one read ahead) has a malformed line: pandas reads from here
                break
            pending.append(batch)
            n_pending += batch.num_rows
            while n_pending >= self.chunksize:
                table = pa.Table.from_batches(pending)
                yield self._frame(table.slice(0, self.chunksize), start)
                emitted = True
                start += self.chunksize
                rest = table.slice(self.chunksize)
                pending, n_pending = rest.to_batches(), rest.num_rows
        if bad:
            self.handed_over = True
            return
        if n_pending or not emitted:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            yield self._frame(table, start)

    def _frame(self, table, start: int) -> pd.DataFrame:
        df = table.combine_chunks().to_pandas()
        df.index = pd.RangeIndex(start, start + len(df))
        return df


def _duplicates_message(name: str, names: list[str], dupes: list[str]) -> str:
    """Positions, not names: a header-less file's 'names' are its first patient row."""
    where = "; ".join("columns " + " and ".join(str(i + 1) for i, c in enumerate(names) if c == d) for d in dupes[:5])
    return (f"{name}: {len(dupes)} column name(s) appear more than once ({where}); each column needs a unique "
            "name — check that the first line is a header row")


def _arrow_message(exc: Exception) -> str:
    """pyarrow's first message line without the offending row, which it appends after ': ' (cell contents)."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = msg.replace("CSV parse error: ", "")
    return re.sub(r"(Expected \d+ columns, got \d+)\s*:.*$", r"\1", msg)


def _iter_pandas(fh, name, encoding, sep, chunksize, bad_lines, skip: int = 0) -> Iterator[pd.DataFrame]:
    """pandas' C parser, string-typed; ``skip`` rows already given by the Arrow reader are dropped."""
    text = io.TextIOWrapper(fh, encoding=encoding, newline="")
    try:
        reader = pd.read_csv(
            text,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            chunksize=chunksize,
            engine="c",
            on_bad_lines="warn" if bad_lines == "report" else "error",
        )
        rows = 0
        while True:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                try:
                    chunk = next(reader)
                except StopIteration:
                    break
            dupes = _duplicated_names(chunk.columns)
            if dupes:
                base = [str(c).rpartition(".")[0] if str(c).rpartition(".")[0] in dupes else str(c) for c in chunk.columns]
                raise InputError(_duplicates_message(name, base, dupes))
            if bad_lines == "report":
                chunk = _with_bad_lines(chunk, caught, first_line=rows + 2, start=rows)
            else:
                chunk.index = pd.RangeIndex(rows, rows + len(chunk))
            rows += len(chunk)
            if rows <= skip:
                continue
            if rows - len(chunk) < skip:  # the first rows of this chunk were already read
                cut = skip - (rows - len(chunk))
                errs = {i: m for i, m in (chunk.attrs.get(ROW_ERRORS_ATTR) or {}).items() if i >= skip}
                chunk = chunk.iloc[cut:].copy()
                chunk.attrs[ROW_ERRORS_ATTR] = errs
            yield chunk
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not valid {encoding} text after the first 64 KB ({exc.reason}); save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: the file is empty (expected a header line and at least one row)") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{name}: not a well-formed CSV ({_short_parser_message(exc)})") from None
    except csv.Error as exc:
        raise InputError(f"{name}: not a well-formed CSV ({exc})") from None


def _short_parser_message(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return msg.replace("Error tokenizing data. C error: ", "")


def _duplicated_names(columns: pd.Index) -> list[str]:
    # pandas renames duplicates "a", "a.1": detect that mangling.
    names = [str(c) for c in columns]
    seen = set(names)
    out = []
    for c in names:
        base, dot, suffix = c.rpartition(".")
        if dot and suffix.isdigit() and base in seen:
            out.append(base)
    return sorted(set(out))


def read_table(source: str | Path | bytes | IO[bytes]) -> pd.DataFrame:
    """Read a whole CSV (string-typed) with the same checks as :func:`iter_csv_chunks`."""
    chunks = list(iter_csv_chunks(source))
    if not chunks:
        raise InputError("the file has a header but no rows")
    return pd.concat(chunks, ignore_index=True)


def read_labelled(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """Read a CSV or JSONL training file and check the named columns exist."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        try:
            df = pd.read_json(path, lines=path.suffix.lower() != ".json", dtype=False)
        except ValueError as exc:
            raise InputError(f"{path}: not valid JSON lines ({exc})") from None
    else:
        df = read_table(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"the file has: {', '.join(map(str, df.columns))}"
        )
    return df


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def _looks_numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").notna()


def _starts_like_formula(s: pd.Series) -> np.ndarray:
    """True where a cell starts with a formula character. pyarrow's regex kernel runs in C++ over the
    column (a million-row scored file spends seconds in ``.str.startswith`` otherwise)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(s.array, type=pa.string(), from_pandas=True)
        hit = pc.is_in(pc.utf8_slice_codeunits(arr, 0, 1), value_set=pa.array(list(_FORMULA_START)))
        return pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
    except (ImportError, TypeError, ValueError, ArithmeticError, LookupError):
        return s.astype("string").str.startswith(_FORMULA_START).fillna(False).to_numpy(dtype=bool)
    except Exception:  # pyarrow.ArrowInvalid / ArrowTypeError (mixed objects): the pandas path is exact
        return s.astype("string").str.startswith(_FORMULA_START).fillna(False).to_numpy(dtype=bool)


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to text cells a spreadsheet would run as a formula (OWASP CSV injection, CWE-1236).

    Cells that are plain numbers ("-5", "+1.2") are left alone so numeric columns stay numeric.
    """
    out = df.copy(deep=False)  # columns are replaced, never changed in place
    for col in out.columns:
        s = out[col]
        if s.dtype != object and not pd.api.types.is_string_dtype(s):
            continue
        risky = _starts_like_formula(s)
        if not risky.any():
            continue
        idx = np.flatnonzero(risky)
        sub = s.iloc[idx]
        risky_idx = idx[~_looks_numeric(sub).to_numpy()]
        if risky_idx.size:
            mask = np.zeros(len(s), dtype=bool)
            mask[risky_idx] = True
            text = s.astype("string")
            out[col] = s.where(~mask, "'" + text)
    return out
