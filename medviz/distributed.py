"""Scoring on a Dask cluster: ``python -m medviz score MODEL INPUT -o OUTPUT --engine dask``.

The client (this process) reads the input with the same reader as the single-process path
(:func:`medviz.io.iter_csv_chunks`: CSV cannot be split at byte offsets safely, since a quoted cell
may hold line breaks, so the client parses it, pyarrow at several hundred thousand rows a second),
and submits each chunk to the cluster. A worker scores it with the same scorer and
:func:`medviz.scoring.score_frame`, renders the part (CSV bytes, formulas neutralised, or a Parquet
file) and returns the bytes; the client writes the parts in input order. At most
``2 x workers`` chunks are in flight, so memory stays flat in the input size.

Each worker process loads the bundle once (:func:`_scorer`, cached per process and keyed by the
bundle folder, text column and explain flag). Without ``scheduler`` a
``dask.distributed.LocalCluster`` with ``workers`` processes (one thread each) is started and
stopped here. Workers of an existing cluster need medviz and the bundle folder at the same path.
"""
from __future__ import annotations

import glob
import io
import logging
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from medviz.errors import InputError

log = logging.getLogger(__name__)

ROW_KEY = "row_id"  # 0-based position of the row in the input (files of a glob in name order)

_SCORERS: dict = {}
_LOADS = {"n": 0}


def _scorer(model_dir: str, text_column: str | None, explain: bool | None):
    """The scorer for a bundle, built once per worker process (TensorFlow model loaded once)."""
    key = (model_dir, text_column, explain)
    if key not in _SCORERS:
        from medviz.bundle import load_bundle
        from medviz.runtime import configure_tensorflow
        from medviz.scoring import make_scorer

        configure_tensorflow()
        _SCORERS[key] = make_scorer(load_bundle(model_dir), text_column=text_column, explain=explain)
        _LOADS["n"] += 1
    return _SCORERS[key]


def bundle_loads() -> int:
    """How many bundles this process has loaded (run on each worker by the tests: 1 per bundle)."""
    return _LOADS["n"]


@dataclass(frozen=True)
class Part:
    data: bytes
    rows: int
    errors: int
    warnings: int


def score_part(model_dir: str, text_column: str | None, explain: bool | None, chunk: pd.DataFrame,
               first_row: int, fmt: str, header: bool) -> Part:
    """Score one chunk on a worker: the single-process columns plus ``row_id`` first; CSV bytes
    (formulas neutralised, probabilities to 6 decimals) or a complete Parquet file."""
    from medviz.io import neutralize_formulas
    from medviz.scoring import score_frame, write_csv_chunk

    scorer = _scorer(model_dir, text_column, explain)
    scored = score_frame(scorer, chunk)
    view = scorer.for_csv(scored)
    if ROW_KEY in view.columns:
        view = view.rename(columns={ROW_KEY: f"input_{ROW_KEY}"})
    view.insert(0, ROW_KEY, range(first_row, first_row + len(view)))
    buf = io.BytesIO()
    if fmt == "parquet":
        from medviz.io import ParquetChunkWriter

        w = ParquetChunkWriter(buf)
        w.write(view)
        w.close()
    else:
        write_csv_chunk(neutralize_formulas(view), buf, header=header)
    return Part(buf.getvalue(), len(scored), int((scored["error"] != "").sum()), int((scored["warnings"] != "").sum()))


def expand_inputs(pattern: str) -> list[Path]:
    """One file, or the files a glob matches, in name order. Raises :class:`InputError` if none."""
    p = Path(pattern)
    if p.is_file():
        return [p]
    files = sorted(Path(f) for f in glob.glob(pattern) if Path(f).is_file())
    if not files:
        raise InputError(f"no input file matches '{pattern}'")
    return files


def connect(scheduler: str | None, workers: int | None, timeout: float = 10.0):
    """(client, cluster or None): a client of the scheduler at ``scheduler``, else of a new LocalCluster
    with ``workers`` processes (default 2), one thread each. Raises :class:`InputError` when the
    scheduler does not answer within ``timeout`` seconds."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no answer'})") from None
    n = int(workers or 2)
    if n < 1:
        raise InputError(f"--workers must be at least 1, got {n}")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR, env={"TF_CPP_MIN_LOG_LEVEL": "3", "MEDVIZ_TF_INTRA_THREADS": "1",
                                                            "MEDVIZ_TF_INTER_THREADS": "1", "OMP_NUM_THREADS": "1"})
    return Client(cluster), cluster


def score_distributed(
    model_dir: str | Path,
    inputs: str,
    output: str | Path,
    *,
    text_column: str | None = None,
    chunksize: int | None = None,
    explain: bool | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    fmt: str | None = None,
    single_csv: bool = False,
    limits=None,
    progress: Callable[[int], None] | None = None,
    client=None,
):
    """Score ``inputs`` (a CSV/Parquet file or a glob) on Dask into ``output``.

    ``output``: a folder of parts ``part-00000.parquet`` (``fmt="parquet"``, the default) or
    ``part-00000.csv`` (each with its header), or one CSV file when ``single_csv``. Rows keep input
    order; ``row_id`` (first column) is the row's 0-based position in the input. Written under a
    temporary name and renamed when done (:class:`medviz.io.OutputTarget`). Returns a
    :class:`medviz.scoring.ScoreSummary`; raises what the single-process path raises, and
    :class:`InputError` for an unreachable scheduler or a lost worker.
    """
    from medviz.bundle import load_bundle
    from medviz.io import OutputTarget

    files = expand_inputs(str(inputs))
    bundle = load_bundle(model_dir)  # a bad bundle fails here, before any cluster starts
    model_dir = str(Path(bundle.path).resolve())
    if bundle.is_text:
        text_column = text_column or bundle.manifest.get("inputs", {}).get("text_column", "")
        if not text_column:
            raise InputError("a text bundle needs --text-column: the column that holds the case text")
    fmt = "csv" if single_csv else (fmt or "parquet")
    chunksize = chunksize or (20_000 if bundle.is_text else 100_000)
    own = client is None
    cluster = None
    if own:
        client, cluster = connect(scheduler, workers)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})) or int(workers or 1))
        with OutputTarget(output, folder=not single_csv) as target:
            summary = _run(client, files, target.tmp, model_dir, text_column, explain, fmt, single_csv,
                           chunksize, limits, progress, max_in_flight=2 * n_workers)
        return summary
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


def _run(client, files, tmp: Path, model_dir, text_column, explain, fmt, single_csv, chunksize, limits, progress,
         max_in_flight: int):
    from distributed import KilledWorker

    from medviz.io import ReadInfo, iter_csv_chunks

    import warnings

    # Each chunk travels inside its task (a few MB): the scheduler is then free to give it to any idle
    # worker. scatter() would pin it to the worker it lands on; Dask's "large graph" hint is for
    # collections built on the client, not for data that must move anyway.
    warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
    rows = errors = warns = parts = 0
    notes: list[str] = []
    out = open(tmp, "wb") if single_csv else None
    in_flight: deque = deque()

    def drain_one():
        nonlocal rows, errors, warns, parts
        fut = in_flight.popleft()
        try:
            part = fut.result()
        except KilledWorker:
            raise InputError("a Dask worker died while scoring (out of memory, or killed); nothing was written") from None
        finally:
            fut.release()
        if single_csv:
            out.write(part.data)
        else:
            (tmp / f"part-{parts:05d}.{fmt}").write_bytes(part.data)
        parts += 1
        rows += part.rows
        errors += part.errors
        warns += part.warnings
        if progress:
            progress(rows)

    try:
        first_row = 0
        header = True
        columns = None
        for path in files:
            info = ReadInfo()
            for chunk in iter_csv_chunks(path, chunksize=chunksize, bad_lines="report", limits=limits, info=info):
                if columns is None:
                    columns = list(chunk.columns)
                elif list(chunk.columns) != columns:
                    raise InputError(f"{path.name}: its columns differ from the first file's; every file of a glob "
                                     "needs the same header")
                if not len(chunk):
                    continue
                in_flight.append(client.submit(score_part, model_dir, text_column, explain, chunk, first_row, fmt,
                                               header or not single_csv, pure=False))
                header = False
                first_row += len(chunk)
                while len(in_flight) >= max_in_flight:
                    drain_one()
            notes += [f"{path.name}: {n}" if len(files) > 1 else n for n in info.notes()]
        while in_flight:
            drain_one()
    except BaseException:
        for fut in in_flight:
            fut.cancel()
        raise
    finally:
        if out is not None:
            out.close()
    if rows == 0:
        raise InputError("the file has a header but no rows to score")
    from medviz.scoring import ScoreSummary

    return ScoreSummary(rows=rows, errors=errors, warnings=warns, notes=tuple(notes))


def terminal_progress(stream=sys.stderr) -> Callable[[int], None]:
    """A progress callback writing ``scored N rows`` on one terminal line (a line per update when not a tty)."""
    tty = stream.isatty()

    def show(n: int) -> None:
        stream.write(f"\rscored {n:,} rows" if tty else f"scored {n:,} rows\n")
        stream.flush()

    return show


__all__ = ["score_distributed", "score_part", "expand_inputs", "connect", "terminal_progress", "ROW_KEY", "bundle_loads"]
