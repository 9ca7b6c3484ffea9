"""Scoring files as spreadsheets write them, end to end (CLI, streaming scorer, Batch page scorer):
every input record comes out once, in place, nothing shifted; outputs safe to open in a spreadsheet;
Parquet in and out; limits by flag; an interrupted run never leaves an old output looking fresh."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest

import medviz.io as mio
from medviz.bundle import load_bundle
from medviz.cli import main
from medviz.scoring import score_csv, score_upload, write_csv_chunk

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def tab(tiny_tabular_bundle):
    return load_bundle(tiny_tabular_bundle)


def _read_out(path_or_bytes) -> pd.DataFrame:
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    return pd.read_csv(src, dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name", ["06-utf16-excel-unicode-text.csv", "07-semicolon-decimal-comma.csv",
                                  "07b-excel-sep-hint-line.csv"])
def test_spreadsheet_exports_are_scored_like_the_plain_file(tab, tmp_path, name):
    plain = b"npreg,glu,bp,skin,bmi,ped,age\n6,148,72,35,33.6,0.627,50\n1,85,66,29,26.6,0.351,31\n8,183,64,23,23.3,0.672,32\n"
    want = score_upload(tab, plain).frame
    got = score_upload(tab, (DATA / name).read_bytes())
    pd.testing.assert_frame_equal(got.frame, want)
    assert (got.frame["error"] == "").all()
    assert got.summary.notes and got.summary.notes[0].startswith("read as")
    summary = score_csv(tab, DATA / name, tmp_path / "out.csv")
    assert summary.rows == 3 and _read_out(tmp_path / "out.csv")["risk"].tolist() == _read_out(got.csv)["risk"].tolist()


def test_windows_1252_notes_late_in_a_file_are_scored(tiny_text_bundle, tmp_path):
    rows = (DATA / "13-cp1252-rows.csv").read_bytes().splitlines(keepends=True)
    src = tmp_path / "late.csv"
    src.write_bytes(rows[0] + rows[1] * 800 + b"".join(rows[3:]))
    out = tmp_path / "out.csv"
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", "note"]) == 0
    df = _read_out(out)
    assert len(df) == 802 and df["note"].iloc[800].startswith("Temp 38.9°C") and (df["error"] == "").all()


def test_a_trailing_comma_on_the_first_row_shifts_nothing(tab, tmp_path):
    data = b"id,glu,bmi,age\nP1,120,30,40,\nP2,95,24,33\nP3,130,31,41\n"
    res = score_upload(tab, data)
    assert res.frame["id"].tolist() == ["", "P2", "P3"]
    assert res.frame["error"].iloc[0].startswith("line 2 of the file has 5 fields but the header has 4")
    assert res.frame["risk"].iloc[1:].notna().all()


def test_cr_in_a_quoted_cell_keeps_the_row_count_and_the_formula_guard(tab):
    data = b'id,glu,bmi,age,note\nP1,120,30,40,"a\rb"\nP2,95,24,33,"=1+1"\nP3,130,31,41,x\n'
    res = score_upload(tab, data)
    back = list(mio.iter_csv_chunks(res.csv))[0]
    assert len(back) == 3 and back["note"].tolist() == ["a\rb", "'=1+1", "x"]
    assert not re.search(rb"[\r\n]=", res.csv)  # no line of the download starts with a formula


def test_formula_like_header_names_are_neutralised_in_every_csv_output(tab, tmp_path):
    data = b'id,glu,bmi,age,"=HYPERLINK(""http://x"",""y"")",@SUM(A1)\nP1,120,30,40,a,b\n'
    res = score_upload(tab, data)
    header = res.csv.split(b"\n", 1)[0]
    assert b',"\'=HYPERLINK(' in header and b",'@SUM(A1)," in header
    (tmp_path / "in.csv").write_bytes(data)
    score_csv(tab, tmp_path / "in.csv", tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes().split(b"\n", 1)[0] == header


def test_probabilities_have_6_decimals_in_a_chunk_with_a_malformed_line(tiny_text_bundle, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,text\n" + "".join(f"{i},fever and cough day {i}\n" for i in range(6)) + "7,bad,extra\n")
    out = tmp_path / "out.csv"
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", "text", "--chunksize", "4"]) == 0
    df = _read_out(out)
    assert df["error"].iloc[6].startswith("line 8 of the file has 3 fields")
    prob_cols = [c for c in df.columns if c == "probability" or c.startswith("prob_") or c == "out_of_scope_score"]
    for c in prob_cols:
        assert all(len(v.split(".")[1]) <= 6 for v in df[c] if "." in v and "e" not in v), c


def test_write_then_read_back_gives_the_same_cells():
    cells = ["plain", "a,b", 'say "hi"', "two\nlines", "cr\ronly", "crlf\r\nx", " lead", "", "é ü", "tab\there"]
    df = pd.DataFrame({"a": cells, "b,c": cells[::-1]})
    buf = io.BytesIO()
    write_csv_chunk(df, buf, header=True)
    back = pd.concat(mio.iter_csv_chunks(buf.getvalue()))
    assert list(back.columns) == ["a", "b,c"] and back["a"].tolist() == cells and back["b,c"].tolist() == cells[::-1]


def test_parquet_in_and_out_for_score_and_evaluate(tiny_tabular_bundle, tab, tmp_path, capsys):
    from tests.conftest import tiny_tabular_frame

    frame = tiny_tabular_frame(60, 3)
    frame.to_parquet(tmp_path / "cohort.parquet")
    frame.astype(str).to_csv(tmp_path / "cohort.csv", index=False)
    assert main(["score", str(tiny_tabular_bundle), str(tmp_path / "cohort.parquet"), "-o", str(tmp_path / "s.parquet")]) == 0
    assert main(["score", str(tiny_tabular_bundle), str(tmp_path / "cohort.csv"), "-o", str(tmp_path / "s.csv")]) == 0
    pq = pd.read_parquet(tmp_path / "s.parquet")
    csv = _read_out(tmp_path / "s.csv")
    assert len(pq) == 60 and pq["risk"].round(6).tolist() == pd.to_numeric(csv["risk"]).tolist()
    assert pq["risk_band"].tolist() == csv["risk_band"].tolist()
    capsys.readouterr()
    for name in ("cohort.parquet", "cohort.csv"):
        assert main(["evaluate", str(tiny_tabular_bundle), str(tmp_path / name), "--label-column", "type",
                     "--resamples", "50", "--json", str(tmp_path / f"{name}.json")]) == 0
    out = capsys.readouterr().out
    aucs = re.findall(r"^AUC: (\S+)", out, re.M)
    assert len(aucs) == 2 and aucs[0] == aucs[1]


def test_limits_by_flag(tiny_tabular_bundle, tmp_path, capsys):
    src = tmp_path / "wide.csv"
    src.write_text("glu,bmi,age," + ",".join(f"x{i}" for i in range(30)) + "\n120,30,40" + ",0" * 30 + "\n")
    out = tmp_path / "out.csv"
    assert main(["score", str(tiny_tabular_bundle), str(src), "-o", str(out), "--max-columns", "10"]) == 1
    assert "more than 10 columns" in capsys.readouterr().err and not out.exists()
    assert main(["score", str(tiny_tabular_bundle), str(src), "-o", str(out), "--max-columns", "0"]) == 0


def test_a_failed_run_moves_the_earlier_output_aside_and_says_so(tiny_tabular_bundle, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    good = tmp_path / "good.csv"
    good.write_text("glu,bmi,age\n" + "120,30,40\n" * 10)
    assert main(["score", str(tiny_tabular_bundle), str(good), "-o", str(out)]) == 0
    before = out.read_bytes()
    bad = tmp_path / "bad.csv"  # good rows first, then a quote never closed: fails after writing has begun
    bad.write_text("glu,bmi,age\n" + "120,30,40\n" * 10 + '1,2,"3\n4,5,6\n')
    assert main(["score", str(tiny_tabular_bundle), str(bad), "-o", str(out), "--chunksize", "2"]) == 1
    err = capsys.readouterr().err
    assert "line 12: a quote opened on this line is never closed" in err and "scored.csv.stale" in err
    assert not out.exists() and (tmp_path / "scored.csv.stale").read_bytes() == before
    assert not list(tmp_path.glob(".*part*"))
