"""The fast paths of tabular batch scoring give the same results as the plain definitions:
pyarrow CSV reader vs pandas reader (bad-input corpus), Arrow CSV rendering vs DataFrame.to_csv,
column-wise top_reasons vs the per-row f-strings, tabulated Shapley values vs the direct sum."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import medviz.io as mio
from medviz.errors import InputError, MedvizError
from medviz.scoring import render_csv

# Files a user might upload: well-formed, and every way the corpus breaks them.
CORPUS = {
    "plain": b"glu,bmi,age\n120,30.5,40\n95,24.0,33\n",
    "crlf": b"glu,bmi,age\r\n120,30.5,40\r\n95,24.0,33\r\n",
    "no_final_newline": b"glu,bmi,age\n120,30.5,40\n95,24.0,33",
    "semicolons": b"glu;bmi;age\n120;30,5;40\n95;24;33\n",
    "tabs": b"glu\tbmi\tage\n120\t30.5\t40\n",
    "bom": "\ufeffglu,bmi,age,note\n120,30,40,café\n".encode("utf-8"),
    "latin1": "glu,bmi,age,note\n120,30,40,café Müller\n".encode("latin-1"),
    "quoted": b'id,glu,bmi,age,note\nA1,120,30,40,"has, comma"\nA2,121,31,41,"say ""hi"""\nA3,1,2,3,"two\nlines"\n',
    "too_many_fields": b"glu,bmi,age\n120,30,40\n130,31,41,99\n140,32,42\n",
    "too_few_fields": b"glu,bmi,age\n120,30,40\n130,31\n140,32,42\n",
    "blank_lines": b"glu,bmi,age\n120,30,40\n\n140,32,42\n\n",
    "whitespace_line": b"glu,bmi,age\n120,30,40\n   \n140,32,42\n",
    "header_only": b"glu,bmi,age\n",
    "header_only_no_newline": b"glu,bmi,age",
    "duplicated": b"glu,bmi,age,glu\n120,30,40,121\n",
    "unnamed_column": b",glu,bmi,age\n1,120,30,40\n",
    "text_and_specials": b"glu,bmi,age\nhigh,NaN,40\ninf,-inf,\n=1+2,@x,-5\n",
    "unterminated": b'"unterminated\n1,2,3\n',
    "only_separators": b";;;\n;;;\n",
    "long_row": b"a\n" + b"x" * 10,
    "bad_late": b"glu,bmi,age\n" + b"120,30,40\n" * 50 + b"1,2,3,4\n" + b"130,31,41\n" * 20,
}


def _read(data: bytes, chunksize: int) -> tuple[pd.DataFrame | None, dict, str]:
    try:
        chunks = list(mio.iter_csv_chunks(data, chunksize=chunksize, bad_lines="report"))
    except MedvizError as exc:
        return None, {}, f"{type(exc).__name__}: {exc}"
    errors = {}
    for c in chunks:
        errors.update(c.attrs.get(mio.ROW_ERRORS_ATTR) or {})
    frame = pd.concat(chunks) if chunks else None
    if frame is not None and frame.empty:
        frame = None
    return frame, errors, ""


@pytest.mark.parametrize("chunksize", [1, 2])
@pytest.mark.parametrize("name", list(CORPUS))
def test_chunk_size_never_changes_what_is_read(name, chunksize):
    """One reader (pyarrow over medviz.io's checked stream) for every file: the same rows, errors and
    messages whatever the chunk size (tests/io/test_reader.py checks what they are)."""
    data = CORPUS[name]
    expected = _read(data, 1000)
    got = _read(data, chunksize)
    assert got[2] == expected[2]
    assert got[1] == expected[1]
    if expected[0] is None:
        assert got[0] is None
    else:
        pd.testing.assert_frame_equal(got[0], expected[0])


def test_arrow_reader_chunks_have_the_asked_size():
    data = b"a,b\n" + b"1,x\n" * 25
    sizes = [len(c) for c in mio.iter_csv_chunks(data, chunksize=10, bad_lines="report")]
    assert sizes == [10, 10, 5]


def test_invalid_utf8_after_the_sample_is_a_clear_error(tmp_path):
    data = "a,b\ncafé,x\n".encode() + b"1,x\n" * 20000 + "2,caf\xe9\n".encode("latin-1")
    with pytest.raises(InputError, match="line 20,003: byte 0xE9 is not UTF-8"):
        list(mio.iter_csv_chunks(data, chunksize=1000, bad_lines="report"))


def test_render_csv_is_byte_identical_to_pandas():
    rng = np.random.default_rng(0)
    risk = np.round(rng.random(5000), 6)
    risk[:10] = [0, 1, 1e-6, 5e-5, 9.9e-5, np.nan, 0.0001, 1e16, -0.0, 0.5]
    texts = ["x,y", 'q"q', "r\rr", "n\nn", " sp", "", "t\tt", "'=1", None, "é"] * 500
    df = pd.DataFrame({"a": pd.array(texts, dtype="str"), "risk": risk, "i": np.arange(5000),
                       "b": pd.array([True, False, None, True] * 1250, dtype="boolean"), "wide": rng.random(5000) * 10 ** rng.uniform(-6, 20, 5000)})
    # pandas leaves a lone CR bare (a spreadsheet reads a row break there); the renderer quotes it
    assert render_csv(df) == df.to_csv(index=False, header=False).replace("r\rr", '"r\rr"').encode()


def test_render_csv_small_and_rounded_floats_match_python_repr():
    rng = np.random.default_rng(1)
    v = rng.random(20000) * 10.0 ** rng.uniform(-12, -3, 20000) * rng.choice([-1, 1], 20000)
    v[:12] = [1e-5, 1.5e-7, 2.345678e-10, 9.99e-5, 1e-7, 5e-324, -1e-300, 3e-05, 1e-4, 2.5e-06, 9.999999999999999e-05, 1e-8]
    probs = np.round(rng.dirichlet(np.ones(22) * 0.05, size=20000), 6)  # many distinct tiny values
    df = pd.DataFrame({"v": v, "p0": probs[:, 0], "p1": probs[:, 1], "all": np.arange(20000) / 1e6})
    assert render_csv(df) == df.to_csv(index=False, header=False).encode()


def test_render_csv_declines_what_it_does_not_handle():
    assert render_csv(pd.DataFrame({"a": [object(), 1]})) is None


# ------------------------------------------------------------------------------ top_reasons

SPECS = [{"name": "a", "type": "integer", "unit": ""}, {"name": "b", "type": "float", "unit": "mg/dL"},
         {"name": "c", "type": "float", "unit": "kg/m²"}, {"name": "d", "type": "float", "unit": ""}]


def test_top_reasons_array_matches_the_per_row_definition():
    from medviz.explain import _reference_top_reasons, top_reasons_array

    rng = np.random.default_rng(1)
    n = 3000
    data = np.column_stack([rng.integers(-3, 20, n).astype(float), np.round(rng.normal(100, 50, n), 3),
                            rng.normal(30, 5, n).astype(np.float32).astype(float),
                            10 ** rng.uniform(-6, 4, n) * rng.choice([-1, 1], n)])
    # rounding ties, exponent notation, signed zeros, blanks, huge values
    special = [34.25, 34.75, 99.95, 999.5, 999.4999, 0.00012345, 1e-5, -0.0, 0.0, np.nan, 1234.5, 2.5, 0.125,
               1e20, -0.4, 100.0, 0.001, 0.0001, 0.00015]
    data[: len(special)] = np.asarray(special)[:, None]
    data[len(special) : 2 * len(special), 0] = [2.5, 3.5, -0.4, -0.5, 0.5, 1.5, -2.5, np.nan, -0.0, 7, 1e6 + 0.5,
                                                -1e-9, 4.5, 5.5, 6.5, 0.49999999, 8.5, 9.5, 10.5]
    values = rng.normal(0, 0.05, (n, 4))
    values[:30] = np.resize([0.0005, -0.0005, 0.0015, -0.0, 0.0, 1e-9, -1e-9, 0.0025, 0.1235, -0.1235, 0.0625], (30, 4))
    values[30:40] = 0.01  # four-way ties: lower index first
    values[40:50, :2], values[40:50, 2:] = -0.02, 0.02
    assert top_reasons_array(values, data, SPECS).to_pylist() == _reference_top_reasons(values, data, SPECS)
    assert top_reasons_array(values[:, :2], data[:, :2], SPECS[:2]).to_pylist() == \
        _reference_top_reasons(values[:, :2], data[:, :2], SPECS[:2])
    assert top_reasons_array(np.zeros((0, 4)), np.zeros((0, 4)), SPECS).to_pylist() == []


# ------------------------------------------------------------------------- Shapley values

@pytest.fixture(scope="module")
def pima_like_explainer(tiny_tabular_bundle):
    from medviz.bundle import load_bundle
    from medviz.explain import TabularExplainer

    return TabularExplainer.from_bundle(load_bundle(tiny_tabular_bundle))


def _rows(ex, n, seed=0):
    rng = np.random.default_rng(seed)
    bg = ex.background
    x = bg[rng.integers(0, len(bg), n)] * rng.normal(1, 0.1, (n, bg.shape[1]))
    x[rng.random(x.shape) < 0.05] = np.nan
    return x.astype(np.float32)


def test_tabulated_shapley_equals_the_direct_sum(pima_like_explainer):
    ex = pima_like_explainer
    assert ex.additive
    x = _rows(ex, ex.TABLE_MIN_ROWS + 500)
    terms, ok = ex._logit_terms(x)
    assert ok.all()
    table = ex._table().shap_values(terms)
    direct = ex._additive_values(terms) @ ex._weights
    np.testing.assert_allclose(table, direct, atol=1e-6)  # direct path is float32
    # the interpolant itself, against float64 coalition values, within its analytic bound
    t = ex._table()
    c = ex._reference_logit()
    a = c + terms[:50] @ ex._masks.T.astype(float)
    exact = (1 / (1 + np.exp(-(a[:, :, None] + t.d[None])))).mean(axis=2) @ ex._weights
    assert np.abs(table[:50] - exact).max() <= 2 * t.ERROR_BOUND + 1e-12


def test_many_rows_add_up_and_match_few_rows(pima_like_explainer):
    ex = pima_like_explainer
    x = _rows(ex, ex.TABLE_MIN_ROWS + 100, seed=1)
    exp = ex.explain(x)  # table path
    risk = ex.predict(x)
    np.testing.assert_allclose(exp.base_values + exp.values.sum(axis=1), risk, atol=1e-4)
    few = ex.explain(x[:20])  # direct path
    np.testing.assert_allclose(few.values, exp.values[:20], atol=1e-6)
    # giving the scorer's logits changes nothing
    from medviz.tabular.predict import TabularPredictor

    pred = TabularPredictor.from_bundle(ex.bundle)
    r, lg = pred.predict_with_logit(x)
    np.testing.assert_allclose(r, pred.predict(x))
    np.testing.assert_allclose(ex.shap_values(x, logits=lg), exp.values, atol=1e-9)


def test_validation_with_odd_cells_matches_to_numeric():
    from medviz.schema import FeatureSpec, validate_frame

    specs = [FeatureSpec("g", type="float", min=0, max=1000)]
    cells = ["1", "1.", ".5", "+3", "-2e3", "1E+2", "007", "high", "inf", "-inf", "1,5", " 4 ", "", "NaN", "0x10", "1e999"]
    v = validate_frame(pd.DataFrame({"g": pd.array(cells, dtype="str")}), specs)
    ref = pd.to_numeric(pd.Series([c.strip() for c in cells]), errors="coerce").to_numpy(dtype=float)
    ok_val = np.isfinite(ref) & (ref >= 0) & (ref <= 1000)
    np.testing.assert_array_equal(np.isnan(v.values[:, 0]), ~ok_val)
    np.testing.assert_array_equal(v.values[ok_val, 0], ref[ok_val].astype(np.float32))
    assert v.error[7] == "g: 'high' is not a number" and v.error[8] == "g: 'inf' is not a finite number"
