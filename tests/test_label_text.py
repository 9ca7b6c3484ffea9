"""Widget labels: user text shown exactly (never Markdown) and read without escape characters.

Streamlit renders a widget label as Markdown in an aria-hidden span and gives the raw string to screen
readers as the input's aria-label, so the string itself must both render literally and read cleanly.
Rendered here with markdown-it-py (CommonMark + strikethrough, as Streamlit's remark-gfm), which decodes
escapes the same way."""
from __future__ import annotations

import html
import re

import pytest

from medviz.ui.common import label_text

markdown_it = pytest.importorskip("markdown_it")

PAYLOADS = [
    "![x](http://canary.example/p.png)", "[click](javascript:alert(1))", "<img src=x onerror=alert(1)>",
    "**bold** _it_ *em* ~~gone~~ `code`", "- a list", "1. ordered", "3) ordered", "# heading", "> quote",
    "$x^2$ math", "&amp; &#65; entity", ":smile: :material/home:", "back\\slash \\*", "<http://canary.example>",
    "__init__ and snake_case_name", "a [b] c", "line\nbreak",
]
COMMON = ["Plasma glucose (mg/dL)", "2-hour serum insulin (µU/mL)", "Body mass index (kg/m²)",
          "Diabetes pedigree function", "Age (years)", "Diastolic BP (mm Hg)", "Ratio 1:2, 50%", "snake_case"]


def _rendered(text: str) -> str:
    md = markdown_it.MarkdownIt("commonmark").enable("strikethrough")
    return md.render(text)


@pytest.mark.parametrize("raw", PAYLOADS + COMMON)
def test_label_renders_exactly_as_typed_and_never_as_markup(raw):
    out = _rendered(label_text(raw)).strip()
    assert out.startswith("<p>") and out.endswith("</p>")
    inner = out[3:-4]
    assert not re.search(r"<(?!/?p>)", inner)  # no tag at all: no img, a, em, code, del, h1, li, blockquote
    assert html.unescape(inner).replace("\u2060", "") == raw.replace("\n", " ")


@pytest.mark.parametrize("raw", COMMON)
def test_ordinary_labels_carry_no_escapes_for_screen_readers(raw):
    assert label_text(raw) == raw
