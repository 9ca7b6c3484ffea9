"""Bad-input corpus for tabular scoring: each file is written here, each gives a clear message,
never a traceback, and good rows are still scored (CLI, streaming scorer and page scorer)."""
from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

from medviz.bundle import load_bundle
from medviz.cli import main
from medviz.errors import InputError, MedvizError, SchemaError
from medviz.scoring import score_csv, score_upload

GOOD = "glu,bmi,age\n120,30.5,40\n95,24.0,33\n"


@pytest.fixture(scope="module")
def bundle(tiny_tabular_bundle):
    return load_bundle(tiny_tabular_bundle)


def _xlsx_bytes() -> bytes:
    """A minimal but genuine OOXML workbook (what Excel saves), built without openpyxl."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')
        z.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets/></workbook>')
        z.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>')
    return buf.getvalue()


# (name, file bytes, expected exception, words the message must contain)
FATAL = [
    ("empty", b"", InputError, ["empty"]),
    ("header_only", b"glu,bmi,age\n", InputError, ["header", "no rows"]),
    ("missing_columns", b"glu,weight\n120,80\n", SchemaError, ["missing required column", "bmi", "age"]),
    ("duplicated_columns", b"glu,bmi,age,glu\n120,30,40,121\n", InputError, ["appear more than once", "columns 1 and 4"]),
    ("binary", bytes(range(256)) * 4, InputError, ["binary", "not a CSV"]),
    ("excel", _xlsx_bytes(), InputError, ["Excel", "export it as CSV"]),
]


@pytest.mark.parametrize("name,data,exc,words", FATAL, ids=[f[0] for f in FATAL])
def test_fatal_files_give_one_clear_message(bundle, tiny_tabular_bundle, tmp_path, capsys, name, data, exc, words):
    src = tmp_path / f"{name}.csv"
    src.write_bytes(data)
    with pytest.raises(exc) as err:
        score_csv(bundle, src, tmp_path / "out.csv")
    for w in words:
        assert w.lower() in str(err.value).lower(), (w, str(err.value))
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.csv.part").exists()
    with pytest.raises(exc):
        score_upload(bundle, data)
    # CLI: exit 1, one line on stderr, no traceback.
    code = main(["score", str(tiny_tabular_bundle), str(src), "-o", str(tmp_path / "cli.csv")])
    errout = capsys.readouterr().err
    assert code == 1
    assert errout.startswith("error: ") and "Traceback" not in errout and errout.count("\n") == 1


def _score(bundle, data: bytes) -> pd.DataFrame:
    return score_upload(bundle, data).frame


def test_semicolon_delimited_is_read(bundle):
    df = _score(bundle, GOOD.replace(",", ";").encode())
    assert list(df.columns[:3]) == ["glu", "bmi", "age"]
    assert (df["error"] == "").all() and df["risk"].between(0, 1).all()


def test_extra_columns_pass_through_and_are_listed(bundle):
    data = b"id,glu,bmi,note,age\nA1,120,30.5,=HYPERLINK(\"x\"),40\n"
    res = score_upload(bundle, data)
    assert res.unexpected_columns == ["id", "note"]
    assert list(res.frame.columns[:5]) == ["id", "glu", "bmi", "note", "age"]
    assert res.frame.loc[0, "id"] == "A1" and res.frame.loc[0, "error"] == ""
    out = pd.read_csv(io.BytesIO(res.csv), dtype=str, keep_default_na=False)
    assert out.loc[0, "note"].startswith("'=")  # formula neutralised in the download


def test_text_in_numeric_column_fails_that_row_only(bundle):
    df = _score(bundle, b"glu,bmi,age\nhigh,30,40\n120,30,40\n")
    assert df.loc[0, "error"] == "glu: 'high' is not a number"
    assert pd.isna(df.loc[0, "risk"]) and df.loc[0, "risk_band"] == ""
    assert "invalid:glu" in df.loc[0, "flags"]
    assert df.loc[1, "error"] == "" and 0 < df.loc[1, "risk"] < 1


def test_nan_is_imputed_and_inf_refused(bundle):
    df = _score(bundle, b"glu,bmi,age\n120,NaN,40\ninf,30,40\n120,-inf,40\n")
    assert df.loc[0, "error"] == "" and "imputed:bmi" in df.loc[0, "flags"] and "imputed by the model" in df.loc[0, "warnings"]
    assert 0 < df.loc[0, "risk"] < 1
    assert df.loc[1, "error"] == "glu: 'inf' is not a finite number"
    assert "bmi: '-inf' is not a finite number" == df.loc[2, "error"]


def test_negative_age_and_huge_glucose_are_impossible(bundle):
    df = _score(bundle, b"glu,bmi,age\n120,30,-3\n10000,30,40\n120,30,40\n")
    assert df.loc[0, "error"] == "age: -3 years is impossible (allowed 0–120 years)"
    assert df.loc[1, "error"] == "glu: 10000 mg/dL is impossible (allowed 10–1500 mg/dL)"
    assert df.loc[2, "error"] == "" and df.loc[2, "risk"] > 0


def test_utf8_bom_and_latin1(bundle):
    df = _score(bundle, "\ufeffglu,bmi,age,note\n120,30,40,café\n".encode("utf-8"))
    assert df.columns[0] == "glu" and df.loc[0, "error"] == ""
    df = _score(bundle, "glu,bmi,age,note\n120,30,40,café Müller\n".encode("latin-1"))
    assert df.loc[0, "note"] == "café Müller" and df.loc[0, "error"] == ""


def test_row_with_too_many_fields_keeps_its_place(bundle, tmp_path):
    data = b"glu,bmi,age\n120,30,40\n130,31,41,99\n140,32,42\n"
    df = _score(bundle, data)
    assert len(df) == 3
    assert df.loc[1, "error"].startswith("line 3 of the file has 4 fields but the header has 3")
    assert pd.isna(df.loc[1, "risk"])
    assert df.loc[0, "error"] == "" and df.loc[2, "error"] == "" and df.loc[2, "glu"] == "140"
    # Streaming to a file gives the same rows.
    (tmp_path / "in.csv").write_bytes(data)
    summary = score_csv(bundle, tmp_path / "in.csv", tmp_path / "out.csv", chunksize=1)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert summary.rows == 3 and summary.errors == 1 and list(out["glu"]) == ["120", "", "140"]


def test_fractional_count_and_too_many_blanks(bundle):
    df = _score(bundle, b"glu,bmi,age\n120,30,40.5\n,,40\n")
    assert df.loc[0, "error"] == "age: 40.5 is not a whole number (expected a count)"
    assert df.loc[1, "error"] == "2 of 3 features are blank (at most 1 can be imputed)"


def test_every_message_is_a_medviz_error_for_garbage(bundle):
    for junk in (b"\x00\x01", b";;;\n;;;\n", b'"unterminated\n1,2,3\n', b"a\n" + b"x" * 10):
        try:
            score_upload(bundle, junk)
        except MedvizError:
            pass
