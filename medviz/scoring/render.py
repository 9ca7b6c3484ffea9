"""Writing scored chunks as CSV text: pyarrow kernels for the column text, pandas' quoting and float text."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import pandas as pd


def _text_column(codes: np.ndarray, texts, index) -> pd.Series:
    """Strings ``texts[code]`` per row as an Arrow-backed pandas column (no Python per row)."""
    import pyarrow as pa

    arr = pa.array(list(texts), type=pa.string()).take(pa.array(codes))
    return pd.Series(arr.to_pandas().array, index=index)


def _str_series(values: np.ndarray, index) -> pd.Series:
    """An object array of str (mostly "") as an Arrow-backed pandas string column."""
    import pyarrow as pa

    return pd.Series(pa.array(values, type=pa.string()).to_pandas().array, index=index)


def _any_byte_in(arr, chars: bytes) -> bool:
    """True if any of ``chars`` occurs in an Arrow string array (a memchr scan of its data buffer;
    a sliced array may be scanned beyond its slice, which can only say True and cost a regex)."""
    bufs = arr.buffers()
    if len(bufs) < 3 or bufs[2] is None:
        return False
    lo, hi = 0, bufs[2].size
    if len(arr) and bufs[1] is not None:  # only the slice's bytes
        width = 8 if arr.type.id == __import__("pyarrow").large_string().id else 4
        off = np.frombuffer(bufs[1], dtype=np.int64 if width == 8 else np.int32)
        lo, hi = int(off[arr.offset]), int(off[arr.offset + len(arr)])
    data = memoryview(bufs[2])[lo:hi].tobytes()
    return any(bytes([c]) in data for c in chars)


def _render_column(arr):
    """The CSV text of one column as ``DataFrame.to_csv`` writes it, or None if not handled here.

    Strings: minimal quoting as pandas/the csv module do it (only cells holding a comma, a double
    quote, a line feed or a carriage return are quoted, quotes doubled; pandas leaves a lone CR
    bare, which a spreadsheet reads as a row break); floats: Python's repr (``1.0``, ``1e-06``),
    empty for NaN; integers as digits; booleans ``True``/``False``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        s = pc.fill_null(arr.cast(pa.large_string()), "")
        if _any_byte_in(s, b',"\n\r'):  # a lone CR ends a row for spreadsheets too: quoted (pandas leaves it bare)
            needs = pc.match_substring_regex(s, '[,"\n\r]')
            idx = np.flatnonzero(needs.to_numpy(zero_copy_only=False))
            if idx.size:  # quote only those cells, then put them in place with one take
                q = pa.scalar('"', pa.large_string())
                sub = s.take(pa.array(idx))
                quoted = pc.binary_join_element_wise(q, pc.replace_substring(sub, '"', '""'), q, pa.scalar("", pa.large_string()))
                where = np.arange(len(s))
                where[idx] = len(s) + np.arange(idx.size)
                s = pa.concat_arrays([s, quoted]).take(pa.array(where))
        return s
    if pa.types.is_floating(t):
        v = arr.to_numpy(zero_copy_only=False).astype(np.float64)
        nan = np.isnan(v)
        txt = pc.cast(pa.array(v, mask=nan), pa.string())  # shortest round-trip digits, as repr
        with np.errstate(invalid="ignore"):
            a = np.abs(v)
            small = ~nan & (a < 1e-4) & (a > 0)  # repr: exponent notation, two-digit exponent
            big = ~nan & (a >= 1e9) & ~np.isinf(v)  # the two switch to exponents at other magnitudes
            whole = ~nan & ~small & ~big & (np.floor(v) == v) & ~np.isinf(v)
        if whole.any():  # Arrow prints 1 where Python prints 1.0
            txt = pc.if_else(pa.array(whole), pc.binary_join_element_wise(txt, ".0", ""), txt)
        if small.any():  # probabilities: many classes sit below 1e-4
            txt = _put(txt, np.flatnonzero(small), _small_numbers(v[small], txt.filter(pa.array(small))))
        if big.any():  # rare here: Python's own repr
            idx = np.flatnonzero(big)
            py = np.asarray(txt.to_pylist(), dtype=object)
            py[idx] = [repr(float(x)) for x in v[idx]]
            txt = pa.array(py, type=pa.string())
        return pc.fill_null(txt, "").cast(pa.large_string())
    if pa.types.is_integer(t):
        return pc.fill_null(pc.cast(arr, pa.large_string()), "")
    if pa.types.is_boolean(t):
        return pc.fill_null(pc.if_else(arr, "True", "False"), "").cast(pa.large_string())
    if pa.types.is_null(t):
        return pa.array([""] * len(arr), type=pa.large_string())
    return None


def _put(arr, idx: np.ndarray, values):
    """``arr`` with the cells at ``idx`` replaced by ``values`` (one Arrow take, no Python per cell)."""
    import pyarrow as pa

    where = np.arange(len(arr))
    where[idx] = len(arr) + np.arange(idx.size)
    return pa.concat_arrays([arr, values.cast(arr.type)]).take(pa.array(where))


def _small_numbers(v: np.ndarray, txt):
    """Python's repr of the numbers ``v`` (all below 1e-4 in size); ``txt`` is Arrow's text for them.
    Rounded outputs (probabilities to 6 decimals) hold few distinct values: repr each once."""
    import pyarrow as pa

    uniq, inverse = np.unique(v, return_inverse=True)
    if uniq.size <= max(256, v.size // 20):
        return pa.array([repr(float(x)) for x in uniq], type=pa.string()).take(pa.array(inverse.ravel()))
    return _python_exponent(txt)


def _python_exponent(txt):
    """Arrow's text for numbers below 1e-4 ("0.0000999", "1.5e-7") rewritten as Python's repr
    ("9.99e-05", "1.5e-07"): same shortest digits, exponent form with at least two exponent digits.
    Vectorised (pyarrow compute); a Python repr per cell cost ~1 s per 20,000 scored text rows."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # decimal form: sign, the zeros after the point, first digit, the other digits
    parts = pc.extract_regex(txt, r"^(?P<sign>-?)0\.(?P<zeros>0*)(?P<first>[1-9])(?P<rest>\d*)$")
    ok = pc.is_valid(parts)
    sign, zeros, first, rest = (pc.struct_field(parts, i) for i in range(4))
    exponent = pc.utf8_lpad(pc.cast(pc.add(pc.utf8_length(zeros), 1), pa.string()), width=2, padding="0")
    point = pc.if_else(pc.equal(pc.utf8_length(rest), 0), "", ".")
    decimal = pc.binary_join_element_wise(sign, first, point, rest, "e-", exponent, "")
    # exponent form: pad a one-digit exponent
    padded = pc.replace_substring_regex(txt, r"e([-+])(\d)$", r"e\10\2")  # RE2: \1, "0", \2
    return pc.if_else(pc.fill_null(ok, False), decimal, padded)


def _header_line(columns) -> str:
    """The header row with the cells' quoting rule (the csv module would leave a lone CR bare)."""
    names = (str(c) for c in columns)
    return ",".join('"' + n.replace('"', '""') + '"' if any(ch in n for ch in ',"\r\n') else n for n in names) + "\n"


def render_csv(df: pd.DataFrame, rounded: frozenset = frozenset()) -> bytes | None:
    """The rows of ``df`` as CSV bytes, the same text as ``df.to_csv(index=False, header=False)``; the float columns
    named in ``rounded`` as if rounded first (``np.round(values, 6)``).

    Hand-written fast path: pandas' writer formats cell by cell in Python (~16 s for a million
    scored rows) and pyarrow's writer quotes every string cell (``quoting_style="needed"``) or refuses
    cells with a comma or quote (``"none"``), and formats 801 probability columns digit by digit; here
    each column is rendered with pyarrow compute kernels (minimal quoting where a cell needs it), a wide
    block of 6-decimal probabilities is looked up (:func:`_float_block`), and the rows are joined in C++.
    Returns None for column types it does not handle (pandas then writes the chunk).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(df) == 0 or len(df.columns) == 0:
        return None
    cells = _float_block(df, rounded)
    rest = [i for i, c in enumerate(cells) if c is None]
    df = _round_columns(df, rounded, rest)  # rounded columns outside the block (few): rounded here
    if rest:
        try:
            table = pa.Table.from_pandas(df.iloc[:, rest], preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            return None
        for i, col in zip(rest, table.columns):
            rendered = _render_column(col.combine_chunks())
            if rendered is None:
                return None
            cells[i] = rendered
    cells = [c for c in cells if c is not _JOINED]
    ls = lambda x: pa.scalar(x, pa.large_string())  # noqa: E731
    cells[-1] = pc.binary_join_element_wise(cells[-1], ls("\n"), ls(""))
    lines = pc.binary_join_element_wise(*cells, ls(",")) if len(cells) > 1 else cells[0]
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if not pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]].tobytes()


_BLOCK_MIN_COLUMNS = 16
_GRID = 1_000_000  # probabilities are written rounded to 6 decimals: k / 1e6
_JOINED = object()  # a column whose text is already part of the cell before it (a run of grid columns)
_ROWS = 512  # rows per block when checking the grid (no (N, C) temporaries; medviz.text.rowwise)


@lru_cache(maxsize=1)
def _grid_text():
    """Python's repr of k / 1e6 for k = 0 … 1e6, then "" (NaN), as one Arrow array: built once per process
    by :func:`_render_column` (~0.2 s; a Python repr per value took seconds on a loaded machine)."""
    import pyarrow as pa

    text = _render_column(pa.array(np.arange(_GRID + 1, dtype=np.float64) / _GRID))
    return pa.concat_arrays([text, pa.array([""], type=pa.large_string())])


_WITH_COMMA: dict = {}  # id(_grid_text()) -> (that array, the table below): follows _grid_text's own cache


def _grid_cells():
    """:func:`_grid_text` followed by the same texts each with a leading comma (code + ``_GRID + 2``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    plain = _grid_text()
    hit = _WITH_COMMA.get(id(plain))
    if hit is None:
        comma = pc.binary_join_element_wise(pa.scalar(",", pa.large_string()), plain, pa.scalar("", pa.large_string()))
        _WITH_COMMA.clear()
        hit = _WITH_COMMA[id(plain)] = (plain, pa.concat_arrays([plain, comma]))
    return hit[1]


def _grid_codes(block: np.ndarray, to_round: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(codes, on_grid) of an (N, M) float block: per cell k = rint(p · 1e6) (``_GRID + 1`` for NaN), and per
    column whether every value is exactly k / 1e6 with 0 <= k <= 1e6 (NaN allowed) — the repr of such a
    value is the repr of ``rint(p · 1e6) / 1e6``, which is exactly how NumPy's ``round(p, 6)`` rounds.
    ``to_round``: (M,) bool, columns to be written rounded to 6 decimals: such a column is on the grid when its
    values lie in [0, 1] (their codes are what ``np.round(p, 6)`` would put on it)."""
    n, m = block.shape
    codes = np.empty((n, m), dtype=np.int64)
    on_grid = np.ones(m, dtype=bool)
    exact = None if to_round is None or not to_round.any() else ~to_round  # columns whose values must sit on the grid
    with np.errstate(invalid="ignore"):
        for i in range(0, n, _ROWS):
            b = block[i : i + _ROWS]
            nan = np.isnan(b)
            k = np.rint(b * _GRID)
            if exact is None:
                on_grid &= (nan | ((k >= 0) & (k <= _GRID) & (k / _GRID == b))).all(axis=0)
            else:
                in_range = nan | ((k >= 0) & (k <= _GRID))
                on_grid &= (in_range & (to_round | (k / _GRID == b))).all(axis=0)
            k[nan] = _GRID + 1
            k[~np.isfinite(k)] = _GRID + 1  # inf: such a column is off the grid anyway
            codes[i : i + _ROWS] = k
    return codes, on_grid


def _float_block(df: pd.DataFrame, rounded: frozenset = frozenset()) -> list:
    """The text of the frame's float columns when there are many (a wide differential writes 801
    probability columns), None for every other column.

    Columns whose values all lie on the 6-decimal grid of [0, 1] (``np.round(p, 6)``, as ``for_csv``
    writes probabilities; NaN allowed) are looked up in :func:`_grid_text` instead of formatted
    (:func:`_grid_codes`). A run of neighbouring grid columns becomes one cell per row: one Arrow take
    in row order from the texts with a leading comma (:func:`_grid_cells`), whose string data is then
    already "p1,p2,…,pK" row after row — only every K-th offset is kept (the other columns of the run
    are marked ``_JOINED``). Rendering 801 separate columns and joining them cost most of the writing
    time (benchmarks/differential.py stage breakdown). Other float columns are rendered together in
    one pass of :func:`_render_column`."""
    import pyarrow as pa

    cells: list = [None] * df.shape[1]
    dtypes = df.dtypes.tolist()  # once: ``df.dtypes`` builds a Series on every access (~9 ms per 4,096 x 815 chunk)
    floats = [i for i, dtype in enumerate(dtypes) if pd.api.types.is_float_dtype(dtype)]
    if len(floats) < _BLOCK_MIN_COLUMNS:
        return cells
    n = len(df)
    block = df.iloc[:, floats].to_numpy(dtype=np.float64, na_value=np.nan)
    names = df.columns
    to_round = np.fromiter((names[i] in rounded for i in floats), dtype=bool, count=len(floats)) if rounded else None
    codes, grid = _grid_codes(block, to_round)
    j = 0
    while j < len(floats):  # runs of grid columns that are neighbours in the frame
        if not grid[j]:
            j += 1
            continue
        end = j + 1
        while end < len(floats) and grid[end] and floats[end] == floats[end - 1] + 1:
            end += 1
        run = codes[:, j:end].copy()
        run[:, 1:] += _GRID + 2  # every value after the first with its leading comma
        taken = _grid_cells().take(pa.array(run.ravel()))  # row-major: a row's cells are neighbours
        width = end - j
        if width == 1:
            cells[floats[j]] = taken
        else:
            bounds = np.frombuffer(taken.buffers()[1], dtype=np.int64)[taken.offset : taken.offset + n * width + 1 : width]
            cells[floats[j]] = pa.LargeStringArray.from_buffers(n, pa.py_buffer(np.ascontiguousarray(bounds)), taken.buffers()[2])
            for i in floats[j + 1 : end]:
                cells[i] = _JOINED
        j = end
    rest = [j for j in range(len(floats)) if not grid[j]]
    if rest:
        values = block[:, rest]
        if to_round is not None and to_round[rest].any():  # a column to round that left [0, 1]: rounded, then written
            values = np.where(to_round[rest][None, :], np.round(values, 6), values)
        rendered = _render_column(pa.array(values.T.ravel()))
        for r, j in enumerate(rest):
            cells[floats[j]] = rendered.slice(r * n, n)
    return cells


def _round_columns(df: pd.DataFrame, rounded: frozenset, positions) -> pd.DataFrame:
    """``df`` with its float columns at ``positions`` whose names are in ``rounded`` rounded to 6 decimals
    (``np.round``; a shallow copy), or ``df`` itself when there are none."""
    dtypes = df.dtypes
    hit = [i for i in positions if df.columns[i] in rounded and pd.api.types.is_float_dtype(dtypes.iloc[i])]
    if not hit:
        return df
    df = df.copy(deep=False)
    for i in hit:
        df.isetitem(i, np.round(df.iloc[:, i].to_numpy(dtype=np.float64), 6))
    return df


def write_csv_chunk(df: pd.DataFrame, fh, *, header: bool, rounded: frozenset = frozenset()) -> None:
    """Append ``df`` as CSV to ``fh`` (a text stream, or a binary one: UTF-8); same output as
    ``df.to_csv(index=False)``. ``rounded``: names of float columns written rounded to 6 decimals, the same text as
    rounding them with ``np.round(values, 6)`` first (the scored CSV's probabilities: looked up on the 6-decimal grid
    without a rounded copy of the frame)."""
    try:
        body = render_csv(df, rounded)
    except ImportError:
        body = None
    if body is None:
        df = _round_columns(df, rounded, range(df.shape[1]))
        if isinstance(fh, (io.RawIOBase, io.BufferedIOBase)):
            fh.write(df.to_csv(index=False, header=header).encode("utf-8"))
        else:
            df.to_csv(fh, index=False, header=header)
        return
    text = isinstance(fh, io.TextIOBase) or not isinstance(fh, (io.RawIOBase, io.BufferedIOBase))
    if header:
        line = _header_line(df.columns)
        fh.write(line if text else line.encode("utf-8"))
    fh.write(body.decode("utf-8") if text else body)
