"""Batch scoring of tables (page upload and `python -m medviz score`), chunk by chunk.

Every input row comes out, in order, with its input columns unchanged and the output columns of the
scored-CSV contract (docs/ARCHITECTURE.md). A row that cannot be scored keeps empty outputs and says
why in ``error``; it is never dropped.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterable

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import InputError, SchemaError, UnsupportedBundleError
from medviz.io import ROW_ERRORS_ATTR, iter_csv_chunks
from medviz.tabular.predict import BANDS

log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of rows done so far


@dataclass(frozen=True)
class ScoreSummary:
    rows: int
    errors: int
    warnings: int


class TextScorer:
    """Scores a text column with a text bundle. Built once per bundle, reused for every chunk."""

    chunksize = 20_000  # rows per chunk in score_csv (10,000: 9,219 cases/s; 5,000: 8,259; 20,000: 9,631)

    def __init__(self, bundle: ModelBundle, text_column: str, predictor=None, explain: bool = False, explainer=None,
                 top_k: int | None = None):
        from medviz.text.predict import TextPredictor

        if not text_column:
            raise InputError("a text bundle needs --text-column: the column that holds the case text")
        self.bundle = bundle
        self.text_column = text_column
        self.predictor = predictor or TextPredictor.from_bundle(bundle)
        self.labels = bundle.labels
        self.top_k = top_k  # wide label sets: top_1…top_K (+ probabilities) instead of prob_<label> (issue 15)
        if top_k is not None:
            from medviz.text.wide import check_top_k

            check_top_k(top_k)
        # top_reasons for text costs a SHAP run per row (~0.3 s), so it is opt-in (--explain).
        self.explainer = explainer
        if explain and explainer is None:
            from medviz.explain import TextExplainer

            self.explainer = TextExplainer.from_predictor(self.predictor)

    def check_columns(self, columns: Iterable[str]) -> None:
        columns = list(columns)
        if self.text_column not in columns:
            raise SchemaError(
                f"text column '{self.text_column}' not found; the file has: {', '.join(map(str, columns)) or '(no columns)'}"
            )

    def output_columns(self) -> list[str]:
        reasons = ["top_reasons"] if self.explainer is not None else []
        return [
            "prediction", "probability", *self._probability_columns(), *reasons,
            "prediction_set", "cant_miss", "out_of_scope", "out_of_scope_score", "warnings", "error",
        ]

    def _probability_columns(self) -> list[str]:
        if self.top_k is None:
            return [f"prob_{lab}" for lab in self.labels]
        from medviz.text.wide import top_k_names

        return top_k_names(min(self.top_k, len(self.labels)))

    def prepare(self, chunk: pd.DataFrame) -> list[str]:
        """The texts the model reads for the chunk's non-empty rows (the bundle's preprocessing).

        Split from :meth:`score` so that ``score_csv`` can run this Python work in its reading
        thread while the scoring thread's model call (which releases the GIL) handles the chunk before."""
        from medviz.text.analyse import SafetyConfig
        from medviz.text.preprocess import apply_preprocessing

        self.check_columns(chunk.columns)
        texts = chunk[self.text_column].astype(str).str.strip()
        kind = SafetyConfig.from_manifest(self.bundle.manifest).preprocessing
        return apply_preprocessing(kind, texts[(texts != "").to_numpy()].tolist())

    def score(self, chunk: pd.DataFrame, prepared: list[str] | None = None) -> pd.DataFrame:
        self.check_columns(chunk.columns)
        texts = chunk[self.text_column].astype(str).str.strip()
        ok = (texts != "").to_numpy()
        read = prepared if prepared is not None else (self.prepare(chunk) if ok.any() else [])
        out = pd.DataFrame(index=chunk.index)
        n_cls = len(self.labels)
        probs = np.full((len(chunk), n_cls), np.nan)
        safety = pd.DataFrame(
            {"prediction_set": "", "out_of_scope": pd.array([pd.NA] * len(chunk), dtype="boolean"),
             "out_of_scope_score": np.nan, "warnings": ""},
            index=chunk.index,
        )
        if ok.any():
            from medviz.text.analyse import analyse_batch

            p, extra = analyse_batch(self.predictor, texts[ok].tolist(), model_texts=read)
            probs[ok] = p
            extra.index = chunk.index[ok]
            safety.loc[extra.index, "prediction_set"] = extra["prediction_set"]
            safety.loc[extra.index, "out_of_scope"] = extra["out_of_scope"].astype("boolean")
            safety.loc[extra.index, "out_of_scope_score"] = extra["out_of_scope_score"]
            safety.loc[extra.index, "warnings"] = extra["warnings"]
        top = np.where(ok, np.nanargmax(np.where(np.isnan(probs), -1, probs), axis=1), -1)
        labels = np.asarray(self.labels, dtype=object)
        out["prediction"] = np.where(ok, labels[np.clip(top, 0, None)], "")
        out["probability"] = np.where(ok, probs[np.arange(len(chunk)), np.clip(top, 0, None)], np.nan)
        if self.top_k is None:
            for j, lab in enumerate(self.labels):
                out[f"prob_{lab}"] = probs[:, j]
        else:
            from medviz.text.wide import top_k_columns

            for col, values in top_k_columns(self.labels, probs, self.top_k).items():
                out[col] = values
        if self.explainer is not None:
            # explain what the model read (after the bundle's preprocessing), as the Case page does
            model_text = pd.Series("", index=chunk.index, dtype=object)
            model_text[ok] = read
            out["top_reasons"] = [
                self._reasons(t, lab) if good else "" for t, lab, good in zip(model_text, out["prediction"], ok)
            ]
        from medviz.text.cant_miss import cant_miss_column

        out["prediction_set"] = safety["prediction_set"]
        out["cant_miss"] = cant_miss_column(self.labels, probs)  # issue 15: named whatever the other flags say
        for col in ("out_of_scope", "out_of_scope_score", "warnings"):
            out[col] = safety[col]
        out["error"] = np.where(ok, "", f"{self.text_column}: empty text, nothing to score")
        return out


    def for_csv(self, scored: pd.DataFrame) -> pd.DataFrame:
        """The scored frame as written to CSV: probabilities and the out-of-scope score to 6 decimals
        (as tabular ``risk``). Full precision stays in memory (evaluation and the page read that);
        the file is a third the size and writes several times faster."""
        cols = ["probability", *self._probability_columns(), "out_of_scope_score"]
        cols = [c for c in cols if c in scored.columns and pd.api.types.is_float_dtype(scored[c])]
        return scored.assign(**{c: scored[c].round(6) for c in cols}) if cols else scored

    def _reasons(self, text: str, label: str) -> str:
        from medviz.errors import MedvizError
        from medviz.explain import top_reasons_text

        try:
            return top_reasons_text(self.explainer.explain(text), label)
        except MedvizError:
            return ""


class TabularScorer:
    """Scores a tabular bundle's feature columns (matched by name). Built once, reused for every chunk.

    Validation (medviz.schema.validate_frame) and the model call are vectorised over the chunk; rows
    with an error keep empty ``risk`` / ``risk_band`` and say why in ``error``.
    """

    def __init__(self, bundle: ModelBundle, predictor=None, explainer=None, explain: bool = True):
        from medviz.tabular.predict import TabularPredictor

        self.bundle = bundle
        self.predictor = predictor or TabularPredictor.from_bundle(bundle)
        self.specs = list(self.predictor.specs)
        self.bands = self.predictor.bands
        self.explainer = None
        if explain:  # exact Shapley, ~2 µs/row on the logit-additive path: on by default
            from medviz.explain import TabularExplainer

            self.explainer = explainer or TabularExplainer.from_bundle(bundle)

    def check_columns(self, columns: Iterable[str]):
        """Raise :class:`SchemaError` naming missing columns; return the check (unexpected columns listed)."""
        from medviz.schema import check_columns

        return check_columns(columns, self.specs)

    def output_columns(self) -> list[str]:
        return ["risk", "risk_band", "flags", "top_reasons", "warnings", "error"]

    def for_csv(self, scored: pd.DataFrame) -> pd.DataFrame:
        """The scored frame as written to CSV: as scored (``risk`` is already rounded in :meth:`score`)."""
        return scored

    def score(self, chunk: pd.DataFrame) -> pd.DataFrame:
        """The output columns for ``chunk``. Text columns are pandas' Arrow-backed strings, built
        column-wise (a clean row costs no Python: messages exist only for flagged rows)."""
        import pyarrow as pa

        from medviz.schema import validate_frame

        v = validate_frame(chunk, self.specs)
        n = len(chunk)
        ok_idx = np.flatnonzero(v.ok)
        risk = np.full(n, np.nan)
        logit = None
        if ok_idx.size:
            x_ok = v.values[ok_idx]
            risk[ok_idx], logit = self.predictor.predict_with_logit(x_ok)
        out = pd.DataFrame(index=chunk.index)
        out["risk"] = np.round(risk, 6)
        out["risk_band"] = _text_column(self.bands.band_codes(risk), _BAND_TEXTS, chunk.index)
        out["flags"] = _str_series(v.flags, chunk.index)
        if self.explainer is not None:
            from medviz.explain import top_reasons_array

            if ok_idx.size:
                phi = self.explainer.shap_values(x_ok, logits=logit if self.explainer.additive else None)
                reasons = top_reasons_array(phi, x_ok.astype(np.float64), self.explainer.specs)
                # rows that were not scored point at one extra empty string
                where = np.full(n, len(ok_idx), dtype=np.int64)
                where[ok_idx] = np.arange(len(ok_idx))
                reasons = pa.concat_arrays([reasons, pa.array([""], type=pa.string())]).take(pa.array(where))
            else:
                reasons = pa.array([""] * n, type=pa.string())
            out["top_reasons"] = pd.Series(reasons.to_pandas().array, index=chunk.index)
        out["warnings"] = _str_series(v.warnings, chunk.index)
        out["error"] = _str_series(v.error, chunk.index)
        return out


_BAND_TEXTS = ("",) + tuple(BANDS)


def _text_column(codes: np.ndarray, texts, index) -> pd.Series:
    """Strings ``texts[code]`` per row as an Arrow-backed pandas column (no Python per row)."""
    import pyarrow as pa

    arr = pa.array(list(texts), type=pa.string()).take(pa.array(codes))
    return pd.Series(arr.to_pandas().array, index=index)


def _str_series(values: np.ndarray, index) -> pd.Series:
    """An object array of str (mostly "") as an Arrow-backed pandas string column."""
    import pyarrow as pa

    return pd.Series(pa.array(values, type=pa.string()).to_pandas().array, index=index)


def make_scorer(bundle: ModelBundle, *, text_column: str | None = None, explain: bool | None = None, predictor=None,
                top_k: int | None = None):
    """The scorer for the bundle's task (text: needs the text column; tabular: columns matched by name).
    ``top_k`` (text only): write ``top_1…top_K`` and their probabilities instead of one ``prob_<label>`` per class."""
    if bundle.is_text:
        return TextScorer(bundle, text_column or bundle.manifest.get("inputs", {}).get("text_column", ""),
                          predictor=predictor, explain=bool(explain), top_k=top_k)
    if bundle.is_tabular:
        # explain=None: text off (a SHAP run per row is costly), tabular on (exact and fast).
        return TabularScorer(bundle, predictor=predictor, explain=explain is not False)
    raise UnsupportedBundleError(f"bundle '{bundle.name}': scoring is not available for task '{bundle.task}'")


def score_frame(scorer, chunk: pd.DataFrame, prepared=None) -> pd.DataFrame:
    """Input columns unchanged, then the scorer's output columns (``prepared``: from ``scorer.prepare``)."""
    out = scorer.score(chunk) if prepared is None else scorer.score(chunk, prepared)
    row_errors = chunk.attrs.get(ROW_ERRORS_ATTR) or {}
    if row_errors:  # lines the CSV parser could not read: outputs empty, the reason in `error`
        idx = list(row_errors)
        for col in out.columns:
            out[col] = out[col].astype(object)
            out.loc[idx, col] = np.nan if col not in ("flags", "warnings", "error", "risk_band", "prediction") else ""
        out.loc[idx, "error"] = [row_errors[i] for i in idx]
    clash = [c for c in out.columns if c in chunk.columns]
    base = chunk.rename(columns={c: f"input_{c}" for c in clash}) if clash else chunk
    return pd.concat([base, out], axis=1)


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
    quote or a newline are quoted, quotes doubled); floats: Python's repr (``1.0``, ``1e-06``),
    empty for NaN; integers as digits; booleans ``True``/``False``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        s = pc.fill_null(arr.cast(pa.large_string()), "")
        if _any_byte_in(s, b',"\n'):
            needs = pc.or_(pc.or_(pc.match_substring(s, ","), pc.match_substring(s, '"')), pc.match_substring(s, "\n"))
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
    import csv
    import io as _io

    buf = _io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([str(c) for c in columns])
    return buf.getvalue()


def render_csv(df: pd.DataFrame) -> bytes | None:
    """The rows of ``df`` as CSV bytes, the same text as ``df.to_csv(index=False, header=False)``.

    Hand-written fast path: pandas' writer formats cell by cell in Python (~16 s for a million
    scored rows) and pyarrow's writer either quotes every string or refuses commas; here each
    column is rendered with pyarrow compute kernels (minimal quoting where a cell needs it) and
    the rows are joined in C++. Returns None for column types it does not handle (pandas then
    writes the chunk).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(df) == 0 or len(df.columns) == 0:
        return None
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    cells = []
    for col in table.columns:
        rendered = _render_column(col.combine_chunks())
        if rendered is None:
            return None
        cells.append(rendered)
    ls = lambda x: pa.scalar(x, pa.large_string())  # noqa: E731
    cells[-1] = pc.binary_join_element_wise(cells[-1], ls("\n"), ls(""))
    lines = pc.binary_join_element_wise(*cells, ls(",")) if len(cells) > 1 else cells[0]
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if not pa.types.is_large_string(lines.type):
        lines = lines.cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]].tobytes()


def write_csv_chunk(df: pd.DataFrame, fh, *, header: bool) -> None:
    """Append ``df`` as CSV to ``fh`` (a text stream, or a binary one: UTF-8); same output as
    ``df.to_csv(index=False)``."""
    try:
        body = render_csv(df)
    except ImportError:
        body = None
    if body is None:
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


def score_csv(
    bundle: ModelBundle,
    source: str | Path | bytes | IO[bytes],
    output: str | Path | IO[str],
    *,
    text_column: str | None = None,
    chunksize: int | None = None,
    progress: Progress | None = None,
    sanitize: bool = True,
    scorer=None,
    explain: bool | None = None,
) -> ScoreSummary:
    """Stream ``source`` through the bundle into ``output``; memory stays flat in the file size.

    Three stages overlap, one thread each: this thread reads chunk i+2 and runs the scorer's
    ``prepare`` (text: the clinical rules), a scoring thread runs chunk i+1 (model, SHAP, safety
    columns — TensorFlow, NumPy and Arrow release the GIL), a writing thread renders and writes
    chunk i. At most ``_IN_FLIGHT`` chunks wait between stages; rows come out in input order.
    ``chunksize`` defaults to the scorer's (text 20,000: small enough that the three stages fill
    quickly, large enough for full model batches); ``progress`` is called from the writing thread.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from medviz.io import neutralize_formulas

    scorer = scorer or make_scorer(bundle, text_column=text_column, explain=explain)
    chunksize = chunksize or getattr(scorer, "chunksize", 100_000)
    rows = errors = warns = 0
    out_path = Path(output) if isinstance(output, (str, Path)) else None
    tmp = out_path.with_name(out_path.name + ".part") if out_path else None
    fh = open(tmp, "wb") if tmp else output  # UTF-8 bytes straight from Arrow

    def write(scored_future, header):
        nonlocal rows, errors, warns
        scored = scored_future.result()
        view = scorer.for_csv(scored)
        write_csv_chunk(neutralize_formulas(view) if sanitize else view, fh, header=header)
        rows += len(scored)
        errors += int((scored["error"] != "").sum())
        warns += int((scored["warnings"] != "").sum())
        if progress:
            progress(rows)

    score_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medviz-score")
    write_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medviz-write")
    writes: deque = deque()
    try:
        first = True
        for chunk in iter_csv_chunks(source, chunksize=chunksize, bad_lines="report"):
            if first:
                scorer.check_columns(chunk.columns)
            # Python-heavy preparation here, while the other threads score and write earlier chunks
            prepared = scorer.prepare(chunk) if hasattr(scorer, "prepare") else None
            scored = score_pool.submit(score_frame, scorer, chunk, prepared)
            writes.append(write_pool.submit(write, scored, first))
            first = False
            while len(writes) > _IN_FLIGHT:  # back-pressure: memory stays flat
                writes.popleft().result()
        while writes:
            writes.popleft().result()
        if rows == 0:
            raise InputError("the file has a header but no rows to score")
    except BaseException:
        for pool in (score_pool, write_pool):
            pool.shutdown(wait=True, cancel_futures=True)
        if tmp:
            fh.close()
            tmp.unlink(missing_ok=True)
        raise
    score_pool.shutdown(wait=True)
    write_pool.shutdown(wait=True)
    if tmp:
        fh.close()
        tmp.replace(out_path)
    log.info("scored %d rows (%d errors)", rows, errors)
    return ScoreSummary(rows=rows, errors=errors, warnings=warns)


_IN_FLIGHT = 2  # chunks submitted but not yet written


@dataclass(frozen=True)
class ScoredTable:
    """A scored upload held in memory (Batch page): the table for display and the CSV to download."""

    frame: pd.DataFrame  # input columns + outputs, values as typed (not neutralised: display only)
    csv: bytes  # the download, formula injection neutralised
    summary: ScoreSummary
    unexpected_columns: list[str]


def likely_text_column(source: bytes | str | Path | IO[bytes], preferred: str | None = None) -> str:
    """The column that most likely holds free-text cases: ``preferred`` (the bundle's own text column)
    if the file has it, else the column whose first 1,000 values hold the most letters on average
    (so an ``id`` or date column is never the default)."""
    for chunk in iter_csv_chunks(source, chunksize=1000, bad_lines="report"):
        columns = [str(c) for c in chunk.columns]
        if preferred in columns:
            return preferred
        letters = [chunk.iloc[:, i].astype(str).str.count(r"[A-Za-z]").mean() for i in range(chunk.shape[1])]
        return columns[int(np.argmax(letters))]
    raise InputError("the file has a header but no rows to score")


def read_columns(source: bytes | str | Path | IO[bytes]) -> list[str]:
    """The header of a CSV, with the same checks as scoring (empty, binary, malformed, duplicated names)."""
    for chunk in iter_csv_chunks(source, chunksize=1000, bad_lines="report"):
        return [str(c) for c in chunk.columns]
    raise InputError("the file has a header but no rows to score")


def count_lines(data: bytes) -> int:
    """Rough row count for a progress bar (physical lines minus the header)."""
    return max(data.count(b"\n") - (0 if data.endswith(b"\n") else -1) - 1, 1)


def score_upload(
    bundle: ModelBundle,
    data: bytes,
    *,
    text_column: str | None = None,
    chunksize: int = 20_000,
    progress: Progress | None = None,
    scorer=None,
) -> ScoredTable:
    """Score an uploaded CSV in memory (the page caps uploads, see .streamlit/config.toml)."""
    from medviz.io import neutralize_formulas

    scorer = scorer or make_scorer(bundle, text_column=text_column)
    parts = []
    rows = 0
    unexpected: list[str] = []
    for chunk in iter_csv_chunks(data, chunksize=chunksize, bad_lines="report"):
        if not parts:
            check = scorer.check_columns(chunk.columns)
            unexpected = list(getattr(check, "unexpected", []) or [])
        parts.append(score_frame(scorer, chunk))
        rows += len(chunk)
        if progress:
            progress(rows)
    if rows == 0:
        raise InputError("the file has a header but no rows to score")
    frame = pd.concat(parts, ignore_index=True)
    out = io.BytesIO()
    write_csv_chunk(neutralize_formulas(scorer.for_csv(frame)), out, header=True)  # as score_csv writes
    csv = out.getvalue()
    summary = ScoreSummary(rows=len(frame), errors=int((frame["error"] != "").sum()),
                           warnings=int((frame["warnings"] != "").sum()))
    return ScoredTable(frame=frame, csv=csv, summary=summary, unexpected_columns=unexpected)
