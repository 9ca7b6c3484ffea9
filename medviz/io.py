"""Reading user files (CSV as spreadsheets write it, Parquet, JSONL) with messages that say what is wrong."""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pandas as pd

from medviz.errors import InputError, LimitError, columns_hint
from medviz.i18n import N_, Message, join_messages

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


ROW_ERRORS_ATTR = "row_errors"


def source_name(source, name: str | None = None) -> str:
    """The name messages give a file: ``name`` when the caller knows it (an upload's own file name),
    else a path's file name, a stream's ``name``, or "uploaded file" for bare bytes."""
    if name:
        return str(name)
    if isinstance(source, (str, Path)):
        return Path(source).name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "uploaded file"
    return str(getattr(source, "name", "uploaded file"))


def open_table(source: str | Path | bytes | IO[bytes], name: str | None = None) -> tuple[IO[bytes], str]:
    """Return a binary stream positioned at 0, and its name for messages (:func:`source_name`).

    Raises :class:`InputError` when a path is not a file."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"input file not found: {path}")
        return open(path, "rb"), source_name(source, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), source_name(source, name)
    source.seek(0)
    return source, source_name(source, name)


# ------------------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class ReadLimits:
    """Caps checked on the raw bytes before the CSV parser sees them (issue 17: a 7.9 MB file with a
    million columns took 340 s and 8.5 GB). ``None`` lifts a cap (the CLI's ``--max-*`` flags, 0).

    - ``max_columns``: columns in the header (counted on the first line's bytes before it is parsed);
    - ``max_rows``: data lines (physical lines after the header; a cell with line breaks counts each);
    - ``max_line_bytes``: bytes in one physical line, UTF-8 (checked block by block as the file streams);
    - ``max_cell_chars``: characters in one cell (checked per parsed block; that row alone is refused).
    """

    max_columns: int | None = 2_000
    max_rows: int | None = None
    max_line_bytes: int | None = 1 << 20
    max_cell_chars: int | None = 100_000

    def describe(self) -> str:
        """The caps as one sentence for pages and messages (a :class:`medviz.i18n.Message`: English text,
        shown translated by the pages)."""
        parts = []
        if self.max_rows:
            parts.append(Message(N_("{n:,} rows"), n=self.max_rows))
        if self.max_columns:
            parts.append(Message(N_("{n:,} columns"), n=self.max_columns))
        if self.max_line_bytes:
            parts.append(Message(N_("{size} per line"), size=_size(self.max_line_bytes)))
        if self.max_cell_chars:
            parts.append(Message(N_("{n:,} characters per cell"), n=self.max_cell_chars))
        return Message(N_("at most {limits}"), limits=join_messages(parts, ", ")) if parts else Message(N_("no limits"))


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n / 1024:g} KB" if n >= 1024 else f"{n} bytes"


#: The CLI's defaults (streaming: no row cap); the Batch page adds a row cap (it holds the file in memory).
DEFAULT_LIMITS = ReadLimits()
UPLOAD_LIMITS = ReadLimits(max_rows=500_000)


# ----------------------------------------------------------------------------- encodings, BOMs

_BOMS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "utf-32", "UTF-32 LE"),
    (b"\x00\x00\xfe\xff", "utf-32", "UTF-32 BE"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8 with BOM"),
    (b"\xff\xfe", "utf-16", "UTF-16 LE"),
    (b"\xfe\xff", "utf-16", "UTF-16 BE"),
)


def _breaks(b: bytes) -> int:
    """Line breaks as an editor counts them: LF, CRLF, or a lone CR (old Mac spreadsheets)."""
    return b.count(b"\n") + b.count(b"\r") - b.count(b"\r\n")


@dataclass
class ReadInfo:
    """How a file was read, for the page's summary and the CLI's output (filled while reading)."""

    encoding: str = "UTF-8"
    delimiter: str = ","
    sep_line: bool = False  # a first line "sep=;" (Excel's delimiter hint) was read and skipped
    fallback_line: int | None = None  # first line that is not UTF-8 (the file was read as Windows-1252)
    decimal_comma: dict = field(default_factory=dict)  # column -> cells read with a decimal comma
    skipped_blank: int = 0  # lines (or rows of empty fields) skipped
    rows: int = 0
    columns: list = field(default_factory=list)  # the header's names, for positions in notes

    def notes(self) -> list[str]:
        """Plain sentences: what was detected and converted (shown to the user, no cell contents)."""
        # medviz.i18n.Message: English for the CLI and logs, translated where the Batch page shows them.
        names = {",": N_("comma"), ";": N_("semicolon"), "\t": N_("tab"), "|": N_("vertical bar")}
        sep = Message(names[self.delimiter]) if self.delimiter in names else repr(self.delimiter)
        out = [Message(N_("read as {encoding}, {separator}-separated (from the file's 'sep=' line)") if self.sep_line
                       else N_("read as {encoding}, {separator}-separated"), encoding=self.encoding, separator=sep)]
        if self.fallback_line:
            out.append(Message(N_("line {line:,} is not UTF-8: the whole file was read as Windows-1252 (the lines "
                                  "before it are plain ASCII, the same in both)"), line=self.fallback_line))
        if self.decimal_comma:  # column positions, not names (a header-less file's names are patient data)
            cols = ", ".join(str(self.columns.index(c) + 1) if c in self.columns else "?" for c in self.decimal_comma)
            n = sum(self.decimal_comma.values())
            out.append(Message(N_("decimal commas read as numbers: {n:,} cell(s) in column(s) {columns}; the output "
                                  "writes them with a decimal point"), n=n, columns=cols))
        if self.skipped_blank:
            out.append(Message(N_("{n:,} blank line(s) or rows of empty fields skipped"), n=self.skipped_blank))
        return out


class _Utf8Stream(io.RawIOBase):
    """The file as UTF-8 bytes for pyarrow, checked block by block before the parser sees them.

    Decoding: a byte-order mark decides (UTF-8, UTF-16 LE/BE: Excel's "Unicode Text", UTF-32);
    without one the file is UTF-8 unless a byte is not, and then, if every byte before it was
    ASCII, Windows-1252 for the whole file (ASCII reads the same in both, so nothing already
    passed on changes); a non-UTF-8 byte after real UTF-8 text, or a byte Windows-1252 leaves
    undefined, is an error naming its line. Python's own codecs decode; only the choice is here
    (charset detectors guess among dozens of code pages on short samples, which a clinical file
    should not be read by).

    Limits (``ReadLimits``): line length and line count on these bytes, numpy over each block.
    A first line ``sep=X`` is dropped and recorded. ``quotes`` counts double-quote bytes (an odd
    total at the end means a quote was never closed).
    """

    RAW_BLOCK = 1 << 20

    def __init__(self, fh, name: str, limits: ReadLimits, info: ReadInfo):
        super().__init__()
        self.fh, self.name, self.limits, self.info = fh, name, limits, info
        self.out = bytearray()
        self.eof = False
        self.carry = b""
        self.decoder = None
        self.non_ascii = False
        self.lines = 0  # line breaks passed on so far
        self.line_len = 0  # bytes of the current line so far
        self.last_cr = False
        self.quotes = 0
        self.first = True
        self.mode = "utf-8"
        self.line_offset = 0  # lines dropped before the header (the sep= line)
        self.started_output = False
        self.header_delims = [0] * len(_DELIMITERS)
        self.bom_bytes = 0  # a UTF-8 byte-order mark dropped at the start
        self.sep_bytes = 0  # the sep= line's bytes dropped
        self.produced = 0  # bytes passed on to self.out so far (after those two)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while len(self.out) < len(b) and not self.eof:
            self._fill()
        n = min(len(b), len(self.out))
        b[:n] = self.out[:n]
        del self.out[:n]
        return n

    def peek(self, n: int) -> bytes:
        while len(self.out) < n and not self.eof:
            self._fill()
        return bytes(self.out[:n])

    def consume(self, n: int) -> None:
        del self.out[:n]

    def _fill(self) -> None:
        raw = self.fh.read(self.RAW_BLOCK)
        final = not raw
        if self.first:
            raw = self._start(raw)
        data = self._decode(raw, final)
        if final:
            self.eof = True
        if data and self.started_output is False:
            self.started_output = True
            m = _SEP_LINE.match(data)
            if m:  # Excel's delimiter hint: not a row; line numbers still count it
                self.info.sep_line = True
                self.info.delimiter = m.group(1).decode("ascii")
                self.line_offset = 1
                self.sep_bytes = m.end()
                data = data[m.end():]
        if data:
            self._check(data)
            self.out += data
            self.produced += len(data)

    def _start(self, raw: bytes) -> bytes:
        self.first = False
        while len(raw) < 4:  # a BOM needs up to 4 bytes
            more = self.fh.read(self.RAW_BLOCK)
            if not more:
                break
            raw += more
        for bom, codec, label in _BOMS:
            if raw.startswith(bom):
                self.info.encoding = label
                if codec == "utf-8":
                    self.bom_bytes = len(bom)
                    return raw[len(bom):]
                self.mode = codec
                self.decoder = codecs.getincrementaldecoder(codec)(errors="strict")
                return raw
        if raw.startswith(b"PAR1"):
            raise InputError(f"{self.name}: this is a Parquet file; give it a .parquet name")
        what = sniff_binary(raw[:65536])
        if what:
            raise InputError(f"{self.name}: this is {what}, not a CSV text file; export it as CSV (comma-separated) first")
        return raw

    def _line_at(self, data: bytes, pos: int) -> int:
        return self.line_offset + self.lines + _breaks(data[:pos]) + 1

    def _decode(self, raw: bytes, final: bool) -> bytes:
        if self.decoder is not None:  # UTF-16 / UTF-32
            try:
                return self.decoder.decode(raw, final).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{self.name}: not valid {self.info.encoding} after line {self.line_offset + self.lines + 1:,} "
                                 f"({exc.reason}); save it again as UTF-8 or 'Unicode Text'") from None
        data = self.carry + raw
        self.carry = b""
        if self.mode == "cp1252":
            return self._cp1252(data)
        if data.isascii():
            return data
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not final and exc.reason == "unexpected end of data" and exc.start >= len(data) - 3:
                self.carry = data[exc.start:]  # a character cut by the block boundary
                data = data[: exc.start]
                self.non_ascii = self.non_ascii or not data.isascii()
                return data
            line = self._line_at(data, exc.start)
            if self.non_ascii or not data[: exc.start].isascii():
                raise InputError(
                    f"{self.name}: line {line:,}: byte 0x{data[exc.start]:02X} is not UTF-8, but earlier lines are "
                    "UTF-8 text (a file of mixed encodings?); save it again as UTF-8") from None
            self.mode = "cp1252"
            self.info.encoding = "Windows-1252"
            self.info.fallback_line = line
            return self._cp1252(data)
        self.non_ascii = True
        return data

    def _cp1252(self, data: bytes) -> bytes:
        try:
            return data.decode("cp1252").encode("utf-8")
        except UnicodeDecodeError as exc:
            line = self._line_at(data, exc.start)
            raise InputError(
                f"{self.name}: line {line:,}: byte 0x{data[exc.start]:02X} is neither UTF-8 nor Windows-1252; "
                "save the file as UTF-8") from None

    def _check(self, data: bytes) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero((arr == 10) | (arr == 13))
        if self.lines == 0 and self.limits.max_columns:  # the header line's delimiters, counted as bytes
            first = data[: int(ends[0])] if ends.size else data
            self.header_delims = [a + first.count(d.encode()) for a, d in zip(self.header_delims, _DELIMITERS)]
            if max(self.header_delims) + 1 > self.limits.max_columns:
                raise LimitError(f"{self.name}: the header has more than {self.limits.max_columns:,} columns (the limit; "
                                 "the CLI can lift it with --max-columns)")
        max_line = self.limits.max_line_bytes
        if max_line:
            if ends.size == 0:
                longest, where = self.line_len + len(data), 0
            else:
                seg = np.diff(ends) - 1
                cands = [self.line_len + int(ends[0])] + ([int(seg.max())] if seg.size else []) + [len(data) - int(ends[-1]) - 1]
                longest = max(cands)
                where = 0 if cands[0] == longest else int(ends[int(np.argmax(seg)) if seg.size and int(seg.max()) == longest else -1]) + 1
            if longest > max_line:
                raise LimitError(f"{self.name}: line {self._line_at(data, where):,} is longer than {_size(max_line)} "
                                 f"(the limit per line; the CLI can lift it with --max-line-bytes)")
        n_breaks = _breaks(data) - (1 if self.last_cr and data[:1] == b"\n" else 0)
        self.lines += n_breaks
        self.line_len = self.line_len + len(data) if ends.size == 0 else len(data) - int(ends[-1]) - 1
        self.last_cr = data[-1:] == b"\r"
        self.quotes += data.count(b'"')
        if self.limits.max_rows and self.lines > self.limits.max_rows + 1:
            raise LimitError(f"{self.name}: more than {self.limits.max_rows:,} rows (lines); that is the limit for one "
                             "file here (the CLI streams any size: --max-rows 0)")


_SEP_LINE = re.compile(rb'^"?sep=([,;\t|])"?[^\r\n]*(?:\r\n|\n|\r)', re.IGNORECASE)
# One CSV record from the start of the text: unquoted bytes, or quoted runs with "" escapes.
_RECORD = re.compile(rb'(?:[^"\r\n]|"(?:[^"]|"")*")*')
_DELIMITERS = (",", ";", "\t", "|")


def _choose_delimiter(header: str, sample: str) -> str:
    """The delimiter that splits the header into the most fields and the sample's rows into as many
    (quote-aware, the csv module); comma when none splits the header (a one-column file)."""
    best, best_key = ",", (0, 1)
    lines = sample.splitlines()[1:-1][:50]  # whole lines after the header
    for d in _DELIMITERS:
        try:
            n = len(next(csv.reader([header], delimiter=d)))
            rows = [len(r) for r in csv.reader(lines, delimiter=d)] if lines else []
        except csv.Error:
            continue
        if n < 2:
            continue
        key = (sum(r == n for r in rows), n)
        if key > best_key:
            best, best_key = d, key
    return best


def _header(stream: _Utf8Stream, name: str, limits: ReadLimits, info: ReadInfo) -> tuple[list[str], int]:
    """Read the header record off ``stream``: (column names, physical lines it spans)."""
    cap = limits.max_line_bytes or (64 << 20)
    head = stream.peek(cap + 2)
    if not head.strip(b"\r\n \t"):
        raise InputError(f"{name}: the file is empty (expected a header line and at least one row)")
    m = _RECORD.match(head)
    end = m.end()
    rest = head[end:end + 2]
    if end >= len(head) and not stream.eof:
        raise LimitError(f"{name}: line {stream.line_offset + 1} (the header) is longer than {_size(cap)}")
    if rest[:1] == b'"' or (rest and rest[:1] not in (b"\r", b"\n")):
        raise InputError(f"{name}: line {stream.line_offset + 1}: a quote in the header is never closed")
    text = head[:end].decode("utf-8")
    sample = head[: 65536].decode("utf-8", errors="ignore")
    if not info.sep_line:
        info.delimiter = _choose_delimiter(text, sample)
    try:
        names = next(csv.reader([text], delimiter=info.delimiter, strict=False))
    except (csv.Error, StopIteration):
        names = [text]
    if limits.max_columns and len(names) > limits.max_columns:
        raise LimitError(f"{name}: the header has {len(names):,} columns; the limit is {limits.max_columns:,} "
                         "(the CLI can lift it with --max-columns)")
    names = [n if n != "" else f"Unnamed: {i}" for i, n in enumerate(names)]  # pandas' name for a blank header cell
    info.columns = names
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise InputError(_duplicates_message(name, names, dupes))
    term = 2 if rest == b"\r\n" else 1 if rest[:1] in (b"\r", b"\n") else 0
    stream.consume(end + term)
    return names, 1 + _breaks(head[:end])


def _is_parquet(source) -> bool:
    if isinstance(source, (str, Path)):
        p = Path(source)
        if p.suffix.lower() in (".parquet", ".pq"):
            return True
        try:
            with open(p, "rb") as f:
                return f.read(4) == b"PAR1"
        except OSError:
            return False
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:4]) == b"PAR1"
    return False


def iter_parquet_chunks(source, chunksize: int = 50_000, *, limits: ReadLimits = DEFAULT_LIMITS,
                        info: ReadInfo | None = None, name: str | None = None) -> Iterator[pd.DataFrame]:
    """A Parquet file as pandas chunks of ``chunksize`` rows (pyarrow; column types as stored).

    Raises :class:`InputError` for a file pyarrow cannot read, :class:`LimitError` over the caps
    (columns and rows come from the file's metadata, before any data is read). ``name``: the file's
    name in messages (:func:`source_name`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = source_name(source, name)
    if isinstance(source, (str, Path)) and not Path(source).is_file():
        raise InputError(f"input file not found: {source}")
    try:
        pf = pq.ParquetFile(io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{name}: not a readable Parquet file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    meta = pf.metadata
    if limits.max_columns and meta.num_columns > limits.max_columns:
        raise LimitError(f"{name}: {meta.num_columns:,} columns; the limit is {limits.max_columns:,} (--max-columns)")
    if limits.max_rows and meta.num_rows > limits.max_rows:
        raise LimitError(f"{name}: {meta.num_rows:,} rows; the limit is {limits.max_rows:,} (--max-rows)")
    names = pf.schema_arrow.names
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise InputError(_duplicates_message(name, names, dupes))
    if info is not None:
        info.encoding, info.delimiter = "Parquet", ""
    start = 0
    for batch in pf.iter_batches(batch_size=max(1, int(chunksize))):
        df = batch.to_pandas()
        df.index = pd.RangeIndex(start, start + len(df))
        start += len(df)
        if info is not None:
            info.rows = start
        yield df
    if start == 0:
        yield pf.schema_arrow.empty_table().to_pandas()


def _duplicates_message(name: str, names: list[str], dupes: list[str]) -> str:
    """Positions, not names: a header-less file's 'names' are its first patient row."""
    where = "; ".join("columns " + " and ".join(str(i + 1) for i, c in enumerate(names) if c == d) for d in dupes[:5])
    return (f"{name}: {len(dupes)} column name(s) appear more than once ({where}); each column needs a unique "
            "name — check that the first line is a header row")


def iter_csv_chunks(
    source: str | Path | bytes | IO[bytes], chunksize: int = 50_000, *, bad_lines: str = "error",
    limits: ReadLimits | None = None, info: ReadInfo | None = None, name: str | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream a table as chunks of ``chunksize`` rows, every input column as text (values are
    validated later, never guessed); a Parquet file (by name or its ``PAR1`` mark) keeps its types.

    One reader for every caller (CLI, Batch page, training, evaluation): :class:`_Utf8Stream`
    decodes and checks the bytes (encoding, ``sep=`` line, :class:`ReadLimits`), the header is
    read here (delimiter chosen on it, blank names ``Unnamed: i``, duplicated names an error), then
    pyarrow's streaming CSV reader parses the rest with every column as a string. No index column
    is ever inferred: the header alone fixes the columns.

    ``bad_lines="report"``: a record whose field count differs from the header's comes back as an
    empty row at its place, ``chunk.attrs["row_errors"]`` mapping its index to the reason with the
    physical line an editor shows (a quoted line break counts, as in the editor); ``"error"``: the
    first such record raises :class:`InputError`. A cell longer than ``limits.max_cell_chars``
    refuses its row the same way. Rows whose fields are all empty or blank (blank lines; Excel's ``;;;``)
    are skipped. Where the delimiter is not a comma, cells that are numbers with a decimal comma
    (``33,6``, ``1.234,5``) are given with a decimal point. A quote never closed before the end of
    the file is an :class:`InputError` naming the line where it opens. ``info`` (a
    :class:`ReadInfo`) is filled with what was detected. ``name``: how messages name the file (an
    upload's own file name; default :func:`source_name`): every read error starts with it, once.

    Raises :class:`InputError` for an empty, binary or undecodable file, :class:`LimitError` (an
    InputError) over a cap.
    """
    limits = limits or DEFAULT_LIMITS
    info = info if info is not None else ReadInfo()
    if _is_parquet(source):
        yield from iter_parquet_chunks(source, chunksize, limits=limits, info=info, name=name)
        return
    fh, name = open_table(source, name)
    try:
        yield from _csv_chunks(fh, name, chunksize, bad_lines, limits, info)
    finally:
        if isinstance(source, (str, Path)):  # a file opened here is closed here (also when the caller stops early)
            fh.close()


def _csv_chunks(fh, name, chunksize, bad_lines, limits, info) -> Iterator[pd.DataFrame]:
    stream = _Utf8Stream(fh, name, limits, info)
    names, header_lines = _header(stream, name, limits, info)
    reader = _ArrowRecords(stream, name, names, info, limits, bad_lines, first_line=stream.line_offset + header_lines + 1)
    yield from _record_chunks(reader, names, chunksize, info)


def _record_chunks(reader, names, chunksize, info) -> Iterator[pd.DataFrame]:
    """The records of ``reader`` (:class:`_ArrowRecords`) as chunks of exactly ``chunksize`` rows."""
    chunksize = max(1, int(chunksize))
    pending: list[pd.DataFrame] = []
    errors: dict[int, str] = {}
    n_pending = 0
    start = 0
    emitted = False

    def cut(n):
        nonlocal pending, n_pending, errors, start
        frame = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0].reset_index(drop=True)
        head, tail = frame.iloc[:n], frame.iloc[n:]
        head = head.copy() if len(tail) else head
        head.index = pd.RangeIndex(start, start + len(head))
        head.attrs = {ROW_ERRORS_ATTR: {start + i: m for i, m in errors.items() if i < n}} if errors else {}
        errors = {i - n: m for i, m in errors.items() if i >= n}
        pending = [tail.reset_index(drop=True)] if len(tail) else []
        n_pending = len(tail)
        start += len(head)
        return head

    for frame, errs in reader:
        errors.update({n_pending + i: m for i, m in errs.items()})
        pending.append(frame)
        n_pending += len(frame)
        while n_pending >= chunksize:
            emitted = True
            yield cut(chunksize)
    if n_pending or not emitted:
        if not pending:
            pending = [pd.DataFrame({c: pd.Series([], dtype="str") for c in names})]
        yield cut(n_pending)
    info.rows = start


# ---------------------------------------------------------------- byte ranges (Dask workers read their own part)


@dataclass(frozen=True)
class CsvRange:
    """Bytes ``[start, end)`` of a CSV file holding whole records; ``first_line``: the physical line
    (as an editor numbers it) where the range starts."""

    start: int
    end: int
    first_line: int


@dataclass(frozen=True)
class CsvLayout:
    """How :func:`plan_csv_ranges` read a file's header and where its records may be cut."""

    names: tuple
    delimiter: str
    ranges: tuple  # of CsvRange, in file order, covering every byte after the header
    info: ReadInfo  # encoding, delimiter, sep= line (the parts fill in decimal commas and blank rows)


_SCAN_BLOCK = 16 << 20


def plan_csv_ranges(path: str | Path, target_bytes: int, *, limits: ReadLimits | None = None) -> CsvLayout | None:
    """Cut a CSV file into ranges of about ``target_bytes`` that each start at a record boundary, so
    that every Dask worker can read its own range (:func:`iter_csv_range`) instead of the client
    parsing the whole file and shipping it.

    The header is read by the same code as :func:`iter_csv_chunks` (its errors are raised here:
    empty, binary, duplicated names, column limit). Then one pass over the bytes (numpy / bytes
    methods, 16 MB blocks, no parsing): a cut is a line feed with an even number of ``"`` bytes
    before it (RFC 4180: quotes inside a quoted cell are doubled, so an odd count means "inside a
    quoted cell"). Returns ``None`` — the caller then reads the file itself, exactly as the single
    process does — wherever a range could not be read alone with the same result: an encoding other
    than UTF-8 (UTF-16/32, or the Windows-1252 fallback, which is decided for the whole file), a
    lone CR line break, an odd number of quotes (a quote never closed: the error names its line),
    more lines than ``limits.max_rows``, or no data rows.
    """
    limits = limits or DEFAULT_LIMITS
    path = Path(path)
    info = ReadInfo()
    fh, name = open_table(path)
    with fh:
        stream = _Utf8Stream(fh, name, limits, info)
        names, header_lines = _header(stream, name, limits, info)
        if stream.mode != "utf-8" or stream.decoder is not None:
            return None
        data_start = stream.bom_bytes + stream.sep_bytes + stream.produced - len(stream.out)
    size = path.stat().st_size
    if data_start >= size:
        return None
    target = max(1, int(target_bytes))
    first_line = stream.line_offset + header_lines + 1
    cuts = [(data_start, first_line)]
    quotes = lf = cr = crlf = 0
    lines = 0
    prev_cr = False
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with open(path, "rb") as f:
        f.seek(data_start)
        pos = data_start
        want = data_start + target
        while True:
            block = f.read(_SCAN_BLOCK)
            if not block:
                break
            if not block.isascii():
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    return None
            cr += block.count(b"\r")
            crlf += block.count(b"\r\n") + (1 if prev_cr and block[:1] == b"\n" else 0)
            prev_cr = block[-1:] == b"\r"
            end = pos + len(block)
            while want < end:  # the first line feed at or after `want` outside a quoted cell
                i = block.find(b"\n", want - pos)
                if i < 0:
                    want = end
                    break
                if (quotes + block.count(b'"', 0, i)) % 2 == 0:
                    if pos + i + 1 < size:
                        cuts.append((pos + i + 1, first_line + lf + block.count(b"\n", 0, i + 1)))
                    want = pos + i + 1 + target
                else:
                    want = pos + i + 1
            quotes += block.count(b'"')
            lf += block.count(b"\n")
            pos = end
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return None
    lines = lf
    if cr != crlf or quotes % 2 or (limits.max_rows and lines > limits.max_rows + 1):
        return None
    bounds = [c[0] for c in cuts[1:]] + [size]
    ranges = tuple(CsvRange(s, e, line) for (s, line), e in zip(cuts, bounds))
    return CsvLayout(tuple(names), info.delimiter, ranges, info)


class _RangeFile(io.RawIOBase):
    """Bytes ``[start, end)`` of an open file, read-only."""

    def __init__(self, fh, start: int, end: int):
        super().__init__()
        self.fh, self.left = fh, end - start
        fh.seek(start)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(n) if n else b""
        self.left -= len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def iter_csv_range(
    path: str | Path, rng: CsvRange, names, delimiter: str, chunksize: int = 50_000, *,
    bad_lines: str = "report", limits: ReadLimits | None = None, info: ReadInfo | None = None,
) -> Iterator[pd.DataFrame]:
    """The records of one range from :func:`plan_csv_ranges`, read as :func:`iter_csv_chunks` reads
    them (same parser, limits per line and cell, row errors naming the file's own line numbers,
    blank rows skipped, decimal commas), as chunks of ``chunksize`` rows indexed from 0 within the
    range. ``info`` collects decimal commas and skipped rows. Raises what :func:`iter_csv_chunks`
    raises for the same records."""
    limits = limits or DEFAULT_LIMITS
    info = info if info is not None else ReadInfo()
    info.delimiter, info.columns = delimiter, list(names)
    per_range = ReadLimits(max_columns=None, max_rows=None, max_line_bytes=limits.max_line_bytes,
                           max_cell_chars=limits.max_cell_chars)  # columns and rows: checked by the plan
    path = Path(path)
    with open(path, "rb") as fh:
        stream = _Utf8Stream(_RangeFile(fh, rng.start, rng.end), path.name, per_range, info)
        stream.first = False  # no byte-order mark or sep= line in the middle of a file
        stream.started_output = True
        stream.line_offset = rng.first_line - 1
        reader = _ArrowRecords(stream, path.name, list(names), info, per_range, bad_lines, first_line=rng.first_line)
        yield from _record_chunks(reader, list(names), chunksize, info)


_DECIMAL_COMMA = r"^\s*[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+\s*$"


class _ArrowRecords:
    """pyarrow's streaming reader over a :class:`_Utf8Stream`: yields (frame, {position: error}) per
    block, malformed records and over-long cells as empty rows at their places.

    pyarrow numbers every record it sees (``InvalidRow.number``: 1 = the first after the header,
    blank lines included, with ``use_threads=False``); the batch's good rows fill the numbers its
    bad ones leave, so each bad row is put back at its place. The physical line of record ``n`` is
    the first data line + ``n - 1`` + the line breaks inside the cells of the records before it.
    """

    BLOCK = 16 << 20  # pyarrow's block: a record (quoted line breaks included) must fit in one

    def __init__(self, stream, name, names, info, limits, bad_lines, first_line):
        self.stream, self.name, self.names, self.info = stream, name, names, info
        self.limits, self.bad_lines, self.first_line = limits, bad_lines, first_line
        self.bad: list = []  # (number, kind, text, actual columns) from the handler
        self.next_number = 1
        self.breaks_before = 0  # line breaks inside cells of every record before next_number
        self.last = None  # (line, breaks) of the latest record

    def _handler(self, row) -> str:
        try:  # blank as in _all_empty: every field empty or white space
            blank = not any(f.strip() for f in next(csv.reader([row.text], delimiter=self.info.delimiter)))
        except (csv.Error, StopIteration):
            blank = not row.text.strip()
        kind = "blank" if blank else "bad"
        self.bad.append((row.number, kind, row.text, row.actual_columns))
        return "skip"

    def __iter__(self):
        import pyarrow as pa
        import pyarrow.csv as pacsv

        block = max(self.BLOCK, 4 * (self.limits.max_line_bytes or 0))
        try:
            reader = pacsv.open_csv(
                self.stream,
                read_options=pacsv.ReadOptions(column_names=self.names, block_size=block, use_threads=False),
                parse_options=pacsv.ParseOptions(delimiter=self.info.delimiter, newlines_in_values=True,
                                                 ignore_empty_lines=False, invalid_row_handler=self._handler),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in self.names}, strings_can_be_null=False,
                    quoted_strings_can_be_null=False, check_utf8=False),
            )
        except pa.ArrowInvalid as exc:
            if not self.stream.out and self.stream.eof and not self.bad:  # header only
                return
            raise self._parse_error(exc) from None
        empty = pa.table({c: pa.array([""], type=pa.string()) for c in self.names})
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise self._parse_error(exc) from None
            yield self._assemble(pa.Table.from_batches([batch]), empty)
        if self.bad:  # records after the last batch (all of them malformed)
            yield self._assemble(empty.slice(0, 0), empty, final=True)
        if self.stream.quotes % 2 and self.last and self.last[1] > 0:
            line = self.last[0]
            raise InputError(f"{self.name}: line {line:,}: a quote opened on this line is never closed (every line from "
                             "there to the end of the file would be read as one cell); close or remove the quote")

    def _parse_error(self, exc) -> InputError:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "straddling" in msg or "block" in msg:
            return LimitError(f"{self.name}: a record longer than {_size(self.BLOCK)} (one cell with many line breaks, "
                              "or a quote that is never closed) after line "
                              f"{self.first_line + self.next_number - 1 + self.breaks_before:,}")
        return InputError(f"{self.name}: not a well-formed CSV ({msg.replace('CSV parse error: ', '')})")

    def _assemble(self, table, empty, final: bool = False):
        import pyarrow as pa

        m = table.num_rows
        self.bad.sort(key=lambda b: b[0])
        seq: list = []  # in record order: an int (the batch's row) or a bad record
        bi, g, pos = 0, 0, self.next_number
        while g < m or (bi < len(self.bad) and (final or self.bad[bi][0] == pos)):
            if bi < len(self.bad) and (self.bad[bi][0] == pos or (final and g >= m)):
                seq.append(self.bad[bi])
                bi += 1
            else:
                seq.append(g)
                g += 1
            pos += 1
        self.bad = self.bad[bi:]
        per_row = self._row_breaks(table)
        too_long = self._long_cells(table) if self.limits.max_cell_chars else {}
        dropped_empty = self._all_empty(table)
        take, errors = [], {}
        breaks = self.breaks_before
        for k, item in enumerate(seq):
            line = self.first_line + self.next_number + k - 1 + breaks
            if not isinstance(item, int):
                nb = _breaks(item[2].encode("utf-8"))
                self.last = (line, nb)
                breaks += nb
                if item[1] == "blank":
                    self.info.skipped_blank += 1
                    continue
                msg = _field_count_message(line, item[3], len(self.names), nb)
                if self.bad_lines != "report":
                    raise InputError(f"{self.name}: {msg}")
                errors[len(take)] = msg
                take.append(m)
                continue
            i = item
            nb = int(per_row[i]) if per_row is not None else 0
            self.last = (line, nb)
            breaks += nb
            if dropped_empty is not None and dropped_empty[i]:
                self.info.skipped_blank += 1
                continue
            if i in too_long:
                col, n = too_long[i]
                msg = (f"line {line:,}: column {self.names.index(col) + 1} holds {n:,} characters; the limit is "
                       f"{self.limits.max_cell_chars:,} per cell (the CLI can lift it with --max-cell-chars)")
                if self.bad_lines != "report":
                    raise LimitError(f"{self.name}: {msg}")
                errors[len(take)] = msg
                take.append(m)
                continue
            take.append(i)
        hi = self.next_number + len(seq) - 1
        self.next_number = hi + 1
        self.breaks_before = breaks
        combined = pa.concat_tables([table, empty]) if m else empty
        if len(take) == m and not errors:
            out = table
        else:
            out = combined.take(pa.array(np.asarray(take, dtype=np.int64)))
        out = self._decimal_commas(out)
        df = out.combine_chunks().to_pandas() if out.num_rows else pd.DataFrame(
            {c: pd.Series([], dtype="str") for c in self.names})
        return df, errors

    @staticmethod
    def _row_breaks(table):
        """Line breaks inside each row's cells (None when there are none: the common case)."""
        import pyarrow.compute as pc

        total = None
        for col in table.columns:
            col = col.combine_chunks()
            bufs = col.buffers()
            if len(bufs) < 3 or bufs[2] is None:
                continue
            data = memoryview(bufs[2]).tobytes()
            if b"\n" not in data and b"\r" not in data:
                continue
            n = (pc.count_substring(col, "\n").to_numpy(zero_copy_only=False)
                 + pc.count_substring(col, "\r").to_numpy(zero_copy_only=False)
                 - pc.count_substring(col, "\r\n").to_numpy(zero_copy_only=False))
            total = n if total is None else total + n
        return total

    def _long_cells(self, table) -> dict:
        import pyarrow.compute as pc

        cap = self.limits.max_cell_chars
        out = {}
        for name, col in zip(table.column_names, table.columns):
            col = col.combine_chunks()
            bufs = col.buffers()
            if len(bufs) < 3 or bufs[2] is None or bufs[2].size <= cap:
                continue  # fewer bytes than the cap: no cell can be over it
            lengths = pc.utf8_length(col).to_numpy(zero_copy_only=False)
            for i in np.flatnonzero(lengths > cap):
                out.setdefault(int(i), (name, int(lengths[i])))
        return out

    @staticmethod
    def _all_empty(table):
        import pyarrow.compute as pc

        if not table.num_rows:
            return None
        mask = None
        for col in table.columns:
            e = pc.equal(pc.binary_length(pc.utf8_trim_whitespace(col)), 0)
            mask = e if mask is None else pc.and_(mask, e)
            if not pc.any(mask).as_py():
                return None
        return mask.to_numpy(zero_copy_only=False)

    def _decimal_commas(self, table):
        """Cells that are numbers with a decimal comma, where the delimiter is not a comma, with a point."""
        if self.info.delimiter == "," or not table.num_rows:
            return table
        import pyarrow as pa
        import pyarrow.compute as pc

        cols = {}
        for name, col in zip(table.column_names, table.columns):
            col = col.combine_chunks()
            bufs = col.buffers()
            if len(bufs) < 3 or bufs[2] is None or b"," not in memoryview(bufs[2]).tobytes():
                continue
            hit = pc.fill_null(pc.match_substring_regex(col, _DECIMAL_COMMA), False)
            n = pc.sum(pc.cast(hit, pa.int64())).as_py() or 0
            if not n:
                continue
            fixed = pc.replace_substring(pc.replace_substring(pc.utf8_trim_whitespace(col), ".", ""), ",", ".")
            cols[name] = pc.if_else(hit, fixed, col)
            self.info.decimal_comma[name] = self.info.decimal_comma.get(name, 0) + int(n)
        for name, col in cols.items():
            table = table.set_column(table.column_names.index(name), name, col)
        return table


def _field_count_message(line: int, got: int, want: int, breaks: int) -> str:
    span = f" (lines {line:,}–{line + breaks:,}: a quote opened on line {line:,} may not be closed)" if breaks else ""
    return (f"line {line:,} of the file has {got} field{'s' if got != 1 else ''} but the header has {want}{span}; "
            "the row was not read (an unquoted comma or semicolon?)")


def iter_table_chunks(source, chunksize: int = 50_000, **kw) -> Iterator[pd.DataFrame]:
    """:func:`iter_csv_chunks` (CSV or Parquet) under the name that says so."""
    return iter_csv_chunks(source, chunksize, **kw)


def read_table(source: str | Path | bytes | IO[bytes], *, limits: ReadLimits | None = None) -> pd.DataFrame:
    """Read a whole CSV (string-typed) or Parquet file with the same checks as :func:`iter_csv_chunks`."""
    chunks = list(iter_csv_chunks(source, limits=limits))
    if not chunks or not sum(len(c) for c in chunks):
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
        raise InputError(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}: {columns_hint(df.columns, missing)}")
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


def neutralize_name(name) -> str:
    """A column name as written to a CSV: ``'`` before a formula-like name, as for cells."""
    text = str(name)
    if text.startswith(_FORMULA_START) and pd.isna(pd.to_numeric(pd.Series([text]), errors="coerce")[0]):
        return "'" + text
    return text


def neutralize_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix ``'`` to text cells a spreadsheet would run as a formula (OWASP CSV injection, CWE-1236).

    Cells that are plain numbers ("-5", "+1.2") are left alone so numeric columns stay numeric.
    Column names get the same treatment (a header cell runs as a formula just like a data cell).
    """
    out = df.copy(deep=False)  # columns are replaced, never changed in place
    names = [neutralize_name(c) for c in out.columns]
    if names != list(out.columns):
        out.columns = names
    # dtypes first: a scored differential has 801 float columns, and building each as a Series cost ~40 ms
    # per 1,000 rows of a wide file (benchmarks/differential.py stage breakdown)
    for col, dtype in zip(list(out.columns), list(out.dtypes)):
        if dtype != object and not pd.api.types.is_string_dtype(dtype):
            continue
        s = out[col]
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


# --------------------------------------------------------------------------------------- writing

STALE_SUFFIX = ".stale"


class OutputTarget:
    """Where a run writes: a temporary name beside ``path``, renamed to ``path`` only when the run succeeds.

    Use as a context manager around the whole run. On any failure (an error, Ctrl-C, SIGTERM, a lost
    worker) the temporary is removed, and an output already at ``path`` from an earlier run is renamed
    to ``path + ".stale"`` (replacing an older one) so nothing at ``path`` can be taken for this run's
    result; ``moved_aside`` then names it (the CLI says so). ``folder=True``: the output is a directory.
    """

    def __init__(self, path: str | Path, *, folder: bool = False):
        import os

        self.path = Path(path)
        self.folder = folder
        self.tmp = self.path.with_name(f".{self.path.name}.part-{os.getpid()}")
        self.moved_aside: Path | None = None
        self._old_term = None

    def __enter__(self) -> "OutputTarget":
        import signal
        import threading

        if not self.path.parent.is_dir():
            raise InputError(f"output folder not found: {self.path.parent}")
        self._remove(self.tmp)
        if self.folder:
            self.tmp.mkdir()
        if threading.current_thread() is threading.main_thread():
            def _term(signum, frame):  # a kill (SIGTERM) cleans up like Ctrl-C
                raise KeyboardInterrupt

            self._old_term = signal.signal(signal.SIGTERM, _term)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        import signal

        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)
        if exc_type is None:
            if self.path.is_dir() and self.folder:
                self._remove(self.path)
            self.tmp.replace(self.path) if not self.folder else self.tmp.rename(self.path)
            return False
        self._remove(self.tmp)
        if self.path.exists():
            stale = self.path.with_name(self.path.name + STALE_SUFFIX)
            self._remove(stale)
            self.path.rename(stale)
            self.moved_aside = stale
            if exc is not None:
                try:
                    exc.stale_output = str(stale)  # read by the CLI's error line
                except AttributeError:
                    pass
        return False

    @staticmethod
    def _remove(p: Path) -> None:
        import shutil

        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def output_format(path: str | Path, fmt: str | None = None) -> str:
    """``"parquet"`` or ``"csv"``: ``fmt`` if given, else from the name (``.parquet``/``.pq``), else CSV."""
    if fmt:
        if fmt not in ("csv", "parquet"):
            raise InputError(f"--format must be csv or parquet, got '{fmt}'")
        return fmt
    return "parquet" if Path(path).suffix.lower() in (".parquet", ".pq") else "csv"


class ParquetChunkWriter:
    """Scored chunks appended to one Parquet file (pyarrow), the column types fixed by the first chunk
    (a column that is all-empty there is written as text). Values are kept as typed: no ``'`` prefix
    (a Parquet file is read by programs, not run by a spreadsheet)."""

    def __init__(self, fh):
        self.fh = fh
        self.writer = None
        self.schema = None

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        if self.schema is None:
            fields = [pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type) for f in table.schema]
            self.schema = pa.schema(fields)
            self.writer = pq.ParquetWriter(self.fh, self.schema, compression="zstd")
        self.writer.write_table(table.cast(self.schema, safe=False))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
