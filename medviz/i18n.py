"""Interface language: gettext message catalogues (Babel) and locale-aware numbers and dates.

Every user-visible string in the interface is written in English inside ``_()`` and looked up in the
catalogue of the active language (``locales/<lang>/LC_MESSAGES/messages.po``). English is the source
language and the default: an English session, or a message with no translation, shows the English text.

**Which language is active** is decided per call, never by a process-wide switch (Streamlit serves many
sessions from one process, each on its own thread):

1. :func:`use_language` (a ``contextvars.ContextVar``): set by scripts, tests and the CLI;
2. otherwise the provider registered with :func:`set_language_provider`; ``medviz.ui.i18n`` registers
   one that reads the current Streamlit session's ``st.session_state`` (so every session has its own);
3. otherwise :data:`DEFAULT_LANGUAGE` (English).

**Catalogues** are compiled from the ``.po`` files in memory on first use, with Babel's own reader and
MO writer (``babel.messages.pofile.read_po`` → ``mofile.write_mo`` → ``babel.support.Translations``):
no compiled ``.mo`` file is committed, so a catalogue can never be stale. Fuzzy entries are left out, as
``msgfmt`` and ``pybabel compile`` do. Commands (run from the repository root; docs/ARCHITECTURE.md,
"Translations")::

    pybabel extract -F babel.cfg -k N_ -k lazy_gettext -k lazy_ngettext:1,2 --no-location --no-wrap \
        --omit-header --project medviz -o locales/messages.pot .
    pybabel update -i locales/messages.pot -d locales -D messages --no-wrap --no-fuzzy-matching \
        --ignore-pot-creation-date
    pybabel compile -d locales -D messages --statistics   # optional: a check, medviz reads the .po

Strings built at import time (module constants, dict values) are marked with :func:`N_` and
translated where they are shown (``_(CONSTANT)``), or made lazy with :func:`lazy_gettext`.
This module imports without Streamlit.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

from medviz.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
LOCALES_DIR = ROOT / "locales"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
# Language code → its name in that language (what the picker shows, whatever the interface language).
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}
# Keywords the extractor looks for, besides gettext's defaults (_, gettext, ngettext, …); the same list
# goes to `pybabel extract -k` (see the module docstring) and to tests/test_i18n.py.
EXTRA_KEYWORDS = {"N_": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("medviz_language", default=None)
_provider: Callable[[], str | None] | None = None


class LanguageError(InputError):
    """A language code that medviz has no catalogue for."""


def check_language(code: str) -> str:
    """``code`` if it is one of :data:`LANGUAGES`; raises :class:`LanguageError` naming the choices."""
    if code not in LANGUAGES:
        raise LanguageError(f"language must be one of {', '.join(LANGUAGES)}, got {str(code)!r:.20}")
    return code


def set_language_provider(provider: Callable[[], str | None] | None) -> None:
    """Register the function that names the current session's language (None: not known here).

    ``medviz.ui.i18n`` registers one reading ``st.session_state``; the provider itself is shared, the
    state it reads is per session.
    """
    global _provider
    _provider = provider


def current_language() -> str:
    """The active language code: :func:`use_language`, else the session's provider, else English."""
    code = _language.get()
    if code is None and _provider is not None:
        code = _provider()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@contextlib.contextmanager
def use_language(code: str) -> Iterator[str]:
    """Make ``code`` the active language inside the ``with`` block (this thread / task only)."""
    token = _language.set(check_language(code))
    try:
        yield code
    finally:
        _language.reset(token)


def po_path(code: str) -> Path:
    return LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=None)
def translations(code: str) -> NullTranslations:
    """The compiled catalogue of ``code`` (read from its ``.po``; English: the identity catalogue).

    Cached per language for the life of the process (catalogues are read-only). Raises
    :class:`LanguageError` for an unknown code; a missing ``.po`` for a listed language is a
    ``FileNotFoundError`` (a broken installation, not user input).
    """
    check_language(code)
    if code == DEFAULT_LANGUAGE:
        return NullTranslations()
    with po_path(code).open("rb") as fh:
        catalog = read_po(fh, locale=code, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def gettext(message: str) -> str:
    """``message`` in the active language (the English text itself when it has no translation)."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n`` in the active language (Chinese has one form)."""
    return translations(current_language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the active language, disambiguated by ``context`` (same English, two meanings)."""
    return translations(current_language()).pgettext(context, message)


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (gettext_noop): translate at use."""
    return message


def lazy_gettext(message: str) -> LazyProxy:
    """A string-like proxy translated each time it is used (``str(proxy)``), for import-time constants."""
    return LazyProxy(gettext, message, enable_cache=False)


def lazy_ngettext(singular: str, plural: str, n: int) -> LazyProxy:
    return LazyProxy(ngettext, singular, plural, n, enable_cache=False)


class LazyStr(str):
    """A ``str`` whose ``str()`` is its translation at the moment it is shown.

    For APIs that take a real ``str`` once, at import time, and call ``str()`` on it when showing it:
    ``@st.cache_resource(show_spinner=LazyStr(N_("Loading model…")))`` (Streamlit's spinner runs
    ``str(text)`` in the session's script thread). Everywhere else use ``_()`` or :func:`lazy_gettext`.
    """

    def __str__(self) -> str:
        return gettext(str.__str__(self))


class Message(str):
    """English text built by the library that remembers its catalogue template and values.

    ``Message(N_("Moderate differences in: {features}; the rest is similar."), features="age, bmi")`` *is*
    the English string (CLI output, JSON, logs, comparisons and ``str`` methods see plain English), and
    :func:`translate` shows it in the session's language at render time: ``_(template).format(values)``,
    each value that is itself a :class:`Message` (or a list of them) translated in turn. So library code
    (medviz.evaluation, medviz.io, …) builds its sentences once, without Streamlit and without knowing the
    language, and the pages translate them when they show them. A value may carry a format spec in the
    template (``{coverage:.0%}``); the translation keeps the same ``{fields}`` (tests/test_i18n.py).
    Pickles (``st.cache_data``) as template + values. A ``Message`` passed through ``str`` operations
    (``+``, ``join``, f-strings) becomes plain English text: join with :func:`join_messages` instead.
    """

    template: str
    values: dict

    def __new__(cls, template: str, **values):
        obj = super().__new__(cls, template.format(**values))
        obj.template = template
        obj.values = values
        return obj

    def __reduce__(self):
        return _message, (self.template, self.values)

    def translated(self) -> str:
        """The text in the active language (the English itself in an English session)."""
        return gettext(self.template).format(**{k: translate(v) for k, v in self.values.items()})


def _message(template: str, values: dict) -> Message:
    return Message(template, **values)


class MessageList(str):
    """Messages joined with ``sep`` ("; ") in English; :func:`translate` joins their translations (with the
    Chinese separator "；" where ``sep`` is "; " and the text is Chinese)."""

    parts: tuple
    sep: str

    def __new__(cls, parts, sep: str = "; "):
        parts = tuple(parts)
        obj = super().__new__(cls, sep.join(parts))
        obj.parts, obj.sep = parts, sep
        return obj

    def __reduce__(self):
        return MessageList, (self.parts, self.sep)

    def translated(self) -> str:
        shown = [translate(p) for p in self.parts]
        sep = self.sep
        if current_language() == "zh_CN" and sep.strip() in {";", ","}:
            sep = "；" if sep.strip() == ";" else "，"
        return sep.join(shown)


def join_messages(parts, sep: str = "; ") -> MessageList:
    """``sep.join(parts)`` that keeps each :class:`Message` translatable (see :class:`MessageList`)."""
    return MessageList(parts, sep)


def translate(value: object) -> object:
    """``value`` in the active language when it is a :class:`Message` / :class:`MessageList` (also inside
    a list or tuple); any other value is returned unchanged (numbers keep their type for format specs)."""
    if isinstance(value, (Message, MessageList)):
        return value.translated()
    if isinstance(value, (list, tuple)):
        return type(value)(translate(v) for v in value)
    return value


# ---- numbers and dates (CLDR data through Babel) ------------------------------------------------------

def babel_locale(code: str | None = None) -> Locale:
    """The Babel ``Locale`` of ``code`` (default: the active language); ``en`` is ``en_US``."""
    return _parsed_locale(code or current_language())


@functools.lru_cache(maxsize=64)
def _parsed_locale(code: str) -> Locale:
    """``Locale.parse`` once per language code (~5 µs a call, paid per row of a scored CSV's notices); a ``Locale``
    is never modified after parsing, so one object serves every caller."""
    return Locale.parse("en_US" if code == "en" else code)


@functools.lru_cache(maxsize=64)
def _number_pattern(fmt: str) -> babel_numbers.NumberPattern:
    """``babel.numbers.parse_pattern`` once per pattern: ``babel.numbers.format_percent`` parses its pattern on every
    call, then applies it (``NumberPattern.apply``); the two steps here give the same text."""
    return babel_numbers.parse_pattern(fmt)


def format_number(value: float | int, digits: int | None = None) -> str:
    """``value`` with the locale's grouping and decimal signs; ``digits``: fixed decimals (None: as is).

    ``NaN``/``None`` give "–". Uses ``babel.numbers.format_decimal``.
    """
    if value is None or value != value:
        return "–"
    fmt = None if digits is None else ("#,##0" + ("." + "0" * digits if digits > 0 else ""))
    return babel_numbers.format_decimal(value, format=fmt, locale=babel_locale())


def format_percent(value: float, digits: int = 1, language: str | None = None) -> str:
    """A proportion in [0, 1] as a percentage with ``digits`` decimals ("12.5%", Chinese "12.5%"), in the locale of
    ``language`` (default: the active language).

    Uses ``babel.numbers.format_percent``; ``NaN``/``None`` give "–". A probability shown in text goes through
    :func:`format_probability`, which never rounds one above zero to "0%".
    """
    if value is None or value != value:
        return "–"
    fmt = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
    # babel.numbers.format_percent(value, format=fmt, locale=...) is Locale.parse + parse_pattern + apply; the first
    # two are cached (a scored CSV writes this for most rows' low-confidence notice: ~20 -> ~7 µs a call)
    return _number_pattern(fmt).apply(value, babel_locale(language))


def format_probability(value: float, digits: int = 0, language: str | None = None) -> str:
    """A probability or proportion in [0, 1] as a percentage in text (a sentence, a banner, a metric, a table of
    text), the one rule for small values: a value above 0 but below the smallest step ``digits`` decimals show
    (1 % for 0 decimals, 0.1 % for 1) reads "<1%" ("<0.1%"), never "0%" ("the top diagnosis has 0% probability"
    for 0.3 %, on a note whose findings were all denied). Any other value as :func:`format_percent` (0 stays "0%":
    none of the cases). ``language``: the locale (default: the active language); the library's English messages,
    which also go into scored CSVs and the audit trail, pass ``"en"``. ``NaN``/``None`` give "–".

    >>> format_probability(0.003), format_probability(0.5), format_probability(0.0004, 1), format_probability(0)
    ('<1%', '50%', '<0.1%', '0%')
    """
    if value is None or value != value:
        return "–"
    step = 10.0 ** -(digits + 2)
    if 0 < value < step:
        return "<" + format_percent(step, digits, language)
    return format_percent(value, digits, language)


def format_datetime(value: datetime | date | str, format: str = "medium", *, tz: str = "UTC") -> str:
    """A date-time (or date) in the locale's ``short`` / ``medium`` / ``long`` pattern, in timezone ``tz``.

    Naive datetimes are taken as UTC (the database stores UTC). ISO-8601 strings are parsed first;
    a string that is not one raises :class:`InputError`. Uses ``babel.dates.format_datetime`` /
    ``format_date``.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(f"date must be ISO-8601 (YYYY-MM-DD[THH:MM:SS]), got {value!r:.32}") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return babel_dates.format_datetime(value, format=format, tzinfo=babel_dates.get_timezone(tz),
                                           locale=babel_locale())
    return babel_dates.format_date(value, format=format, locale=babel_locale())


def format_date(value: date | datetime | str, format: str = "medium") -> str:
    """The date part only, in the locale's pattern (``babel.dates.format_date``)."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            raise InputError(f"date must be ISO-8601 (YYYY-MM-DD), got {value!r:.32}") from None
    if isinstance(value, datetime):
        value = value.date()
    return babel_dates.format_date(value, format=format, locale=babel_locale())
