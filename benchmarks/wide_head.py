"""The text model's wide (bag-of-words) head at inference, the shipped kernel beside the previous one.

    python benchmarks/wide_head.py [--rows 2048] [--classes 801] [--vocabulary 3022] [--repeats 9]

Both compute BagOfWordsLogits' formula (sum of the table rows of a case's real tokens / sqrt(their number)) on
random token ids shaped like the 801-condition bundle's (up to 40 real tokens per case, padding 0), one
intra-op thread as ``medviz.runtime`` sets it on 2 cores:
  * previous (session 7): a sparse word-count matrix times the table, ``tf.sparse.sparse_dense_matmul``;
  * shipped: ``tf.sparse.segment_sqrt_n`` (gather and sum in one kernel, medviz.text.layers).
Prints the median ms per 1,000 cases of --repeats runs of each, alternating, and the largest difference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=801)
    ap.add_argument("--vocabulary", type=int, default=3022)
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args(argv)
    import tensorflow as tf

    from medviz.runtime import configure_tensorflow
    from medviz.text.layers import BagOfWordsLogits

    configure_tensorflow()
    rng = np.random.default_rng(0)
    layer = BagOfWordsLogits(args.classes, args.vocabulary)
    layer.build((None, 40))
    layer.table.assign(rng.normal(size=(args.vocabulary, args.classes)).astype("float32"))
    ids = np.zeros((args.rows, 40), np.int64)
    for i, n in enumerate(rng.integers(0, 41, size=args.rows)):
        ids[i, :n] = rng.integers(1, args.vocabulary, size=n)
    ids = tf.constant(ids)
    table = tf.convert_to_tensor(layer.table)

    @tf.function
    def previous(x):
        real = tf.where(x > 0)
        counts = tf.sparse.SparseTensor(tf.stack([real[:, 0], tf.gather_nd(x, real)], axis=1),
                                        tf.ones(tf.shape(real)[:1], tf.float32),
                                        tf.stack([tf.shape(x, out_type=tf.int64)[0], tf.constant(args.vocabulary, tf.int64)]))
        n = tf.reduce_sum(tf.cast(x > 0, tf.float32), axis=1, keepdims=True)
        return tf.sparse.sparse_dense_matmul(counts, table) / tf.sqrt(tf.maximum(n, 1.0))

    shipped = tf.function(lambda x: layer(x, training=False))
    diff = float(np.abs(previous(ids).numpy() - shipped(ids).numpy()).max())
    times: dict[str, list[float]] = {"previous: sparse_dense_matmul": [], "shipped: segment_sqrt_n": []}
    for _ in range(args.repeats):
        for name, fn in zip(times, (previous, shipped)):
            t0 = time.perf_counter()
            fn(ids).numpy()
            times[name].append(time.perf_counter() - t0)
    print(f"{args.rows:,} cases x {args.classes} classes, vocabulary {args.vocabulary:,}; load average "
          f"{os.getloadavg()[0]:.2f}; largest difference {diff:.1e}")
    for name, ts in times.items():
        print(f"  {name:34}{np.median(ts) * 1e6 / args.rows:8.1f} ms per 1,000 cases (median of {args.repeats})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
