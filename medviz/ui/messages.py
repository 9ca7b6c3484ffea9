"""The library's English messages, shown to the user in the session's language.

The library (medviz.text, medviz.auth, …) writes its warnings and errors in English: the same text goes
into scored CSVs, the audit trail and the CLI, which stay English. The pages show them through
:func:`library_message`, which matches the text against the English templates below (the library's own
wording, with ``{fields}`` where it inserts values), translates the template with ``_()`` and puts the
values back (each value translated in turn when it is itself a known message, e.g. "for now"). A message
no template matches is shown as written, in English. Hand-written because the messages are composed in
modules other engineers own; tests/test_i18n_messages.py runs the real library code and checks every
message it produced is matched.

Closed vocabularies the pages show as values (assertion statuses, vital-sign names and statuses, roles)
are translated with :func:`term`.
"""
from __future__ import annotations

import functools
import re
import string

from medviz.i18n import N_, Message, MessageList, _, translate

TEMPLATES: tuple[str, ...] = (
    # medviz.text.analyse: warnings and errors about one case
    N_("The case text is empty: describe the patient's symptoms in a sentence or two."),
    N_("The model reads English words (letters a-z); this text has none (another script, emoji, or only "
       "numbers or punctuation), so there is nothing it can read and no diagnosis is given."),
    N_("The model reads English words (letters a-z) and Chinese characters; this text has none (another script, "
       "emoji, or only numbers or punctuation), so there is nothing it can read and no diagnosis is given."),
    N_("Every finding in the text was read as absent or uncertain ({findings}): there is nothing left for "
       "the model to read. Describe the findings that are present."),
    N_("This case may be outside what the model was trained for: treat the list below with caution."),
    # (the zh branch's English-only bundle refusing Chinese text, issue 14 item 3)
    N_("This model reads English only: the text is in Chinese, which it cannot read, so no diagnosis is given. "
       "Use a model that reads Chinese (its model card lists the languages), or describe the case in English."),
    N_("This model reads English only: the Chinese characters in the text were not read."),
    N_("The text is {length} characters long; only the first {limit} were read."),
    N_("The note has {words} words; the model read the first {read} ({windows} overlapping windows of "
       "{window}); the last {unread} were not read."),
    N_("Very short input ({k} word): the model needs a fuller description."),
    N_("Very short input ({k} words): the model needs a fuller description."),
    N_("None of the words are in the model's vocabulary: the list below is not based on your text."),
    N_("Every finding read in this note is denied (see the findings below), and a denied finding is not evidence: "
       "nothing in the note supports any diagnosis in the list below."),
    N_("No finding in this note was read as present: the knowledge-base expert read only denied findings (see the "
       "findings below). The list below rests on the other words the network read ({words}), which the expert does not "
       "know as findings: check it against the note, and write present findings in common clinical words."),
    N_("{share} of the words ({k} of {words}) are unknown to the model; it is judging from the rest only."),
    N_("Low confidence: the top diagnosis has {top} probability and an empty conformal set (rule: top "
       "under {cutoff}, or a set that is empty or has {size} or more diagnoses)."),
    N_("Low confidence: the top diagnosis has {top} probability and a conformal set of {n} (rule: top "
       "under {cutoff}, or a set that is empty or has {size} or more diagnoses)."),
    N_("Low confidence: {n} diagnoses are still plausible (the conformal set), although the top one has {top} "
       "probability (rule: top under {cutoff}, or a set that is empty or has {size} or more diagnoses)."),
    N_("No diagnosis is probable enough to include at {coverage} coverage on held-out cases: the model "
       "cannot stand behind any of its diagnoses for this case."),
    N_("With {coverage} coverage on held-out cases, the diagnosis is among: {items}."),
    # medviz.text.clinical.vitals: note and measurement disagree
    N_("Fever is reported but the measured temperature is {shown}, below 37.5 °C: check which is right."),
    N_("Fever is read as absent but the measured temperature is {shown}, 38.0 °C or more: check which is right."),
    # medviz.text.cant_miss: the rule's wording
    N_("named when in the top {k} of the differential or at a probability of {p} or more"),
    N_("named when in the top {k} of the differential at {floor} or more, or at a probability of {p} or more"),
    # medviz.auth: sign-in and password errors
    N_("unknown user name or wrong password"),
    N_("this account is locked after {n} failed sign-ins {when}; wait or ask an administrator"),
    N_("until {time} UTC"),
    N_("for now"),
    N_("this account no longer exists"),
    N_("the new password must differ from the current one"),
    N_("password rejected: {problems}"),
    N_("at least {n} characters (got {got})"),
    N_("at most {n} characters"),
    N_("at least 5 different characters"),
    N_("must not contain the user name"),
    N_("is a commonly used password (on zxcvbn's list of 30,000 common passwords)"),
    N_("must not start or end with spaces"),
    N_("too easy to guess (strength {score} of 4, at least {needed} needed: {why})"),
    N_("too easy to guess (strength {score} of 4, at least {needed} needed; add another uncommon word or two)"),
    # medviz.schema: tabular validation (the Case page's form and the Batch page). The English stays in the
    # scored CSV's error/warnings columns and the CLI; {field} is the feature's name or label (bundle data),
    # {value} the cell as written (user data: shown as written, never translated).
    N_("{field}: {value} is not a number"),
    N_("{field}: {value} is not a finite number"),
    N_("{field}: {value} is impossible (allowed {allowed})"),
    N_("{field}: {value} is not a whole number (expected a count)"),
    N_("{field}: blank, imputed by the model (training median {median})"),
    N_("{field}: {value} is below the training range {range} (1st–99th percentile): extrapolation"),
    N_("{field}: {value} is above the training range {range} (1st–99th percentile): extrapolation"),
    N_("{n} of {total} features are blank (at most {limit} can be imputed)"),
    N_("missing required column(s): {missing}. The model needs: {needed}; {hint}"),
    # medviz.errors.columns_hint (a missing column, without echoing the file's own column names)
    N_("the file has {n} column(s), none named {names}; check that its first line is a header row naming the columns"),
    N_("the file has {n} column(s), none named {names} ({hints}; names must match exactly)"),
    N_("'{found}' looks like '{name}'"),
    # medviz.io: a file that cannot be read (the Batch page). {name} is the file's name ("uploaded file" for
    # an upload), numbers arrive already formatted ("1,234"), {reason} is the parser's own English.
    N_("{name}: this is a Parquet file; give it a .parquet name"),
    N_("{name}: this is {what}, not a CSV text file; export it as CSV (comma-separated) first"),
    N_("{name}: not valid {encoding} after line {line} ({reason}); save it again as UTF-8 or 'Unicode Text'"),
    N_("{name}: line {line}: byte {byte} is not UTF-8, but earlier lines are UTF-8 text (a file of mixed "
       "encodings?); save it again as UTF-8"),
    N_("{name}: line {line}: byte {byte} is neither UTF-8 nor Windows-1252; save the file as UTF-8"),
    N_("{name}: the header has more than {n} columns (the limit; the CLI can lift it with --max-columns)"),
    N_("{name}: line {line} is longer than {size} (the limit per line; the CLI can lift it with --max-line-bytes)"),
    N_("{name}: more than {n} rows (lines); that is the limit for one file here (the CLI streams any size: "
       "--max-rows 0)"),
    N_("{name}: the file is empty (expected a header line and at least one row)"),
    N_("{name}: line {line} (the header) is longer than {size}"),
    N_("{name}: line {line}: a quote in the header is never closed"),
    N_("{name}: the header has {n} columns; the limit is {limit} (the CLI can lift it with --max-columns)"),
    N_("{name}: {n} column name(s) appear more than once ({where}); each column needs a unique name — check "
       "that the first line is a header row"),
    N_("{name}: not a readable Parquet file ({reason})"),
    N_("{name}: {n} columns; the limit is {limit} (--max-columns)"),
    N_("{name}: {n} rows; the limit is {limit} (--max-rows)"),
    N_("{name}: line {line}: a quote opened on this line is never closed (every line from there to the end of "
       "the file would be read as one cell); close or remove the quote"),
    N_("{name}: a record longer than {size} (one cell with many line breaks, or a quote that is never closed) "
       "after line {line}"),
    N_("{name}: not a well-formed CSV ({reason})"),
    N_("the file has a header but no rows"),
    N_("the file has a header but no rows to score"),  # medviz.scoring (Batch page)
)

# zxcvbn's password feedback (warning and suggestions), its fixed English sentences: zxcvbn 4.5 marks them
# with the process-wide stdlib gettext and ships no catalogue, so medviz translates them here, per session.
# medviz.auth puts them, space-separated, into "too easy to guess (…: {why})". tests/test_i18n_messages.py
# reads every sentence zxcvbn's feedback module can emit and fails when one is missing here.
ZXCVBN_FEEDBACK: tuple[str, ...] = (
    N_("Use a few words, avoid common phrases."),
    N_("No need for symbols, digits, or uppercase letters."),
    N_("Add another word or two. Uncommon words are better."),
    N_("Straight rows of keys are easy to guess."),
    N_("Short keyboard patterns are easy to guess."),
    N_("Use a longer keyboard pattern with more turns."),
    N_('Repeats like "aaa" are easy to guess.'),
    N_('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    N_("Avoid repeated words and characters."),
    N_('Sequences like "abc" or "6543" are easy to guess.'),
    N_("Avoid sequences."),
    N_("Recent years are easy to guess."),
    N_("Avoid recent years."),
    N_("Avoid years that are associated with you."),
    N_("Dates are often easy to guess."),
    N_("Avoid dates and years that are associated with you."),
    N_("This is a top-10 common password."),
    N_("This is a top-100 common password."),
    N_("This is a very common password."),
    N_("This is similar to a commonly used password."),
    N_("A word by itself is easy to guess."),
    N_("Names and surnames by themselves are easy to guess."),
    N_("Common names and surnames are easy to guess."),
    N_("Capitalization doesn't help very much."),
    N_("All-uppercase is almost as easy to guess as all-lowercase."),
    N_("Reversed words aren't much harder to guess."),
    N_("Predictable substitutions like '@' instead of 'a' don't help very much."),
)

# Values the pages show from closed vocabularies (not user text): statuses, vital signs, roles.
TERMS: dict[str, str] = {
    "present": N_("present"), "absent": N_("absent"), "uncertain": N_("uncertain"),
    "historical": N_("historical"), "family/other person": N_("family/other person"),
    "low": N_("low"), "normal": N_("normal"), "high": N_("high"), "medium": N_("medium"),
    "temperature": N_("temperature"), "heart rate": N_("heart rate"), "respiratory rate": N_("respiratory rate"),
    "systolic blood pressure": N_("systolic blood pressure"), "diastolic blood pressure": N_("diastolic blood pressure"),
    "oxygen saturation (SpO2)": N_("oxygen saturation (SpO2)"), "blood glucose": N_("blood glucose"),
    "fever": N_("fever"), "low body temperature": N_("low body temperature"), "tachycardia": N_("tachycardia"),
    "bradycardia": N_("bradycardia"), "tachypnoea": N_("tachypnoea"), "bradypnoea": N_("bradypnoea"),
    "hypertension": N_("hypertension"), "hypotension": N_("hypotension"),
    "low oxygen saturation": N_("low oxygen saturation"), "hyperglycaemia": N_("hyperglycaemia"),
    "hypoglycaemia": N_("hypoglycaemia"),
    "admin": N_("admin"), "clinician": N_("clinician"),
    "uploaded file": N_("uploaded file"),  # medviz.io's name for bytes without a file name
    # medviz.io.sniff_binary: what a file that is not text looks like
    "a ZIP archive (an Excel .xlsx file?)": N_("a ZIP archive (an Excel .xlsx file?)"),
    "an OLE2 file (an old Excel .xls file?)": N_("an OLE2 file (an old Excel .xls file?)"),
    "a PDF file": N_("a PDF file"), "a PNG image": N_("a PNG image"), "a gzip archive": N_("a gzip archive"),
    "a binary file (it contains NUL bytes)": N_("a binary file (it contains NUL bytes)"),
}


def _pattern(template: str) -> re.Pattern:
    out = []
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        out.append(re.escape(literal))
        if field is not None:
            out.append(f"(?P<{field}>.+?)")
    return re.compile("".join(out), re.DOTALL)


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[re.Pattern, str], ...]:
    # Longer templates first: the more specific wording wins where two could match.
    return tuple((_pattern(t), t) for t in sorted(TEMPLATES, key=len, reverse=True))


def match(message: str) -> tuple[str, dict[str, str]] | None:
    """The English template ``message`` was written from and the values put into it, or None."""
    for pattern, template in _compiled():
        m = pattern.fullmatch(message)
        if m:
            return template, m.groupdict()
    return None


def library_message(message: object) -> str:
    """``message`` (a library error or warning, English) in the session's language; as written if unknown.

    A list of messages joined with "; " (a row's validation errors) is shown part by part when every part
    is a known message; otherwise the whole text is matched first (a template may itself hold a "; " list).
    The result is text for :func:`medviz.ui.common.plain` (values inside it may come from the user)."""
    if isinstance(message, (Message, MessageList)):
        return str(translate(message))
    text = str(message)
    if "; " in text:
        parts = text.split("; ")
        if all(match(p) is not None for p in parts):
            shown = [library_message(p) for p in parts]
            return ("；" if any(_is_cjk(p) for p in shown) else "; ").join(shown)
    found = match(text)
    if found is None:
        advice = password_advice(text)
        if advice is not None:
            return advice
        if "; " in text:  # a list of messages ("password rejected: a; b")
            parts = [library_message(p) for p in text.split("; ")]
            return ("；" if any(_is_cjk(p) for p in parts) else "; ").join(parts)
        return term(text)
    template, values = found
    return _(template).format(**{k: library_message(v) for k, v in values.items()})


def upload_error(file_name: str, error: object) -> str:
    """An upload's error for the page, naming the file once: the reader's own errors start with the name it
    was given (``read_columns``/``score_upload`` with ``name=``: "book.csv: the file is empty (…)"); the
    others (no rows to score, missing columns) get "book.csv: " in front. Text for :func:`medviz.ui.common.plain`."""
    shown = library_message(error)
    text = str(error)
    if text.startswith(f"{file_name}: "):
        return shown
    return f"{file_name}: {shown}"


def password_advice(text: str) -> str | None:
    """zxcvbn's feedback (its sentences joined by spaces, as medviz.auth writes them) in the session's
    language; None when ``text`` is not made only of zxcvbn's sentences."""
    known = _feedback_sentences()
    rest, shown = text.strip(), []
    while rest:
        sentence = next((f for f in known if rest.startswith(f)), None)
        if sentence is None:
            return None
        shown.append(_(sentence))
        rest = rest[len(sentence):].lstrip()
    if not shown:
        return None
    return ("" if any(_is_cjk(p) for p in shown) else " ").join(shown)


@functools.lru_cache(maxsize=1)
def _feedback_sentences() -> tuple[str, ...]:
    return tuple(sorted(ZXCVBN_FEEDBACK, key=len, reverse=True))  # longest first: no sentence is cut short


def term(value: object) -> str:
    """A value from a closed vocabulary (status, vital sign, role) in the session's language."""
    text = str(value)
    return _(TERMS[text]) if text in TERMS else text


def role_name(role: str) -> str:
    return term(role)


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
