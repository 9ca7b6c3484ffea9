"""Scored-CSV rendering of wide probability blocks (issue 15: 801 prob_ columns): the same text as pandas."""
from __future__ import annotations

import numpy as np
import pandas as pd

from medviz.scoring.render import render_csv


def _wide(n=40, c=30, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(c, 0.05), n)
    df = pd.DataFrame(np.round(p, 6), columns=[f"prob_{j}" for j in range(c)])
    df.iloc[3] = np.nan  # a row with an error
    df.iloc[5, :3] = [1.0, 0.0, 1e-06]
    df.insert(0, "note", [f"case, {i}" if i % 3 else f'say "hi" {i}' for i in range(n)])
    df["out_of_scope_score"] = rng.normal(-9, 3, n).round(6)  # off the [0, 1] grid: the general path
    df["raw"] = rng.normal(0, 1e-5, n)  # full precision, tiny numbers: exponent form
    df["big"] = rng.normal(0, 1e10, n)
    for j in range(14):  # more off-grid columns: rendered as one block
        df[f"x{j}"] = rng.normal(0, 1, n)
    return df


def test_wide_block_renders_like_pandas():
    from medviz.scoring import render

    df = _wide()
    render._grid_text.cache_clear()
    assert render_csv(df).decode() == df.to_csv(index=False, header=False)
    assert render._grid_text.cache_info().currsize == 1  # the probability columns took the lookup


def test_grid_path_takes_exactly_rounded_values_only():
    df = _wide(c=20)
    df["prob_0"] = df["prob_0"] + 1e-9  # not on the 6-decimal grid any more: formatted, not looked up
    assert render_csv(df).decode() == df.to_csv(index=False, header=False)


def test_grid_table_is_pythons_repr():
    from medviz.scoring.render import _GRID, _grid_text

    table = _grid_text()
    ks = list(range(0, 300)) + list(range(300, _GRID + 1, 997)) + [_GRID]
    assert [table[k].as_py() for k in ks] == [repr(k / _GRID) for k in ks]
    assert table[_GRID + 1].as_py() == ""


def test_columns_rounded_by_the_writer_read_as_rounded_first():
    """write_csv_chunk(rounded=...) (score_csv's text path, session 14) writes the named float columns as np.round(v, 6)
    then pandas would: full-precision probabilities looked up on the grid, a rounded column outside [0, 1] and a
    narrow frame (no block) rounded, columns not named left at full precision."""
    import io

    from medviz.scoring.render import write_csv_chunk

    rng = np.random.default_rng(4)
    for c in (30, 3):  # a wide block, and too few float columns for one
        df = _wide(c=c)
        probs = [f"prob_{j}" for j in range(c)]
        df[probs] = rng.dirichlet(np.full(c, 0.05), len(df))  # full precision
        df.iloc[3, df.columns.get_indexer(probs)] = np.nan
        df["out_of_scope_score"] = rng.normal(-9, 3, len(df))  # full precision, outside [0, 1]
        rounded = frozenset([*probs, "out_of_scope_score", "not_a_column"])
        expected = df.copy()
        for col in [*probs, "out_of_scope_score"]:
            expected[col] = np.round(expected[col], 6)
        out = io.BytesIO()
        write_csv_chunk(df, out, header=True, rounded=rounded)
        assert out.getvalue().decode() == expected.to_csv(index=False)
        assert expected["raw"].equals(df["raw"])  # a column not named stays as it is
