"""Shared page furniture: the bundle picker, the intended-use banner, model identity, error display."""
from __future__ import annotations

import html
import re
import os
from pathlib import Path

import streamlit as st

from medviz.bundle import BundleInfo, ModelBundle, list_bundles
from medviz.errors import MedvizError
from medviz.i18n import N_, _, translate
from medviz.ui import cache

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_KEY = "app_bundle_path"  # owned by the sidebar picker


def models_dir() -> Path:
    """The bundle folder (setting ``models_dir`` / ``MEDVIZ_MODELS_DIR``, default ``models/``)."""
    from medviz.config import settings

    return Path(settings().models_dir)


def default_bundle() -> str:
    """The bundle folder name preselected when present (setting ``default_model`` / ``MEDVIZ_DEFAULT_MODEL``)."""
    from medviz.config import settings

    return settings().default_model


def sidebar_bundle_picker() -> BundleInfo | None:
    """The one model picker, in the sidebar of every page. Stores the chosen path in session state."""
    infos = [i for i in list_bundles(models_dir())]
    usable = [i for i in infos if i.error is None]
    broken = [i for i in infos if i.error is not None]
    with st.sidebar:
        st.markdown("### " + _("Model"))
        if not usable:
            st.error(_("No usable model bundles in {folder}.").format(folder=plain(models_dir())))
            _unavailable(broken)
            return None
        labels = {str(i.path): f"{i.title} · v{i.version}" for i in usable}
        paths = list(labels)
        current = st.session_state.get(BUNDLE_KEY)
        default = next((k for k, i in enumerate(usable) if i.path.name == default_bundle()), 0)
        index = paths.index(current) if current in paths else default
        choice = st.selectbox(_("Model bundle"), paths, index=index, format_func=labels.get, key="sidebar_bundle_select")
        st.session_state[BUNDLE_KEY] = choice
        _unavailable(broken)
        return next(i for i in usable if str(i.path) == choice)


def _unavailable(broken: list[BundleInfo]) -> None:
    """Bundles that failed their checks, listed under the picker with the reason (never selectable)."""
    if not broken:
        return
    with st.expander(_("Unavailable models ({n})").format(n=len(broken))):
        for b in broken:
            st.text(f"{b.path.name}: {b.error}")  # plain text: folder names and reasons are not markup


def current_bundle() -> ModelBundle | None:
    """The bundle picked in the sidebar, loaded (cached); shows an error and returns None on failure."""
    path = st.session_state.get(BUNDLE_KEY)
    if not path:
        st.info(_("Pick a model in the sidebar."))
        return None
    try:
        return cache.bundle(path)
    except MedvizError as exc:
        st.error(_("This model cannot be loaded: {reason}").format(reason=plain(exc)))
        return None


INTENDED_USE = N_(
    "**Decision support for clinicians — not a diagnosis.** The model's output is one input to your "
    "judgement; it is not for standalone or time-critical decisions (emergencies, triage)."
)


ENCRYPTION_OFF = N_(
    "**Encryption at rest is turned off.** Case text, form values, reasons and typed diagnoses saved now "
    "are stored in clear in the database. An operator turned it off (setting `encryption` in medviz.toml "
    "or `MEDVIZ_ENCRYPTION`); turn it back on before saving patient information."
)


def encryption_banner() -> bool:
    """A red banner when an operator turned encryption at rest off (or the settings are unreadable).

    Called by :func:`intended_use_banner`, so it heads every page. Returns True when it showed.
    """
    from medviz.config import ConfigError
    from medviz.store.crypto import encryption_enabled

    try:
        if encryption_enabled():
            return False
    except ConfigError as exc:
        st.error(_("The settings cannot be read, so encryption at rest cannot be confirmed: {reason}").format(reason=plain(exc)), icon="🔓")
        return True
    st.error(_(ENCRYPTION_OFF), icon="🔓")
    return True


def intended_use_banner(bundle: ModelBundle | None = None) -> None:
    """Every page: the encryption-off banner (when off), intended use, and (when a model is chosen) its
    identity and validation date."""
    encryption_banner()
    st.info(_(INTENDED_USE), icon="ℹ️")
    if bundle is not None:
        st.caption(model_identity(bundle))


def model_identity(bundle: ModelBundle) -> str:
    m = bundle.manifest
    tr = m.get("training", {})
    parts = [
        _("Model **{name}** v{version}").format(name=plain(bundle.name), version=plain(bundle.version)),
        (_("imported {date} (trained outside medviz)").format(date=plain(str(m['import'].get('imported_at', '?'))[:10]))
         if m.get("import") else _("trained {date}").format(date=plain(str(tr.get('trained_at', '?'))[:10]))),
        _("training data: {source}").format(source=plain(data_summary(tr) or _("unknown")))
        + (f" ({plain(tr['data_dates'])})" if tr.get("data_dates") else ""),
        _("last validated {date}").format(date=plain(m.get('last_validated', '?'))),
        _("see the Model card page"),
    ]
    return " · ".join(parts)


def data_summary(training: dict, limit: int = 140) -> str:
    """The training data in one short line for the model line under each page title: the manifest's
    ``training.data_summary`` when it has one, else ``training.data_source`` cut at a word boundary before
    ``limit`` characters (with "…"); the full provenance stays on the Model card page. '' when neither is set."""
    short = str(training.get("data_summary") or "").strip()
    if short:
        return short
    full = " ".join(str(training.get("data_source") or "").split())
    if len(full) <= limit:
        return full
    return full[:limit].rsplit(" ", 1)[0].rstrip(" ,;:(") + "…"


def require(bundle: ModelBundle | None, *, text: bool | None = None, tabular: bool | None = None) -> bool:
    """Check the current view can serve the bundle; say so when it cannot."""
    if bundle is None:
        return False
    if text and not bundle.is_text:
        st.warning(_("This view needs a text model; '{name}' is a {task} model. Pick another in the sidebar.").format(
            name=plain(bundle.name), task=plain(bundle.task)))
        return False
    if tabular and not bundle.is_tabular:
        st.warning(_("This view needs a tabular model; '{name}' is a {task} model. Pick another in the sidebar.").format(
            name=plain(bundle.name), task=plain(bundle.task)))
        return False
    return True


def esc(value: object) -> str:
    """Escape anything user-written before it reaches HTML (``st.html``, chart labels)."""
    return html.escape(str(translate(value)), quote=True)


# Markdown's backslash-escapable ASCII punctuation (CommonMark 2.4) plus ``:`` (Streamlit's emoji and
# ``:color[...]`` / ``:material/icon:`` directives) and ``$`` (Streamlit renders ``$...$`` as LaTeX).
# The five HTML-special characters become entities instead, which Markdown decodes back into text.
_MD_SPECIAL = frozenset("\\`*_{}[]()#+-.!|~:$=^/")
_HTML_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}


# GitHub-flavoured Markdown (remark-gfm in Streamlit) turns bare "http://…", "www.…" and "name@host"
# into links even when every punctuation mark is backslash-escaped. A WORD JOINER (U+2060, invisible)
# after the scheme, "www" or "@" breaks the pattern; the text still reads exactly as written.
_AUTOLINK_START = re.compile(r"(?i)\b(?:https?|ftp|mailto|www)(?=[:.])|@")


def plain(value: object) -> str:
    """User- or file-supplied text made safe to put inside any Streamlit Markdown string.

    Streamlit renders Markdown (and, for widget labels, a Markdown subset) in ``st.markdown``,
    ``st.caption``, ``st.error`` / ``warning`` / ``info`` / ``success``, ``st.metric`` / widget labels,
    tab and expander labels. A file name such as ``![x](https://host/p.png)`` would otherwise be an
    image the clinician's browser fetches, and ``<img src=…>`` HTML where HTML is allowed. Every
    Markdown punctuation character gets a backslash and the HTML specials become entities, so the
    text shows exactly as typed and nothing in it is a link, an image, a tag, math or an emoji code.
    Line breaks become spaces (a message is one line; block syntax cannot start). Hand-written:
    markdown-it / mistune escape for their own renderers, not for Streamlit's remark + directives.
    A library sentence built as a :class:`medviz.i18n.Message` is shown in the session's language.
    """
    out = []
    for ch in _AUTOLINK_START.sub("\\g<0>\u2060", str(translate(value))):
        if ch in _HTML_ENTITIES:
            out.append(_HTML_ENTITIES[ch])
        elif ch in _MD_SPECIAL:
            out.append("\\" + ch)
        elif ch in "\r\n\t":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


# Widget labels: Streamlit shows the label as Markdown (an aria-hidden copy) and gives the raw string to
# screen readers as the input's aria-label, so every backslash plain() adds is read aloud ("Plasma
# glucose backslash (mg backslash / dL ..."). label_text() escapes only what could become markup in a
# one-line label: characters that open inline constructs anywhere, and a block marker at the start.
_LABEL_ALWAYS = frozenset("\\`*~[]$<")
_LABEL_CONTEXT = re.compile(
    r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"   # underscore emphasis needs a non-word side (snake_case stays)
    r"|&(?=#?[A-Za-z0-9]+;)"               # a character reference would be decoded
    r"|:(?=[A-Za-z0-9/+_-]+:)"             # :emoji: / :material/icon: shortcodes
)
_LABEL_BLOCK_START = re.compile(r"^(\s*)(?:([-+*#>=])|(\d+)([.)]))")


def label_text(value: object) -> str:
    """User- or file-supplied text for a widget or metric label: safe as Markdown, and the same string
    reads correctly to a screen reader (Streamlit uses the raw label as the input's ``aria-label``).

    Only characters that could start Markdown in a one-line label are backslash-escaped: ``\\ ` * ~ [ ]
    $ <`` anywhere (links and images need ``[``, code spans, emphasis, strikethrough, math and autolinks
    need the others), ``_`` at a word edge, ``&`` before a character reference, ``:`` opening a
    ``:shortcode:``, and a list, heading or quote marker at the start; bare addresses get the same
    invisible word joiner as :func:`plain`. Everything else, including ``( ) / - . , : %``, stays as
    written, so "Plasma glucose (mg/dL)" or "2-hour insulin" carry no escapes. Line breaks become spaces.
    """
    text = re.sub(r"[\r\n\t]+", " ", str(value))
    text = "".join("\\" + ch if ch in _LABEL_ALWAYS else ch for ch in text)
    text = _LABEL_CONTEXT.sub(lambda m: "\\" + m.group(0), text)
    text = _AUTOLINK_START.sub("\\g<0>\u2060", text)

    def block(m):
        if m.group(2):
            return m.group(1) + "\\" + m.group(2)
        return m.group(1) + m.group(3) + "\\" + m.group(4)

    return _LABEL_BLOCK_START.sub(block, text, count=1)


def plain_table(frame: "pd.DataFrame") -> "pd.DataFrame":
    """A copy of ``frame`` safe for ``st.table``, which renders every cell, index label and column name
    as Markdown: each of them passed through :func:`plain` (numbers are left as they are)."""
    import pandas as pd

    def cell(v):
        return plain(v) if isinstance(v, str) else v  # plain() translates a Message

    out = frame.map(cell)
    out.index = pd.Index([cell(v) for v in frame.index], name=cell(frame.index.name) if frame.index.name else None)
    out.columns = [cell(c) for c in frame.columns]
    return out
