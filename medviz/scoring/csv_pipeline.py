"""Scoring whole tables: the three-stage CSV pipeline (read+prepare, score, write) and the Batch page's upload path."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

import numpy as np
import pandas as pd

from medviz.bundle import ModelBundle
from medviz.errors import InputError
from medviz.io import ROW_ERRORS_ATTR, UPLOAD_LIMITS, ReadInfo, iter_csv_chunks
from medviz.scoring.render import write_csv_chunk


log = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of rows done so far


@dataclass(frozen=True)
class ScoreSummary:
    rows: int
    errors: int
    warnings: int
    notes: tuple = field(default=(), compare=False)  # how the file was read (medviz.io.ReadInfo.notes)


def make_scorer(bundle: ModelBundle, *, text_column: str | None = None, explain: bool | None = None, predictor=None,
                top_k: int | None = None):
    """The scorer of the bundle's model family (medviz.families): text needs the text column, tabular
    matches columns by name. ``explain=None``: the family's default (text off: a SHAP run per row is
    costly; tabular on: exact and fast). ``top_k`` (text bundles): ``top_1…top_K`` and their
    probabilities instead of one ``prob_<label>`` per class (issue 15)."""
    from medviz.families import family_for

    scorer = family_for(bundle).scorer(bundle, predictor=predictor, text_column=text_column, explain=explain)
    if top_k is not None:
        scorer.set_top_k(top_k)
    return scorer


def score_frame(scorer, chunk: pd.DataFrame, prepared=None) -> pd.DataFrame:
    """Input columns unchanged, then the scorer's output columns (``prepared``: from ``scorer.prepare``)."""
    out = scorer.score(chunk) if prepared is None else scorer.score(chunk, prepared)
    row_errors = chunk.attrs.get(ROW_ERRORS_ATTR) or {}
    if row_errors:  # lines the CSV parser could not read: outputs empty, the reason in `error`
        idx = list(row_errors)
        for col in out.columns:  # numbers stay float (6 decimals in the file, as in every other chunk)
            if pd.api.types.is_float_dtype(out[col]):
                out.loc[idx, col] = np.nan
            else:
                out[col] = out[col].astype(object)
                out.loc[idx, col] = np.nan if col == "out_of_scope" else ""
        out.loc[idx, "error"] = [row_errors[i] for i in idx]
    clash = [c for c in out.columns if c in chunk.columns]
    base = chunk.rename(columns={c: f"input_{c}" for c in clash}) if clash else chunk
    return pd.concat([base, out], axis=1)


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
    limits=None,
    fmt: str | None = None,
    prepare_processes: int | None = None,
) -> ScoreSummary:
    """Stream ``source`` (CSV or Parquet) through the bundle into ``output``; memory stays flat in the file size.

    ``output``: a path (written to a temporary name and renamed when done; on failure an earlier
    output there is moved to ``<name>.stale``, :class:`medviz.io.OutputTarget`) or a binary stream.
    ``fmt``: ``"csv"`` or ``"parquet"`` (default: from the name, ``.parquet``/``.pq``, else CSV).
    ``limits``: :class:`medviz.io.ReadLimits` (default: the CLI's).
    ``prepare_processes``: text scorers' ``prepare`` in a worker process from the second chunk on, or from the
    first when it is a full ``chunksize`` (:mod:`medviz.scoring.prepare_process`): 1 = yes, 0 = never, None = when
    the machine has 2+ cores. A ``scorer`` passed in keeps its worker process for its next call
    (:meth:`medviz.scoring.prepare_process.PrepareProcess.kept_for`).

    Three stages overlap, one thread each: this thread reads chunk i+2 and runs the scorer's
    ``prepare`` (text: the clinical rules), a scoring thread runs chunk i+1 (model, SHAP, safety
    columns — TensorFlow, NumPy and Arrow release the GIL), a writing thread renders and writes
    chunk i. At most ``_IN_FLIGHT`` chunks wait between stages; rows come out in input order.
    ``chunksize`` defaults to the scorer's (text 20,000: small enough that the three stages fill
    quickly, large enough for full model batches); ``progress`` is called from the writing thread.
    """
    from contextlib import nullcontext

    from medviz.io import OutputTarget, output_format

    scorer_given = scorer is not None
    scorer = scorer or make_scorer(bundle, text_column=text_column, explain=explain)
    chunksize = chunksize or getattr(scorer, "chunksize", 100_000)
    out_path = Path(output) if isinstance(output, (str, Path)) else None
    fmt = output_format(out_path or "", fmt)
    info = ReadInfo()
    with OutputTarget(out_path) if out_path else nullcontext() as target:
        fh = open(target.tmp, "wb") if target else output  # UTF-8 bytes straight from Arrow
        try:
            rows, errors, warns = _pipeline(scorer, source, fh, chunksize, progress, sanitize, limits, fmt, info,
                                            prepare_processes, scorer_given)
        finally:
            if target:
                fh.close()
    log.info("scored %d rows (%d errors)", rows, errors)
    return ScoreSummary(rows=rows, errors=errors, warnings=warns, notes=tuple(info.notes()))


def _pipeline(scorer, source, fh, chunksize, progress, sanitize, limits, fmt, info,
              prepare_processes=None, scorer_given=False) -> tuple[int, int, int]:
    """The three stages of :func:`score_csv` writing to the open binary stream ``fh``: (rows, errors, warnings)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from medviz.io import ParquetChunkWriter, neutralize_formulas
    from medviz.scoring.prepare_process import FIRST_CHUNK_WAIT_S, PrepareProcess

    # a scorer the caller passed in (and may reuse for another file) keeps its warm worker between calls
    keep = scorer_given
    worker = (PrepareProcess.kept_for if keep else PrepareProcess.for_scorer)(scorer, prepare_processes)

    def score(chunk, prepared):
        return score_frame(scorer, chunk, worker.result(prepared, chunk) if worker else prepared)

    rows = errors = warns = 0
    parquet = ParquetChunkWriter(fh) if fmt == "parquet" else None
    # text scores: the probabilities are rounded to 6 decimals by the CSV writer as it looks their text up (the same
    # text as for_csv's np.round then writing: medviz.scoring.render._float_block), not in a rounded copy first
    rounded = frozenset(getattr(scorer, "rounded_columns", list)())

    def write(scored_future, header):
        nonlocal rows, errors, warns
        scored = scored_future.result()
        if parquet is not None:  # typed values, no formula prefix (read by programs)
            parquet.write(scorer.for_csv(scored))
        else:
            view = scorer.for_csv(scored, leave=rounded) if rounded else scorer.for_csv(scored)
            write_csv_chunk(neutralize_formulas(view) if sanitize else view, fh, header=header, rounded=rounded)
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
        for chunk in iter_csv_chunks(source, chunksize=chunksize, bad_lines="report", limits=limits, info=info):
            if first:
                scorer.check_columns(chunk.columns)
            # a full first chunk (more are likely to follow) or a second chunk: worth a worker process (started
            # once; ready in ~1-2 s). A full first chunk waits for it when preparing it here would build the
            # spaCy / medspaCy pipeline (~2.5 CPU s) that the worker builds anyway (PrepareProcess.first_chunk_waits),
            # while nothing else is running here yet (the scoring and writing threads wait for this chunk).
            wait = 0.0
            if worker and (not first or len(chunk) >= chunksize):
                worker.start()
                wait = FIRST_CHUNK_WAIT_S if first and worker.first_chunk_waits() else 0.0
            # Python-heavy preparation in the worker process when it is up, else here, while the other
            # threads score and write earlier chunks
            prepared = worker.submit(chunk, wait=wait) if worker else None
            if prepared is None and hasattr(scorer, "prepare"):
                prepared = scorer.prepare(chunk)
            scored = score_pool.submit(score, chunk, prepared)
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
        raise
    finally:
        if worker and not keep:
            worker.close()
    score_pool.shutdown(wait=True)
    write_pool.shutdown(wait=True)
    if parquet is not None:
        parquet.close()
    return rows, errors, warns


_IN_FLIGHT = 2  # chunks submitted but not yet written


@dataclass(frozen=True)
class ScoredTable:
    """A scored upload held in memory (Batch page): the table for display and the CSV to download."""

    frame: pd.DataFrame  # input columns + outputs, values as typed (not neutralised: display only)
    csv: bytes  # the download, formula injection neutralised
    summary: ScoreSummary
    unexpected_columns: list[str]


def likely_text_column(source: bytes | str | Path | IO[bytes], preferred: str | None = None, *, limits=UPLOAD_LIMITS,
                       name: str | None = None) -> str:
    """The column that most likely holds free-text cases: ``preferred`` (the bundle's own text column)
    if the file has it, else the column whose first 1,000 values hold the most letters on average
    (so an ``id`` or date column is never the default)."""
    for chunk in iter_csv_chunks(source, chunksize=1000, bad_lines="report", limits=limits, name=name):
        columns = [str(c) for c in chunk.columns]
        if preferred in columns:
            return preferred
        letters = [chunk.iloc[:, i].astype(str).str.count(r"[A-Za-z]").mean() for i in range(chunk.shape[1])]
        return columns[int(np.argmax(letters))]
    raise InputError("the file has a header but no rows to score")


def read_columns(source: bytes | str | Path | IO[bytes], *, limits=UPLOAD_LIMITS, name: str | None = None) -> list[str]:
    """The header of a CSV, with the same checks as scoring (empty, binary, malformed, duplicated names, limits).
    ``name``: the upload's file name, which the reader's errors start with (see :func:`medviz.io.iter_csv_chunks`)."""
    for chunk in iter_csv_chunks(source, chunksize=1000, bad_lines="report", limits=limits, name=name):
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
    limits=UPLOAD_LIMITS,
    name: str | None = None,
) -> ScoredTable:
    """Score an uploaded CSV or Parquet file in memory (the page caps uploads, see .streamlit/config.toml;
    ``limits``: :data:`medviz.io.UPLOAD_LIMITS`, checked before parsing; ``name``: the upload's file name,
    which the reader's errors start with)."""
    from medviz.io import neutralize_formulas

    scorer = scorer or make_scorer(bundle, text_column=text_column)
    parts = []
    rows = 0
    unexpected: list[str] = []
    info = ReadInfo()
    for chunk in iter_csv_chunks(data, chunksize=chunksize, bad_lines="report", limits=limits, info=info, name=name):
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
                           warnings=int((frame["warnings"] != "").sum()), notes=tuple(info.notes()))
    return ScoredTable(frame=frame, csv=csv, summary=summary, unexpected_columns=unexpected)
