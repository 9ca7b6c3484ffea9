"""TensorFlow thread pools, set once per process before the first TensorFlow operation runs.

TensorFlow's default on a small machine is one intra-op pool as wide as the CPU and an inter-op
pool of the same size. For the bundled models (a bidirectional GRU: two independent recurrent
loops of small matrix products; a small MLP) that splits each small product over threads that
mostly wait on each other. Measured on the 2-core reference machine, 20,000 cases through the
text model: default 1.39 s wall / 2.32 s CPU; intra-op 1 + inter-op 2 (the two GRU directions run
side by side) 1.16 s wall / 1.77 s CPU, which also leaves CPU for the clinical rules and the CSV
writer running next to the model in `python -m medviz score`.

Rule: intra-op = max(1, cores // 2), inter-op = 2. ``MEDVIZ_TF_INTRA_THREADS`` /
``MEDVIZ_TF_INTER_THREADS`` override it; TensorFlow's own ``TF_NUM_INTRAOP_THREADS`` /
``TF_NUM_INTEROP_THREADS``, if set, are left to TensorFlow.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)
_done = False


def thread_counts(cpus: int | None = None) -> tuple[int, int]:
    """(intra-op, inter-op) threads for this machine, after the environment overrides."""
    cpus = cpus or os.cpu_count() or 1
    intra = int(os.environ.get("MEDVIZ_TF_INTRA_THREADS", max(1, cpus // 2)))
    inter = int(os.environ.get("MEDVIZ_TF_INTER_THREADS", 2))
    return max(1, intra), max(1, inter)


def configure_tensorflow() -> None:
    """Apply :func:`thread_counts` once. Too late (TensorFlow already ran an operation in this
    process, e.g. a notebook) is not an error: TensorFlow keeps its pools and this is logged."""
    global _done
    if _done:
        return
    _done = True
    if "TF_NUM_INTRAOP_THREADS" in os.environ or "TF_NUM_INTEROP_THREADS" in os.environ:
        return
    import tensorflow as tf

    intra, inter = thread_counts()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # the runtime is already initialised
        log.info("tensorflow thread pools already set up; keeping them")
