"""Interface translations (issue 14): every user-visible English string goes through the catalogue.

* an AST scan of the interface modules finds string literals (and f-strings) passed to Streamlit display
  calls, widget labels, page titles, and chart titles / axis labels / legend names without ``_()``;
* the committed ``locales/messages.pot`` holds exactly the messages the sources mark today (so a new
  ``_("…")`` without ``pybabel extract`` fails), and every one of them has a non-empty, non-fuzzy
  Simplified Chinese translation keeping the same ``{placeholders}``;
* the language is per thread / session, never process-wide; numbers and dates follow the locale.

``ALLOWED_UNTRANSLATED`` lists modules not yet converted: remove a module when it is converted (the test
fails while a listed module is already clean, so the list only shrinks).
"""
from __future__ import annotations

import ast
import re
import string
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from medviz import i18n
from medviz.i18n import _

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["app.py", "server.py", "pages", "medviz/ui", "medviz/charts"]
# Modules still to convert (path relative to the repository root). Remove an entry once converted.
ALLOWED_UNTRANSLATED: set[str] = {
}

TRANSLATORS = {"_", "gettext", "ngettext", "pgettext", "N_", "lazy_gettext", "lazy_ngettext"}
# Streamlit calls whose first positional argument is shown to the user.
ST_TEXT_CALLS = {
    "title", "header", "subheader", "markdown", "caption", "text", "write", "html", "info", "warning", "error",
    "success", "toast", "exception", "button", "download_button", "form_submit_button", "link_button",
    "page_link", "checkbox", "toggle", "radio", "selectbox", "multiselect", "select_slider", "slider",
    "text_input", "text_area", "number_input", "date_input", "time_input", "file_uploader", "camera_input",
    "color_picker", "expander", "popover", "metric", "status", "spinner", "tabs", "set_page_config",
    "pills", "segmented_control", "chat_input", "feedback", "dialog",
    # st.column_config.*Column(label, help=…)
    "Column", "TextColumn", "NumberColumn", "CheckboxColumn", "SelectboxColumn", "DatetimeColumn",
    "DateColumn", "TimeColumn", "ListColumn", "LinkColumn", "ImageColumn", "ProgressColumn",
    "LineChartColumn", "BarChartColumn", "AreaChartColumn", "JsonColumn", "MultiselectColumn",
}
# Keyword arguments shown to the user, on any call (Streamlit and plotly alike).
TEXT_KEYWORDS = {
    "label", "help", "placeholder", "title", "page_title", "caption", "body", "text", "title_text",
    "xaxis_title", "yaxis_title", "legend_title", "legend_title_text", "name", "hovertemplate",
    "delta_description", "icon_text", "value_label", "annotation_text", "show_spinner",
}
# Calls where those keywords are *not* display text (a parameter, a file name, an identifier).
NON_DISPLAY_CALLS = {"Path", "open", "getLogger", "ModelBundle", "load_bundle", "record", "Figure",
                     "_audit",  # the audit trail is English (docs/ARCHITECTURE.md, "Translations")
                     "Thread",  # a thread's name is for debuggers, never shown
                     "ValueError", "TypeError", "KeyError"}  # programming errors, not shown on a page
# Keyword arguments that are never shown: widget keys, download file names, MIME types, colours, audit text.
NON_TEXT_KEYWORDS = {"key", "file_name", "mime", "output_summary", "summary", "color", "marker_color", "fillcolor",
                     "line_color", "bgcolor"}
# One token without spaces (a key "case_{i}_saved", a colour "rgb{RED}", a file name "{name}-scored.csv"): not prose.
IDENTIFIER = re.compile(r"[\w\-.:/#%()]*")
# A line may carry "# i18n: not shown (<why>)" for an f-string that is code, not prose (e.g. JavaScript).
NOT_SHOWN = re.compile(r"#\s*i18n: not shown \(\w[^)]{3,}\)")
# Receivers whose .error()/.warning()/.info() are not the page (server logs are English, never shown).
NON_DISPLAY_RECEIVERS = {"log", "logger", "logging", "warnings", "parser", "LOG"}
WORD = re.compile(r"[A-Za-z]{2,}")
# Not prose: HTML tags and attributes, code blocks and inline code (commands stay as typed).
MARKUP = re.compile(r"<script.*?</script>|<[^>]*>|```.*?```|`[^`]*`|&[a-z]+;", re.DOTALL)


def _is_text(s: str) -> bool:
    return bool(WORD.search(MARKUP.sub(" ", s)))


def _literal_text(node: ast.AST) -> list[str]:
    """The English text a display argument carries outside ``_()``: literal strings and f-string parts,
    through ``+``, ``x if c else y``, ``a or b`` and list/tuple items. Calls other than translators are
    opaque (their result is computed: plain(x), ", ".join(…), _("…").format(…))."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if _is_text(node.value) else []
    if isinstance(node, ast.JoinedStr):
        parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        return [parts] if _is_text(parts) else []
    if isinstance(node, ast.BinOp):
        return _literal_text(node.left) + _literal_text(node.right)
    if isinstance(node, ast.IfExp):
        return _literal_text(node.body) + _literal_text(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [t for v in node.values for t in _literal_text(v)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [t for v in node.elts for t in _literal_text(v)]
    if isinstance(node, ast.Dict):  # dict(title=…) / {"title": …} layouts
        out = []
        for k, v in zip(node.keys, node.values):
            if isinstance(k, ast.Constant) and k.value in TEXT_KEYWORDS:
                out += _literal_text(v)
        return out
    return []


def _func_name(call: ast.Call) -> str:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def untranslated(source: str) -> list[tuple[int, str]]:
    """(line, text) of English shown to the user without ``_()``, and translator calls whose message is
    not a literal (``_(f"…")`` cannot be extracted into the catalogue)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _func_name(node)
        if name in TRANSLATORS:
            if node.args and isinstance(node.args[0], ast.JoinedStr):
                found.append((node.lineno, "f-string inside " + name + "()"))
            continue
        if name in NON_DISPLAY_CALLS:
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in NON_DISPLAY_RECEIVERS:
            continue
        args = []
        if name in ST_TEXT_CALLS and node.args:
            args.append(node.args[0])
            if name in {"radio", "selectbox", "multiselect", "pills", "segmented_control", "select_slider"} and len(node.args) > 1:
                args.append(node.args[1])  # options shown as written unless a format_func translates them
        if name == "dict" or name in ST_TEXT_CALLS or any(k.arg in TEXT_KEYWORDS for k in node.keywords):
            args += [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS or k.arg == "options"]
        if name in {"set_page_config"}:
            args = [k.value for k in node.keywords if k.arg == "page_title"]
        found += [(node.lineno, t) for a in args for t in _literal_text(a)]
    return found


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _not_shown(node: ast.AST, parents: dict) -> bool:
    """Whether the value ``node`` computes goes somewhere the user never reads: a non-display call or
    receiver (logs, the audit trail, exceptions of programming errors), a non-text keyword (key=, file_name=,
    colours), a subscript or dict key (column names, session-state keys)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.keyword):
            if parent.arg in NON_TEXT_KEYWORDS:
                return True
        elif isinstance(parent, ast.Subscript) and child is parent.slice:
            return True
        elif isinstance(parent, ast.Dict) and child in parent.keys:
            return True
        elif isinstance(parent, ast.Call) and child is not parent.func:
            f = parent.func
            if _func_name(parent) in NON_DISPLAY_CALLS or (
                    isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in NON_DISPLAY_RECEIVERS):
                return True
            if _func_name(parent) in TRANSLATORS:
                return False
        elif isinstance(parent, (ast.stmt, ast.Lambda)):
            return False
        child, parent = parent, parents.get(parent)
    return False


def fstring_problems(source: str) -> list[tuple[int, str]]:
    """(line, text) of f-strings in UI code that pybabel cannot see into (Python 3.11 tokenizes an f-string
    as one string: ``_("…")`` inside it is never extracted) or that carry English words outside ``_()``,
    wherever the f-string goes (a variable shown later is as visible as a direct ``st.error(f"…")``), unless
    its value goes only where no user reads it (:func:`_not_shown`)."""
    tree = ast.parse(source)
    parents = _parents(tree)
    lines = source.splitlines()
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.JoinedStr):
            continue
        for call in (n for v in node.values for n in ast.walk(v) if isinstance(n, ast.Call)):
            if _func_name(call) in TRANSLATORS and call.args and isinstance(call.args[0], ast.Constant):
                found.append((call.lineno, f"{_func_name(call)}({call.args[0].value!r}) inside an f-string"))
        literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
        if not _is_text(literal) or IDENTIFIER.fullmatch(literal) or _not_shown(node, parents):
            continue
        if any(NOT_SHOWN.search(lines[i]) for i in range(node.lineno - 1, (node.end_lineno or node.lineno))):
            continue
        found.append((node.lineno, literal))
    return found


def test_fstring_scanner():
    src = (
        'import streamlit as st\nfrom medviz.i18n import _\n'
        'msg = f"Model {name} is ready"\nst.info(msg)\n'                       # words in a variable shown later
        'st.markdown(f"**{_(\'Present\')}**: {x}")\n'                           # _() pybabel cannot extract
        'st.markdown(f"**{_(TITLES[s])}**<ul>{items}</ul>")\n'                   # N_-marked constant: extracted
        'st.button(_("Go"), key=f"case_button_{i}")\n'                         # a widget key
        'record("export", output_summary=f"{n} rows exported")\n'              # the audit trail (English)
        'log.info(f"scored {n} rows")\ndf[f"{metric}_hi"]\n'                  # a log line, a column name
        'fig.add_bar(marker_color=f"rgb{RED}")\n'                              # a colour
        'st.html(f"<div style=\'color:{c}\'>{esc(v)}</div>")\n'             # markup only
        'js = f"new URLSearchParams({{code: {c!r}}})"  # i18n: not shown (JavaScript for the browser)\n'
        'raise InputError(f"file {name} is empty")\n'                          # shown through library_message
        'saved = f"{key}_saved_id"\nst.caption(f"{n} files")\n'               # an identifier; a word shown
    )
    texts = {t for _line, t in fstring_problems(src)}
    assert texts == {"Model  is ready", "_('Present') inside an f-string", "file  is empty", " files"}, texts


def _modules() -> list[Path]:

    out = []
    for entry in SCANNED:
        p = ROOT / entry
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return out


def test_scanner_finds_untranslated_text():
    src = (
        'import streamlit as st\nfrom medviz.i18n import _\n'
        'st.title("Case")\nst.error(f"Bad {x}")\nst.button(_("Save"))\nst.caption(_("Hi {n}").format(n=s.get("username")))\n'
        'fig.update_layout(title="Calibration", xaxis_title=_("Predicted"))\nst.tabs([_("A b"), "Raw data"])\n'
        'st.markdown("---")\nst.text(plain(name))\n_(f"no {x}")\nst.radio(_("Decision"), ["agree", "override"])\n'
        'log.error("server log %s", x)\nst.Page("pages/case.py", title="Case page")\n'
        'st.markdown(f"<ul>{items}</ul>")\nst.markdown("```\\npython -m medviz\\n```")\nst.html("<b>Shown</b>")\n'
    )
    texts = {t for _line, t in untranslated(src)}
    assert texts == {"Case", "Bad ", "Calibration", "Raw data", "f-string inside _()", "agree", "override", "Case page",
                     "<b>Shown</b>"}


def test_every_user_visible_string_is_wrapped():
    problems, stale = [], []
    for path in _modules():
        rel = path.relative_to(ROOT).as_posix()
        found = untranslated(path.read_text(encoding="utf-8"))
        if rel in ALLOWED_UNTRANSLATED:
            if not found:
                stale.append(rel)
            continue
        problems += [f"{rel}:{line}: {text[:60]!r}" for line, text in found]
        problems += [f"{rel}:{line}: f-string {text[:60]!r}" for line, text in fstring_problems(path.read_text(encoding="utf-8"))]
    assert not problems, "user-visible text without _() (wrap it, then pybabel extract/update):\n" + "\n".join(problems)
    assert not stale, f"converted modules still in ALLOWED_UNTRANSLATED (remove them): {stale}"


def _source_messages() -> set[str]:
    method_map = [("app.py", "python"), ("server.py", "python"), ("pages/**.py", "python"), ("medviz/**.py", "python")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), **i18n.EXTRA_KEYWORDS}
    out = set()
    for _file, _line, message, _comments, context in extract_from_dir(str(ROOT), method_map, keywords=keywords):
        msgid = message[0] if isinstance(message, (tuple, list)) else message
        out.add((context, msgid) if context else msgid)
    return out


def _catalog(path: Path, locale: str | None = None):
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _key(m):
    msgid = m.id[0] if isinstance(m.id, (tuple, list)) else m.id
    return (m.context, msgid) if m.context else msgid


def test_template_is_current():
    pot = {_key(m) for m in _catalog(i18n.LOCALES_DIR / "messages.pot") if m.id}
    src = _source_messages()
    assert not (src - pot), f"messages marked in the sources but not in messages.pot (run pybabel extract): {sorted(src - pot, key=str)[:20]}"
    assert not (pot - src), f"messages.pot has messages no source marks any more (run pybabel extract): {sorted(pot - src, key=str)[:20]}"


def _fields(s: str) -> set[str]:
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(s) if f is not None}


@pytest.mark.parametrize("code", [c for c in i18n.LANGUAGES if c != i18n.DEFAULT_LANGUAGE])
def test_every_message_is_translated(code):
    pot = [m for m in _catalog(i18n.LOCALES_DIR / "messages.pot") if m.id]
    po = _catalog(i18n.po_path(code), locale=code)
    missing, fuzzy, fields = [], [], []
    for m in pot:
        t = po.get(m.id, context=m.context)
        strings = [s for s in (t.string if t and isinstance(t.string, (tuple, list)) else [t.string if t else ""])]
        if t is None or not all(s.strip() for s in strings):
            missing.append(_key(m))
        elif t.fuzzy:
            fuzzy.append(_key(m))
        else:
            source = m.id if isinstance(m.id, str) else m.id[0]
            if any(_fields(s) != _fields(source) for s in strings):
                fields.append(_key(m))
    assert not missing, f"{len(missing)} messages without a {code} translation: {missing[:15]}"
    assert not fuzzy, f"fuzzy {code} translations (review them, then drop the fuzzy flag): {fuzzy[:15]}"
    assert not fields, f"{code} translations whose {{placeholders}} differ from the English: {fields[:15]}"


def test_translation_and_fallback():
    assert _("Case") == "Case"
    with i18n.use_language("zh_CN"):
        assert _("Case") == "病例"
        assert _("a message no catalogue has") == "a message no catalogue has"
    assert i18n.current_language() == "en"
    with pytest.raises(i18n.LanguageError, match="language must be one of en, zh_CN"):
        with i18n.use_language("fr"):
            pass


def test_lazy_str_translates_when_shown():
    s = i18n.LazyStr("Case")
    assert isinstance(s, str)
    with i18n.use_language("zh_CN"):
        assert str(s) == "病例"
    assert str(s) == "Case"


def test_language_is_per_thread_not_process_wide():
    seen = {}
    barrier = threading.Barrier(2)

    def run(code):
        with i18n.use_language(code):
            barrier.wait(timeout=10)  # both threads inside their own language at once
            seen[code] = _("Case")

    threads = [threading.Thread(target=run, args=(c,)) for c in ("en", "zh_CN")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"en": "Case", "zh_CN": "病例"}


def test_numbers_and_dates_follow_the_locale():
    moment = datetime(2026, 11, 30, 14, 5, tzinfo=timezone.utc)
    assert i18n.format_number(12345.678, 1) == "12,345.7"
    assert i18n.format_percent(0.1234) == "12.3%"
    assert i18n.format_datetime(moment) == "Nov 30, 2026, 2:05:00\u202fPM"
    assert i18n.format_date("2026-11-30") == "Nov 30, 2026"
    with i18n.use_language("zh_CN"):
        assert i18n.format_number(12345.678, 1) == "12,345.7"
        assert i18n.format_percent(0.1234) == "12.3%"
        assert i18n.format_datetime(moment) == "2026年11月30日 14:05:00"
        assert i18n.format_date("2026-11-30") == "2026年11月30日"
    assert i18n.format_percent(float("nan")) == "–"
    assert i18n.format_percent(0.1234, 0, "zh_CN") == "12%"  # a language of its own, whatever the session's
    with pytest.raises(i18n.InputError, match="date must be ISO-8601"):
        i18n.format_date("30/11/2026")


def test_language_is_stored_with_the_account(db_engine):
    from medviz import auth
    from medviz.store import preferences

    user = auth.create_user(db_engine, "lang-user", "a long enough password 123", "clinician")
    assert preferences.get_language(db_engine, user.id) is None
    preferences.set_language(db_engine, user.id, "zh_CN")
    assert preferences.get_language(db_engine, user.id) == "zh_CN"
    with pytest.raises(i18n.LanguageError):
        preferences.set_language(db_engine, user.id, "xx")
    assert preferences.get_language(db_engine, user.id) == "zh_CN"


@pytest.mark.parametrize("value, digits, shown", [
    (0.003, 0, "<1%"), (0.0099, 0, "<1%"), (0.01, 0, "1%"), (0.5, 0, "50%"), (0.0, 0, "0%"), (1.0, 0, "100%"),
    (0.0004, 1, "<0.1%"), (0.001, 1, "0.1%"), (0.1234, 1, "12.3%"), (None, 0, "–"), (float("nan"), 1, "–"),
])
def test_a_probability_in_text_is_never_rounded_to_0_percent(value, digits, shown):
    """One rule for a probability shown as a percentage in text (the low-confidence banner, the pages' sentences,
    metrics and text tables): below the smallest step shown, "<1%" ("<0.1%"); an exact 0 stays "0%"."""
    assert i18n.format_probability(value, digits) == shown
    with i18n.use_language("zh_CN"):
        assert i18n.format_probability(value, digits) == shown
    assert i18n.format_probability(value, digits, "en") == shown


def test_format_percent_is_babels_format_percent():
    """format_percent caches the parsed locale and pattern (a scored CSV formats one per row); the text is still
    babel.numbers.format_percent's, rounding included (half-even on the decimal value, as Babel quantizes)."""
    import numpy as np
    from babel import Locale
    from babel import numbers as babel_numbers

    values = [*np.random.default_rng(3).random(300).tolist(), 0.005, 0.015, 0.125, 0.135, 0.995, 0.0, 1.0, 12.345678]
    for language in ("en", "zh_CN"):
        locale = Locale.parse("en_US" if language == "en" else language)
        for digits, fmt in ((0, "#,##0%"), (1, "#,##0.0%"), (2, "#,##0.00%")):
            for value in values:
                expected = babel_numbers.format_percent(value, format=fmt, locale=locale)
                assert i18n.format_percent(value, digits, language) == expected, (value, digits, language)
