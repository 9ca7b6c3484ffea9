"""A file the Batch page cannot read gets its error in Chinese too (medviz/ui/messages.py, medviz.io).

Every error below is raised by the real reader (medviz.io) on a small bad file, so a change of wording in
medviz.io that the templates no longer match fails here instead of showing English on a Chinese page.
"""
from __future__ import annotations

import io

import pandas as pd
import pytest

from medviz.errors import MedvizError
from medviz.i18n import use_language
from medviz.io import ReadLimits, read_table
from medviz.ui.messages import _is_cjk, library_message, match


def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"a": [1, 2]}).to_parquet(buf)
    return buf.getvalue()


BAD_FILES = {
    "binary": (b"PK\x03\x04" + b"\x00" * 200, None),
    "not UTF-8 nor Windows-1252": (b"a,b\n1,2\n3,\x81\n", None),
    "mixed encodings": ("a,b\n1,é\n".encode("utf-8") + b"3,\xe9\n", None),
    "too many columns": (b"a,b,c,d\n1,2,3,4\n", ReadLimits(max_columns=3)),
    "line too long": (b"a,b\n1," + b"x" * 3000 + b"\n", ReadLimits(max_line_bytes=2048)),
    "too many rows": (b"a,b\n1,2\n3,4\n5,6\n", ReadLimits(max_rows=2)),
    "empty": (b"", None),
    "header quote": (b'a,"b\n1,2\n', None),
    "duplicate names": (b"visit,visit,x\n1,2,3\n", None),
    "body quote": (b'a,b\n1,"open\n2,3\n', None),
    "header, no rows": (b"a,b\n", None),
    "parquet limits": (_parquet_bytes(), ReadLimits(max_columns=None, max_rows=1)),
}


def _error(data: bytes, limits) -> str:
    with pytest.raises(MedvizError) as info:
        read_table(data, limits=limits)
    return str(info.value)


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_reader_errors_have_a_template_and_show_in_chinese(kind):
    data, limits = BAD_FILES[kind]
    message = _error(data, limits)
    assert match(message) is not None, f"{kind}: no template in medviz/ui/messages.py for {message!r}"
    with use_language("zh_CN"):
        shown = library_message(message)
    assert _is_cjk(shown) and shown != message, (kind, shown)
    # the numbers and the positions the English names survive the translation
    for number in [t for t in message.replace("(", " ").replace(")", " ").split() if t.rstrip(",:;").isdigit()]:
        assert number.rstrip(",:;") in shown, (kind, number, shown)


def test_what_a_binary_file_looks_like_is_translated():
    from medviz.io import _BINARY_SIGNATURES

    with use_language("zh_CN"):
        for what in [*_BINARY_SIGNATURES.values(), "a binary file (it contains NUL bytes)"]:
            assert _is_cjk(library_message(what)), what


def test_an_upload_with_no_rows_to_score_is_shown_in_chinese():
    from medviz.bundle import load_bundle
    from medviz.scoring import score_upload
    from tests.conftest import ROOT

    with pytest.raises(MedvizError) as info:
        score_upload(load_bundle(ROOT / "models" / "pima-diabetes"), b"npreg,glu,bp,skin,bmi,ped,age\n\n")
    with use_language("zh_CN"):
        shown = library_message(str(info.value))
    assert match(str(info.value)) is not None and _is_cjk(shown), shown


@pytest.mark.parametrize("kind", ["empty", "binary", "header quote", "parquet limits"])
def test_an_upload_is_named_once_in_english_and_in_chinese(kind):
    """The Batch page hands the reader the upload's name: "book.csv: …" once, never "book.csv: uploaded file: …"."""
    from medviz.scoring import read_columns
    from medviz.ui.messages import upload_error

    data, limits = BAD_FILES[kind]
    with pytest.raises(MedvizError) as info:
        read_columns(data, name="book.csv", limits=limits or ReadLimits())
    message = str(info.value)
    assert message.startswith("book.csv: ") and "uploaded file" not in message, message
    shown = upload_error("book.csv", info.value)
    assert shown == message and shown.count("book.csv") == 1
    with use_language("zh_CN"):
        shown = upload_error("book.csv", info.value)
    assert shown.startswith("book.csv：") and shown.count("book.csv") == 1 and _is_cjk(shown), shown
    assert "上传的文件" not in shown  # the Chinese for "uploaded file"


def test_an_error_outside_the_reader_gets_the_upload_name_in_front():
    from medviz.bundle import load_bundle
    from medviz.scoring import score_upload
    from medviz.ui.messages import upload_error
    from tests.conftest import ROOT

    with pytest.raises(MedvizError) as info:
        score_upload(load_bundle(ROOT / "models" / "pima-diabetes"), b"npreg,glu,bp,skin,bmi,ped,age\n\n", name="book.csv")
    assert upload_error("book.csv", info.value) == "book.csv: the file has a header but no rows to score"
    with use_language("zh_CN"):
        shown = upload_error("book.csv", info.value)
    assert shown.startswith("book.csv: ") and shown.count("book.csv") == 1 and _is_cjk(shown), shown


def test_a_path_or_bytes_without_a_name_keep_their_default_names(tmp_path):
    from medviz.io import source_name

    assert source_name(tmp_path / "a.csv") == "a.csv"
    assert source_name(b"x") == "uploaded file"
    assert source_name(b"x", "book.csv") == "book.csv"
    assert source_name(io.BytesIO(b"x")) == "uploaded file"
