"""Reading files as spreadsheets really write them (issue 16): encodings, delimiters, decimal
commas, the sep= line, duplicate headers, malformed rows at their place with the editor's line
number, no index inference, unclosed quotes, and the size limits (issue 17 item 9)."""
from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import medviz.io as mio
from medviz.errors import InputError, LimitError

DATA = Path(__file__).resolve().parents[1] / "data"
PIMA_COLS = ["npreg", "glu", "bp", "skin", "bmi", "ped", "age"]
PIMA_ROWS = [["6", "148", "72", "35", "33.6", "0.627", "50"], ["1", "85", "66", "29", "26.6", "0.351", "31"],
             ["8", "183", "64", "23", "23.3", "0.672", "32"]]


def read(data, chunksize=1000, limits=None, bad_lines="report"):
    """(frame, {index: error}, ReadInfo)"""
    info = mio.ReadInfo()
    chunks = list(mio.iter_csv_chunks(data, chunksize=chunksize, bad_lines=bad_lines, limits=limits, info=info))
    errors = {}
    for c in chunks:
        errors.update(c.attrs.get(mio.ROW_ERRORS_ATTR) or {})
    return pd.concat(chunks), errors, info


# ------------------------------------------------------------------ the shared example files


@pytest.mark.parametrize("name,encoding,delimiter", [
    ("06-utf16-excel-unicode-text.csv", "UTF-16 LE", "\t"),
    ("07-semicolon-decimal-comma.csv", "UTF-8", ";"),
    ("07b-excel-sep-hint-line.csv", "UTF-8", ";"),
])
def test_spreadsheet_exports_read_as_meant(name, encoding, delimiter):
    df, errors, info = read(DATA / name)
    assert list(df.columns) == PIMA_COLS and df.values.tolist() == PIMA_ROWS and not errors
    assert (info.encoding, info.delimiter) == (encoding, delimiter)
    if name.startswith("07-"):
        assert info.decimal_comma == {"bmi": 3, "ped": 3}
        assert "decimal commas read as numbers: 6 cell(s) in column(s) 5, 6;" in " ".join(info.notes())
    if name.startswith("07b"):
        assert info.sep_line and "sep=" in info.notes()[0]


def test_windows_1252_after_the_first_64kb_reads_the_whole_file(tmp_path):
    rows = (DATA / "13-cp1252-rows.csv").read_bytes().splitlines(keepends=True)
    filler = rows[1] * 1000  # ASCII rows past 64 KB, then the Windows-1252 ones
    path = tmp_path / "late.csv"
    path.write_bytes(rows[0] + filler + b"".join(rows[3:]))
    df, errors, info = read(path, chunksize=300)
    assert len(df) == 1002 and not errors
    assert df["note"].iloc[1000] == "Temp 38.9°C with shaking chills; patient is a café worker"
    assert info.encoding == "Windows-1252" and info.fallback_line == 1002


# ------------------------------------------------------------ other members of those classes


@pytest.mark.parametrize("codec,label", [("utf-16-le", "UTF-16 LE"), ("utf-16-be", "UTF-16 BE"), ("utf-32-le", "UTF-32 LE")])
def test_unicode_text_with_any_bom(codec, label):
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00"}[codec]
    text = "id\tnote\r\n1\tfièvre 39 °C\r\n2\t\"a\ttab\"\r\n"
    df, errors, info = read(bom + text.encode(codec))
    assert df.values.tolist() == [["1", "fièvre 39 °C"], ["2", "a\ttab"]] and info.encoding == label


@pytest.mark.parametrize("data,delimiter", [
    ("\ufeffa;b\n1;x\n".encode("utf-8"), ";"),
    (b"sep=\t\na\tb\n1\tx\n", "\t"),
    (b"sep=,\r\na,b\r\n1,x\r\n", ","),
    (b'"sep=|"\na|b\n1|x\n', "|"),
    (b"a|b\r1|x\r", "|"),  # lone CR line ends (old Mac spreadsheets)
    (b'a,b\n1,"x; y; z"\n', ","),  # semicolons inside quotes do not decide
])
def test_delimiters_and_sep_lines(data, delimiter):
    df, errors, info = read(data)
    assert list(df.columns) == ["a", "b"] and df.iloc[0, 0] == "1" and info.delimiter == delimiter


def test_decimal_commas_only_where_the_delimiter_is_not_a_comma():
    df, _, info = read(b"a;b;c\n1.234,5;-0,25;2,5 mg\n")
    assert df.values.tolist() == [["1234.5", "-0.25", "2,5 mg"]] and info.decimal_comma == {"a": 1, "b": 1}
    df, _, info = read(b'a,b\n"33,6",x\n')
    assert df.iloc[0, 0] == "33,6" and not info.decimal_comma


def test_windows_1252_euro_sign_and_undefined_byte_and_mixed_files():
    df, _, info = read("a,b\n1,5 €\n".encode("cp1252"))
    assert df.iloc[0, 1] == "5 €" and info.encoding == "Windows-1252"
    with pytest.raises(InputError, match=r"line 3: byte 0x81 is neither UTF-8 nor Windows-1252"):
        read(b"a,b\n1,x\n2,\x81\n")
    with pytest.raises(InputError, match=r"line 3: byte 0xE9 is not UTF-8, but earlier lines are UTF-8"):
        read("a,b\n1,café\n".encode() + b"2,caf\xe9\n")


def test_binary_and_empty_files_are_refused():
    with pytest.raises(InputError, match="empty"):
        read(b"\r\n")
    with pytest.raises(InputError, match="ZIP archive"):
        read(b"PK\x03\x04rest")


# -------------------------------------------------------------------- headers and structure


def test_duplicate_header_rule_is_the_same_for_small_and_large_files():
    big = b"1,2\n" * 40000  # past any sample
    for body in (b"1,2\n", big):
        df, _, _ = read(b"visit,visit.1\n" + body)
        assert list(df.columns) == ["visit", "visit.1"]
        with pytest.raises(InputError, match=r"1 column name\(s\) appear more than once \(columns 1 and 2\)"):
            read(b"visit,visit\n" + body)


def test_a_row_with_one_field_too_many_never_shifts_columns():
    # pandas would take the first column as the index here: ids vanish, columns shift
    df, errors, _ = read(b"id,note\nP1,fever,\nP2,cough\n")
    assert df.values.tolist() == [["", ""], ["P2", "cough"]]
    assert errors == {0: "line 2 of the file has 3 fields but the header has 2; the row was not read "
                         "(an unquoted comma or semicolon?)"}


def test_line_numbers_are_the_editors_after_quoted_line_breaks_blank_lines_and_sep():
    data = b'sep=,\nid,note\n1,"two\r\nlines"\n\n2,"a\rb"\n3,x,y\n4,ok\n'
    df, errors, _ = read(data, chunksize=2)
    assert df["id"].tolist() == ["1", "2", "", "4"]
    assert errors[2].startswith("line 8 of the file has 3 fields")


def test_cr_inside_a_quoted_cell_stays_in_its_cell():
    df, errors, _ = read(b'id,note\n1,"a\rb"\n2,"=1+1"\n3,x\n')
    assert df["note"].tolist() == ["a\rb", "=1+1", "x"] and not errors


def test_unclosed_quote_names_the_line_where_it_opens():
    with pytest.raises(InputError, match=r"line 3: a quote opened on this line is never closed"):
        read(b'id,note\n1,ok\n2,"fever\n3,cough\n4,rash\n')
    with pytest.raises(InputError, match=r"line 1: a quote in the header is never closed"):
        read(b'"id,note\n1,ok\n')


def test_a_stray_quote_that_closes_later_is_reported_with_its_span():
    _, errors, _ = read(b'id,note,x\n1,"fever,1\n2,cough",1,9\n3,rash,1\n')
    assert errors[0].startswith("line 2 of the file has 4 fields but the header has 3 (lines 2–3")


def test_chunks_have_the_asked_size_and_errors_their_global_index():
    data = b"a,b\n" + b"1,x\n" * 12 + b"1,2,3\n" + b"1,x\n" * 12
    sizes, errs = [], {}
    for c in mio.iter_csv_chunks(data, chunksize=10, bad_lines="report"):
        sizes.append(len(c))
        errs.update(c.attrs.get(mio.ROW_ERRORS_ATTR) or {})
        assert c.index[0] == sum(sizes[:-1])
    assert sizes == [10, 10, 5] and list(errs) == [12] and "line 14 " in errs[12]


def test_bad_lines_error_mode_stops_at_the_first():
    with pytest.raises(InputError, match="line 3 of the file has 1 field"):
        mio.read_table(b"a,b\n1,2\n3\n")


def test_header_only_gives_columns_and_no_rows():
    chunks = list(mio.iter_csv_chunks(b"a,b\n", bad_lines="report"))
    assert [list(c.columns) for c in chunks] == [["a", "b"]] and len(chunks[0]) == 0


# ------------------------------------------------------------------------ property: row count

CELL = st.text(alphabet=st.sampled_from(list('ab ,;"\n\r=é')), max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.lists(CELL, min_size=2, max_size=4), min_size=1, max_size=25),
       chunksize=st.integers(1, 7), newline=st.sampled_from(["\n", "\r\n"]))
def test_every_record_comes_out_in_place_with_its_line(rows, chunksize, newline):
    """Generated files, many malformed (2-4 fields against a 3-field header, quoted line breaks):
    one output row per record with any content, in order; records with the wrong field count are
    errors naming the line where they start, the others keep their cells."""
    def record(cells):  # RFC 4180 quoting (Python's csv module leaves a lone CR unquoted)
        return ",".join('"' + c.replace('"', '""') + '"' if any(ch in c for ch in ',"\r\n') else c for c in cells) + newline

    buf = io.StringIO(newline="")
    buf.write(record(["h1", "h2", "h3"]))
    starts, line = [], 2
    for r in rows:
        text = record(r)
        buf.write(text)
        starts.append(line)
        body = text[: -len(newline)]
        line += body.count("\n") + body.count("\r") - body.count("\r\n") + 1
    df, errors, _ = read(buf.getvalue().encode("utf-8"), chunksize=chunksize)
    kept = [(r, s) for r, s in zip(rows, starts) if any(c.strip() for c in r)]  # rows of blank fields are blank lines
    assert len(df) == len(kept)
    for i, (r, s) in enumerate(kept):
        if len(r) == 3:
            assert i not in errors and df.iloc[i].tolist() == r
        else:
            assert errors[i].startswith(f"line {s:,} of the file has {len(r)} field")


# ------------------------------------------------------------------------------------- limits


def test_a_million_columns_is_refused_on_the_header_bytes():
    data = b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n1\n"
    with pytest.raises(LimitError, match="more than 2,000 columns"):
        read(data)


def test_line_row_and_cell_limits():
    with pytest.raises(LimitError, match=r"line 3 is longer than 1 KB"):
        read(b"a,b\n1,2\n1," + b"x" * 2000 + b"\n", limits=mio.ReadLimits(max_line_bytes=1024))
    with pytest.raises(LimitError, match="more than 2 rows"):
        read(b"a\n1\n2\n3\n", limits=mio.ReadLimits(max_rows=2))
    df, errors, _ = read(b'a,b\n1,"' + b"y\n" * 30 + b'"\n2,z\n', limits=mio.ReadLimits(max_cell_chars=50))
    assert df["a"].tolist() == ["", "2"] and errors[0].startswith("line 2: column 2 holds 60 characters; the limit is 50")
    df, errors, _ = read(b"a\n" + b"x" * 5000 + b"\n", limits=mio.ReadLimits(max_line_bytes=None, max_cell_chars=None))
    assert len(df.iloc[0, 0]) == 5000 and not errors


# ----------------------------------------------------------------------------------- Parquet


def test_parquet_is_read_with_its_types(tmp_path):
    src = pd.DataFrame({"glu": [120.0, 95.0], "note": ["a", "b"]})
    src.to_parquet(tmp_path / "x.parquet")
    df, _, info = read(tmp_path / "x.parquet", chunksize=1)
    assert df["glu"].tolist() == [120.0, 95.0] and info.encoding == "Parquet"
    df, _, _ = read((tmp_path / "x.parquet").read_bytes())  # an upload: recognised by its PAR1 mark
    assert df["note"].tolist() == ["a", "b"]
    with pytest.raises(LimitError, match="2 rows; the limit is 1"):
        read(tmp_path / "x.parquet", limits=mio.ReadLimits(max_rows=1))


# ----------------------------------------------------------------------------------- writing


def test_formula_like_header_names_are_neutralised_like_cells():
    df = pd.DataFrame({"=HYPERLINK(\"x\")": ["=1+1"], "@SUM(A1)": ["2"], "-5": ["-5"], "ok": ["x"]})
    out = mio.neutralize_formulas(df)
    assert list(out.columns) == ["'=HYPERLINK(\"x\")", "'@SUM(A1)", "-5", "ok"]
    assert out.iloc[0].tolist() == ["'=1+1", "2", "-5", "x"]


def test_output_target_renames_on_success_and_moves_a_stale_output_aside(tmp_path):
    out = tmp_path / "scored.csv"
    out.write_text("yesterday")
    with mio.OutputTarget(out) as t:
        t.tmp.write_text("today")
    assert out.read_text() == "today" and not list(tmp_path.glob(".*part*"))
    with pytest.raises(KeyboardInterrupt):
        with mio.OutputTarget(out) as t:
            t.tmp.write_text("half")
            raise KeyboardInterrupt
    assert not out.exists() and (tmp_path / "scored.csv.stale").read_text() == "today"
    assert not list(tmp_path.glob(".*part*"))


def test_byte_ranges_read_like_the_whole_file(tmp_path):
    """plan_csv_ranges + iter_csv_range (each Dask worker reads its own range) give the rows, row errors
    (with the file's own line numbers), decimal commas and skipped blank rows of iter_csv_chunks, whatever
    the cut size: quoted cells with line breaks and delimiters, CRLF, blank rows, a malformed line."""
    from medviz.io import ReadInfo, iter_csv_chunks, iter_csv_range, plan_csv_ranges

    rows = ["sep=;", "id;note;bmi"]
    for i in range(120):
        if i % 17 == 3:
            rows.append(f'{i};"two\r\nlines; with ""quotes""";{20 + i % 7},5')
        elif i % 23 == 9:
            rows.append(";;")  # a row of empty fields: skipped
        elif i % 41 == 11:
            rows.append(f"{i};extra;1;2")  # one field too many: an error in its place
        else:
            rows.append(f"{i};plain é text;{30 + i % 5},25")
    path = tmp_path / "in.csv"
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("utf-8"))

    whole_info = ReadInfo()
    whole = list(iter_csv_chunks(path, chunksize=1000, bad_lines="report", info=whole_info))
    want = pd.concat(whole, ignore_index=True)
    want_errors = sorted(m for c in whole for m in c.attrs.get("row_errors", {}).values())
    for target in (1, 50, 333, 10_000):
        layout = plan_csv_ranges(path, target)
        assert layout is not None and layout.delimiter == ";" and list(layout.names) == ["id", "note", "bmi"]
        assert target > 5_000 or len(layout.ranges) > 3
        info = ReadInfo()
        parts = [c for r in layout.ranges for c in iter_csv_range(path, r, layout.names, ";", 7, info=info)]
        got = pd.concat(parts, ignore_index=True)
        pd.testing.assert_frame_equal(got, want)
        assert sorted(m for c in parts for m in c.attrs.get("row_errors", {}).values()) == want_errors
        assert info.decimal_comma == whole_info.decimal_comma and info.skipped_blank == whole_info.skipped_blank
    assert any(m.startswith("line 15 of the file has 4 fields") for m in want_errors)  # 2 + 11 + 1 quoted break + 1


def test_files_a_range_cannot_read_alone_are_left_to_the_whole_file_reader(tmp_path):
    from medviz.io import plan_csv_ranges

    utf16 = tmp_path / "u16.csv"
    utf16.write_bytes("a\tb\n1\t2\n".encode("utf-16"))
    cp1252 = tmp_path / "cp.csv"
    cp1252.write_bytes(b"a,b\n1,caf\xe9\n")
    lone_cr = tmp_path / "cr.csv"
    lone_cr.write_bytes(b"a,b\r1,2\r")
    open_quote = tmp_path / "q.csv"
    open_quote.write_bytes(b'a,b\n1,"never closed\n2,3\n')
    for p in (utf16, cp1252, lone_cr, open_quote):
        assert plan_csv_ranges(p, 4) is None, p.name
