import csv
import subprocess
import sys

import pandas as pd
import pytest

from medviz.cli import main


def test_score_text_csv(tiny_text_bundle, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,note,site\n1,"fever and cough",A\n2,,B\n3,"=HYPERLINK(""x"")",C\n4,"itchy red rash",D\n')
    out = tmp_path / "out.csv"
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", "note"]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df.columns[:3]) == ["id", "note", "site"]
    assert len(df) == 4  # nothing dropped
    for lab in ("flu", "migraine", "rash"):
        assert f"prob_{lab}" in df.columns
    probs = df.loc[df["error"] == "", [c for c in df.columns if c.startswith("prob_")]].astype(float)
    assert ((probs.sum(axis=1) - 1).abs() < 1e-5).all()
    # written to 6 decimals (as tabular risk), in Python's float text
    assert (probs.round(6) == probs).all().all()
    assert (df.loc[df["error"] == "", "probability"].astype(float) == probs.max(axis=1)).all()
    assert df.loc[1, "error"].startswith("note: empty")
    assert df.loc[1, "prediction"] == ""
    assert df.loc[2, "note"].startswith("'=")  # spreadsheet formula neutralised
    assert df.loc[0, "prediction"] in ("flu", "migraine", "rash")


def test_score_streams_in_chunks(tiny_text_bundle, tmp_path):
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text"])
        for i in range(250):
            w.writerow([["fever and cough", "headache", "rash on arm"][i % 3]])
    out = tmp_path / "out.csv"
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", "text", "--chunksize", "64"]) == 0
    df = pd.read_csv(out)
    assert len(df) == 250 and df["prediction"].notna().all()


@pytest.mark.parametrize(
    "content, column, message",
    [
        ("", "text", "empty"),
        ("text\n", "text", "no rows"),
        ("a,b\n1,2\n", "text", "text column 'text' not found: the file has 2 column(s)"),
        (b"PK\x03\x04binary", "text", "not a CSV"),
        (b"\x00\x01\x02\x03", "text", "binary"),
    ],
)
def test_score_bad_files(tiny_text_bundle, tmp_path, capsys, content, column, message):
    src = tmp_path / "in.csv"
    src.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out.csv"
    assert main(["score", str(tiny_text_bundle), str(src), "-o", str(out), "--text-column", column]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
    assert not out.exists()


def test_missing_bundle_is_one_line(tmp_path, capsys):
    assert main(["score", str(tmp_path / "nope"), str(tmp_path / "x.csv"), "-o", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert "bundle folder not found" in err and err.count("\n") == 1


def test_train_text_binary_cli(tmp_path):
    """The seed article's case: a binary text classifier trained by the CLI, served like any bundle."""
    rows = [("fever and cough", "sick")] * 6 + [("feeling fine and well", "healthy")] * 6
    rows += [("cough with high fever", "sick"), ("no complaints today", "healthy")] * 3
    src = tmp_path / "train.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(src, index=False)
    out = tmp_path / "binary"
    r = subprocess.run(
        [sys.executable, "-m", "medviz", "train", "text", "--data", str(src), "--text-column", "text",
         "--label-column", "label", "--name", "binary-demo", "--out", str(out), "--epochs", "3",
         "--sequence-length", "8"],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    from medviz.bundle import load_bundle

    b = load_bundle(out)
    assert b.labels == ["healthy", "sick"] and b.is_text


def test_train_missing_column(tmp_path, capsys):
    src = tmp_path / "train.csv"
    src.write_text("a,b\nx,y\n")
    rc = main(["train", "text", "--data", str(src), "--text-column", "text", "--label-column", "label",
               "--name", "n", "--out", str(tmp_path / "o")])
    assert rc == 1
    assert "missing column(s) 'text', 'label'" in capsys.readouterr().err


def test_likely_text_column_prefers_the_bundle_column_then_the_wordiest():
    from medviz.scoring import likely_text_column

    data = b"id,date,note,code\n1,2026-01-02,fever and cough for three days,A1\n2,2026-01-03,itchy rash,B2\n"
    assert likely_text_column(data) == "note"
    assert likely_text_column(data, preferred="code") == "code"
    assert likely_text_column(data, preferred="missing") == "note"
