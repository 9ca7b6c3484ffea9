"""Error messages name fields and line numbers, never cell contents (issue 17, item 8).

A header-less CSV has its first patient row read as the column names; a wrongly chosen label column
holds names; a malformed row is echoed by pyarrow. None of that may reach a message."""
from __future__ import annotations

import pandas as pd
import pytest

from medviz.bundle import load_bundle
from medviz.cli import main as cli_main
from medviz.errors import MedvizError, columns_hint, line_numbers
from medviz.evaluation import binary_labels, labels_to_index
from medviz.io import iter_csv_chunks

CANARY = "CANARY Jane Doe MRN 00123456"


def _stderr(capsys) -> str:
    return capsys.readouterr().err


def test_headerless_text_csv_does_not_echo_its_first_row(tiny_text_bundle, tmp_path, capsys):
    src = tmp_path / "notes.csv"
    src.write_text(f"{CANARY} has fever and cough,flu\nheadache and nausea,migraine\n")
    assert cli_main(["score", str(tiny_text_bundle), str(src), "-o", str(tmp_path / "out.csv"),
                     "--text-column", "note"]) == 1
    err = _stderr(capsys)
    assert "text column 'note' not found: the file has 2 column(s)" in err
    assert "header row" in err
    assert "CANARY" not in err and "Jane" not in err


def test_headerless_tabular_csv_does_not_echo_its_first_row(tiny_tabular_bundle, tmp_path, capsys):
    src = tmp_path / "patients.csv"
    src.write_text("148,33.6,50,CANARY-Doe\n85,26.6,31,other\n")
    assert cli_main(["score", str(tiny_tabular_bundle), str(src), "-o", str(tmp_path / "out.csv")]) == 1
    err = _stderr(capsys)
    assert "missing required column(s)" in err and "the file has 4 column(s)" in err
    assert "CANARY" not in err and "148" not in err and "33.6" not in err


def test_near_miss_column_names_are_still_suggested():
    assert "'Glu' looks like 'glu'" in columns_hint(["Glu", "bmi"], ["glu"])
    assert "'note_text' looks like 'notetext'" in columns_hint(["note_text"], ["notetext"])
    assert "Jane" not in columns_hint(["Jane Doe", "42"], ["glu"])
    assert line_numbers([0, 3, 4, 5, 6, 7, 8]) == "lines 2, 5, 6, 7, 8 and 2 more"


def test_label_errors_give_lines_not_values(tiny_tabular_bundle, tiny_text_bundle):
    tab = load_bundle(tiny_tabular_bundle)
    with pytest.raises(MedvizError) as exc:
        binary_labels(pd.Series(["Yes", "No", CANARY, "No"]), tab)
    assert "line 4" in str(exc.value) and "CANARY" not in str(exc.value)
    text = load_bundle(tiny_text_bundle)
    with pytest.raises(MedvizError) as exc:
        labels_to_index(pd.Series(["flu", CANARY]), text.labels)
    assert "line 3" in str(exc.value) and "CANARY" not in str(exc.value)


def test_malformed_row_and_duplicate_names_are_not_echoed(tmp_path):
    bad_row = tmp_path / "bad.csv"
    bad_row.write_text(f"a,b\n1,2\n{CANARY},3,4\n")
    dupes = tmp_path / "dupes.csv"
    dupes.write_text(f"{CANARY},x,{CANARY}\n1,2,3\n")
    for path in (bad_row, dupes):
        try:
            for _ in iter_csv_chunks(path):
                pass
        except MedvizError as exc:
            assert "CANARY" not in str(exc), str(exc)
        else:  # the reader may keep going and flag the row instead; then nothing was echoed either
            pass
    with pytest.raises(MedvizError, match=r"1 column name\(s\) appear more than once \(columns 1 and 3\)"):
        for _ in iter_csv_chunks(dupes):
            pass
