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

# Worker processes of the LocalCluster this module starts: TensorFlow on one thread per worker (one
# worker per core), and Dask's statistical profiler off (it samples every thread's stack every 10 ms:
# about 10 % of a worker's CPU in benchmarks/dask_scoring.py runs, for a dashboard nobody opens here).
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "MEDVIZ_TF_INTRA_THREADS": "1", "MEDVIZ_TF_INTER_THREADS": "1",
              "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}

# Dask's housekeeping in the processes of a LocalCluster started here (scheduler, nannies and client
# share this process): an event-loop health tick every 20 ms per server, a system monitor (psutil,
# network and disk counters) every 500 ms and memory monitors every 100 ms in each worker and nanny.
# Idle 2-worker cluster, 20 s (load 5-6): this process 1.07 -> 0.19 CPU s, each worker 0.84 -> 0.72 CPU s
# with the values below. Nothing here changes scheduling; memory is still checked twice a second.
HOUSEKEEPING = {"distributed.admin.tick.interval": "1s", "distributed.admin.system-monitor.interval": "5s",
                "distributed.admin.system-monitor.disk": False, "distributed.worker.memory.monitor-interval": "500ms"}

_SCORERS: dict = {}
_LOADS = {"n": 0}
_PARTS = {"n": 0}  # parts this process has scored (a part scored twice shows here)


def _scorer(model_dir: str, text_column: str | None, explain: bool | None):
    """The scorer for a bundle, built once per worker process (TensorFlow model loaded once)."""
    key = (model_dir, text_column, explain)
    if key not in _SCORERS:
        from medviz.bundle import load_bundle
        from medviz.runtime import configure_tensorflow
        from medviz.scoring import make_scorer

        configure_tensorflow()
        scorer = make_scorer(load_bundle(model_dir), text_column=text_column, explain=explain)
        _warm_up(scorer)
        _SCORERS[key] = scorer
        _LOADS["n"] += 1
    return _SCORERS[key]


def _warm_up(scorer) -> None:
    """Pay the scorer's one-time costs while the bundle loads, not inside the worker's first part: the
    tabular explainer's coalition table and its XLA compilation (pima-diabetes: ~1.1 CPU s, which
    each worker otherwise paid in its first part of 2,000 rows or more)."""
    explainer = getattr(scorer, "explainer", None)
    if explainer is not None and hasattr(explainer, "warm_up"):
        explainer.warm_up()


def bundle_loads() -> int:
    """How many bundles this process has loaded (run on each worker by the tests: 1 per bundle)."""
    return _LOADS["n"]


def parts_scored() -> int:
    """How many parts this process has scored (run on each worker by the tests: each part once)."""
    return _PARTS["n"]


@dataclass
class Scored:
    """One scored input part on the worker that scored it, waiting for its first ``row_id``."""

    frame: pd.DataFrame | None  # the single-process CSV columns (``scorer.for_csv``), without ``row_id``
    rows: int
    errors: int
    warnings: int
    decimal_comma: dict
    skipped_blank: int


@dataclass(frozen=True)
class PartMeta:
    """What the client gathers from a scored part: counts only (a few bytes)."""

    rows: int
    errors: int
    warnings: int
    decimal_comma: dict
    skipped_blank: int


@dataclass(frozen=True)
class PartSource:
    """Where a worker reads its part: a byte range of a CSV (:func:`medviz.io.plan_csv_ranges`), row
    groups of a Parquet file, or a chunk the client read (sent as the task's ``chunk`` argument)."""

    kind: str  # "range" | "groups" | "chunk"
    path: str = ""
    rng: object = None
    names: tuple = ()
    delimiter: str = ","
    groups: tuple = ()
    chunksize: int = 100_000
    limits: object = None


_HELD: dict[str, Scored] = {}  # part token -> scored part held on this worker until write_part


def _score(model_dir, text_column, explain, src: PartSource, chunk, check: bool) -> Scored:
    from medviz.io import ReadInfo, iter_csv_range
    from medviz.scoring import score_frame

    scorer = _scorer(model_dir, text_column, explain)
    _PARTS["n"] += 1
    info = ReadInfo()
    if src.kind == "range":
        chunks = iter_csv_range(src.path, src.rng, src.names, src.delimiter, src.chunksize, limits=src.limits, info=info)
    elif src.kind == "groups":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(src.path)
        chunks = (b.to_pandas() for b in pf.iter_batches(batch_size=max(1, int(src.chunksize)), row_groups=list(src.groups)))
    else:
        chunks = [chunk]
    views = []
    rows = errors = warns = 0
    for part in chunks:
        if check:  # missing columns: the single-process SchemaError, once per run (a list lookup)
            scorer.check_columns(part.columns)
            check = False
        if not len(part):
            continue
        scored = score_frame(scorer, part)
        views.append(scorer.for_csv(scored))
        rows += len(scored)
        errors += int((scored["error"] != "").sum())
        warns += int((scored["warnings"] != "").sum())
    frame = (pd.concat(views, ignore_index=True) if len(views) > 1 else views[0].reset_index(drop=True)) if views else None
    return Scored(frame, rows, errors, warns, dict(info.decimal_comma), info.skipped_blank)


def score_part(token: str, model_dir: str, text_column: str | None, explain: bool | None, src: PartSource, chunk,
               check: bool) -> PartMeta:
    """On a worker: read the part itself (``src``; ``chunk`` only for ``kind="chunk"``), score it with
    the worker's cached scorer and keep it here under ``token`` for :func:`write_part`; return its
    counts only. ``check``: run the scorer's column check (raises its :class:`SchemaError`)."""
    scored = _score(model_dir, text_column, explain, src, chunk, check)
    _HELD[token] = scored
    return PartMeta(scored.rows, scored.errors, scored.warnings, scored.decimal_comma, scored.skipped_blank)


def write_part(token: str, model_dir: str, text_column: str | None, explain: bool | None, src: PartSource, chunk,
               first_row: int, path: str, fmt: str, header: bool) -> int:
    """On the worker holding part ``token`` (submitted there): put ``row_id`` (``first_row``…) first
    and write the part to ``path`` (CSV with formulas neutralised and 6-decimal probabilities, or
    Parquet) through a temporary name renamed when complete, so a worker killed while writing leaves
    no part that looks whole. Where the part is not held (the worker that scored it died and the
    scheduler sent this task elsewhere) it is scored again from ``src``. Returns the rows written."""
    import os

    from medviz.io import ParquetChunkWriter, neutralize_formulas
    from medviz.scoring import write_csv_chunk

    scored = _HELD.pop(token, None) or _score(model_dir, text_column, explain, src, chunk, False)
    if scored.frame is None:
        return 0
    view = scored.frame
    if ROW_KEY in view.columns:
        view = view.rename(columns={ROW_KEY: f"input_{ROW_KEY}"})
    view = view.copy(deep=False)
    view.insert(0, ROW_KEY, range(first_row, first_row + len(view)))
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        if fmt == "parquet":
            w = ParquetChunkWriter(fh)
            w.write(view)
            w.close()
        else:
            write_csv_chunk(neutralize_formulas(view), fh, header=header)
    os.replace(tmp, path)
    return len(view)


def drop_held(prefix: str) -> int:
    """Forget this worker's held parts of the run ``prefix`` (a failed or interrupted run)."""
    keys = [k for k in _HELD if k.startswith(prefix)]
    for k in keys:
        del _HELD[k]
    return len(keys)


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
    from dask.distributed import Client

    if scheduler:
        try:
            return Client(scheduler, timeout=timeout), None
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no answer'})") from None
    n = int(workers or 2)
    if n < 1:
        raise InputError(f"--workers must be at least 1, got {n}")
    cluster = local_cluster(n)
    return Client(cluster), cluster


def local_cluster(n_workers: int):
    """A ``LocalCluster`` of ``n_workers`` processes, one thread each, no dashboard, workers started
    with :data:`WORKER_ENV` and Dask's housekeeping at :data:`HOUSEKEEPING` (read when the scheduler,
    nannies and workers are built, so the setting stays local to this cluster)."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(HOUSEKEEPING):
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                            silence_logs=logging.ERROR, env=WORKER_ENV)


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
                           chunksize, limits, progress, n_workers)
        return summary
    finally:
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


_PIN_CHECK_S = 2.0  # how often a pinned write checks that its worker is still there


def _target_bytes(path: Path, chunksize: int, n_workers: int) -> int:
    """Bytes per range: about ``chunksize`` rows (from the first MB's bytes per line), and at least
    4 ranges per worker so that the workers stay busy to the end."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    per_row = max(1.0, len(head) / max(1, head.count(b"\n")))
    return int(max(1024, min(chunksize * per_row, size / (4 * max(1, n_workers)))))


def _run(client, files, tmp: Path, model_dir, text_column, explain, fmt, single_csv, chunksize, limits, progress,
         n_workers: int):
    """Submit one task per part (a byte range of a CSV, row groups of a Parquet file, or — for a file
    that cannot be cut, see :func:`medviz.io.plan_csv_ranges` — a chunk the client read); as parts
    finish in input order, gather their counts (a few bytes), give each its first ``row_id`` and let
    the worker holding it write it. At most ``2 x workers`` parts are scored but not yet written."""
    import os
    import shutil
    import uuid

    import pyarrow.parquet as pq
    from distributed import KilledWorker

    from medviz.io import ReadInfo, _is_parquet, iter_csv_chunks, plan_csv_ranges

    max_in_flight = 2 * n_workers
    run_id = f"medviz-{uuid.uuid4().hex}-"
    parts_dir = tmp if not single_csv else tmp.with_name(tmp.name + ".parts")
    if single_csv:
        parts_dir.mkdir()
    rows = errors = warns = parts = 0
    infos: list = []
    scored: deque = deque()  # (token, meta future, source, chunk, info)
    writes: deque = deque()  # (write future, part path)
    out = open(tmp, "wb") if single_csv else None
    task = {"n": 0}

    def wait(fut, timeout=None):
        try:
            return fut.result(timeout=timeout)
        except KilledWorker:
            raise InputError("a Dask worker died while scoring (out of memory, or killed) and the part could not be "
                             "rerun; nothing was written") from None

    def finish_write():
        fut, part_path, where, args = writes.popleft()
        while True:
            try:
                wait(fut, timeout=_PIN_CHECK_S)
                break
            except TimeoutError:  # pinned to a worker that has left: any worker scores the part again
                if where and not set(where) & set(client.scheduler_info().get("workers", {})):
                    fut.cancel()
                    fut, where = client.submit(write_part, *args, pure=False), None
        fut.release()
        if single_csv:  # parts appended in order, each removed once copied
            with open(part_path, "rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
            os.unlink(part_path)

    def finish_score():
        nonlocal rows, errors, warns, parts
        token, meta_fut, src, chunk, info = scored.popleft()
        meta = wait(meta_fut)
        where = list(client.who_has(meta_fut).get(meta_fut.key, ()))  # the worker holding the scored part
        meta_fut.release()
        for col, n in meta.decimal_comma.items():
            info.decimal_comma[col] = info.decimal_comma.get(col, 0) + n
        info.skipped_blank += meta.skipped_blank
        if meta.rows:
            part_path = parts_dir / f"part-{parts:05d}.{fmt}"
            args = (token, model_dir, text_column, explain, src, chunk, rows, str(part_path), fmt,
                    not single_csv or parts == 0)
            # Pinned (a strict restriction) to the worker holding the part: with a loose one, Dask's work
            # stealing moved writes to an idle worker, which scored the part a second time (text, 40,000
            # rows, 2 workers: 1 of 8 parts, +12 % worker CPU). finish_write unpins it if that worker leaves.
            writes.append((client.submit(write_part, *args, workers=where or None, allow_other_workers=not where,
                                         pure=False), part_path, where, args))
            parts += 1
            rows += meta.rows
            errors += meta.errors
            warns += meta.warnings
            if progress:
                progress(rows)
        while len(writes) > max_in_flight:
            finish_write()

    def submit(src, info, chunk=None, check=False):
        token = f"{run_id}{task['n']}"
        task["n"] += 1
        if chunk is not None:
            [chunk] = client.scatter([chunk], hash=False)
        scored.append((token, client.submit(score_part, token, model_dir, text_column, explain, src, chunk, check,
                                            pure=False), src, chunk, info))
        while len(scored) >= max_in_flight:
            finish_score()

    def same_columns(path, names):
        if columns is not None and list(names) != columns:
            raise InputError(f"{path.name}: its columns differ from the first file's; every file of a glob "
                             "needs the same header")
        return list(names)

    try:
        columns = None
        for path in files:
            check = columns is None
            if _is_parquet(path):
                info = ReadInfo(encoding="Parquet", delimiter="")
                for _ in iter_csv_chunks(path, chunksize=1, limits=limits):  # the reader's checks (limits, names)
                    break
                pf = pq.ParquetFile(path)
                columns = same_columns(path, pf.schema_arrow.names)
                group, n = [], 0
                for g in range(pf.metadata.num_row_groups):
                    group.append(g)
                    n += pf.metadata.row_group(g).num_rows
                    if n >= chunksize or g == pf.metadata.num_row_groups - 1:
                        submit(PartSource("groups", str(path.resolve()), groups=tuple(group), chunksize=chunksize), info,
                               check=check)
                        group, n, check = [], 0, False
            else:
                layout = plan_csv_ranges(path, _target_bytes(path, chunksize, n_workers), limits=limits)
                if layout is not None:
                    info = layout.info
                    columns = same_columns(path, layout.names)
                    for rng in layout.ranges:
                        submit(PartSource("range", str(path.resolve()), rng, layout.names, layout.delimiter,
                                          chunksize=chunksize, limits=limits), info, check=check)
                        check = False
                else:  # read here, as the single process does, and send the chunks
                    info = ReadInfo()
                    for chunk in iter_csv_chunks(path, chunksize=chunksize, bad_lines="report", limits=limits, info=info):
                        columns = same_columns(path, chunk.columns)
                        if len(chunk) or check:
                            submit(PartSource("chunk"), info, chunk=chunk, check=check)
                            check = False
            infos.append((path, info))
        while scored:
            finish_score()
        while writes:
            finish_write()
    except BaseException:
        for _token, fut, _src, _chunk, _info in scored:
            fut.cancel()
        for fut, *_ in writes:
            fut.cancel()
        try:
            client.run(drop_held, run_id)
        except Exception:  # the cluster is gone: nothing is held
            pass
        raise
    finally:
        if out is not None:
            out.close()
            shutil.rmtree(parts_dir, ignore_errors=True)
    if rows == 0:
        raise InputError("the file has a header but no rows to score")
    from medviz.scoring import ScoreSummary

    notes = [f"{p.name}: {n}" if len(files) > 1 else n for p, info in infos for n in info.notes()]
    return ScoreSummary(rows=rows, errors=errors, warnings=warns, notes=tuple(notes))


def terminal_progress(stream=sys.stderr) -> Callable[[int], None]:
    """A progress callback writing ``scored N rows`` on one terminal line (a line per update when not a tty)."""
    tty = stream.isatty()

    def show(n: int) -> None:
        stream.write(f"\rscored {n:,} rows" if tty else f"scored {n:,} rows\n")
        stream.flush()

    return show


__all__ = ["score_distributed", "score_part", "write_part", "expand_inputs", "connect", "terminal_progress", "ROW_KEY", "bundle_loads",
           "local_cluster"]
