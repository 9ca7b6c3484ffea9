"""The text pipeline: every path that reads a note (Case page, Case history, Batch page, ``score``,
``evaluate``, external validation) calls the functions here, and a single case is a batch of one.

raw texts -> :func:`prepare` (input checks: empty, unreadable, too long; the preprocessing named in
the manifest: clinician-register normalisation, assertion status of findings) -> :func:`analyse_prepared`
(model over overlapping windows for long notes: calibrated probabilities, logits; conformal set,
out-of-scope score and flag, low-confidence rule, warnings) -> :class:`TextBatch`, one row per text.

:func:`analyse_case` is ``analyse_texts([text])`` plus what only the Case page draws (the words read
with their attention); a row that cannot be scored raises :class:`InputError` with the same message a
scored CSV puts in ``error``. Warnings and errors are :class:`Notice` objects: ``code`` is what a scored
CSV writes, ``message`` what the page shows, so every path reports the same thing.

:func:`prepare` is separate from :func:`analyse_prepared` so that CSV scoring can run the Python
preprocessing in its reading thread while the previous chunk is in the model (medviz.scoring).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from medviz.errors import InputError
from medviz.i18n import format_probability
from medviz.text.clinical import Preprocessed, ScopedFinding, Term, findings_of_kind
from medviz.text.conformal import prediction_sets
from medviz.text.safety import SafetyConfig  # noqa: F401 (re-exported)
from medviz.text.synth.bayes import denied_not_evidence, expert_for, expert_reading, with_expert
from medviz.text.zh import HAN

if TYPE_CHECKING:  # TensorFlow is imported by the model, not by reading a note: prepare() runs in a worker process
    from medviz.text.predict import TextPredictor, Token

# Low-confidence rule (CLINICAL.md W6): top probability under this, or a conformal set this large.
LOW_CONFIDENCE_TOP_PROBABILITY = 0.5
LOW_CONFIDENCE_SET_SIZE = 4
SET_SEPARATOR = "|"  # prediction_set and findings_* columns
MAX_CHARS = 20_000  # longer input is cut before preprocessing (the model reads far fewer words anyway)
MIN_TOKENS = 3
UNKNOWN_SHARE_WARN = 0.5
# The model's alphabet: its standardisation keeps ASCII letters and digits (medviz.text.layers). A
# text without a letter (another script, emoji, only digits or punctuation) has nothing it can read.
READABLE = re.compile(r"[A-Za-z]")
# A bundle whose manifest lists "zh" among inputs.languages also reads Han characters (issue 14).
READABLE_ZH = re.compile(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Words as the tokenizers count them: a run of ASCII letters/digits, or one Han character (a Chinese
# model's token; an English model has no Han text to count: it is refused or warned about in prepare)
_WORD = re.compile(r"[A-Za-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Assertion statuses reported per row (the scored CSV's findings_* columns).
FINDING_STATUSES = ("present", "absent", "uncertain")

OUT_OF_SCOPE_WARNING = (
    "This case may be outside what the model was trained for: treat the list below with caution."
)


@dataclass(frozen=True)
class Notice:
    """A warning or error about one text: ``code`` for a scored CSV, ``message`` for the page."""

    code: str
    message: str


EMPTY = Notice("empty text, nothing to score",
               "The case text is empty: describe the patient's symptoms in a sentence or two.")
UNREADABLE = Notice(
    "no words the model can read (it reads English letters; the text has none)",
    "The model reads English words (letters a-z); this text has none (another script, emoji, or only "
    "numbers or punctuation), so there is nothing it can read and no diagnosis is given.",
)


# the same for a bundle that reads Chinese too (issue 14): "English letters" alone was wrong there (a newcomer's "12345"
# on differential-801, session 13)
UNREADABLE_ZH = Notice(
    "no words the model can read (it reads English letters and Chinese characters; the text has none)",
    "The model reads English words (letters a-z) and Chinese characters; this text has none (another script, emoji, "
    "or only numbers or punctuation), so there is nothing it can read and no diagnosis is given.",
)
ENGLISH_ONLY = Notice(
    "Chinese text: this model reads English only",
    "This model reads English only: the text is in Chinese, which it cannot read, so no diagnosis is given. "
    "Use a model that reads Chinese (its model card lists the languages), or describe the case in English.",
)
CHINESE_NOT_READ = "This model reads English only: the Chinese characters in the text were not read."
NO_FINDING_READ_PRESENT = (
    "No finding in this note was read as present: the knowledge-base expert read only denied findings (see the "
    "findings below). The list below rests on the other words the network read ({words}), which the expert does not "
    "know as findings: check it against the note, and write present findings in common clinical words.")
EVERY_FINDING_DENIED = ("Every finding read in this note is denied (see the findings below), and a denied finding is "
                        "not evidence: nothing in the note supports any diagnosis in the list below.")


class NothingToScoreError(InputError):
    """A note the model cannot score because every finding in it was read as absent or uncertain (or
    only normal values were left). ``preprocessed`` is its clinical reading, so that a page shows the
    denied findings as a scored CSV lists them in ``findings_absent``."""

    def __init__(self, message: str, preprocessed: Preprocessed):
        super().__init__(message)
        self.preprocessed = preprocessed

    def findings(self, status: str) -> tuple[str, ...]:
        return findings_of(self.preprocessed, status)


def _nothing_left(pre: Preprocessed) -> Notice:
    gone = [f.text for f in pre.negated]
    if gone:
        return Notice(
            "every finding read as absent or uncertain, nothing left to score",
            "Every finding in the text was read as absent or uncertain (" + "; ".join(gone)
            + "): there is nothing left for the model to read. Describe the findings that are present.",
        )
    return Notice(
        "nothing left to score after preprocessing",
        "Nothing in the text was left for the model after preprocessing (normal values are not passed on): "
        "describe the patient's findings in words.",
    )


# place of each status in the expert's (present, absent, uncertain) finding names (Prepared.expert_findings)
EXPERT_STATUS_INDEX = {status: k for k, status in enumerate(FINDING_STATUSES)}


def row_findings(pre: Preprocessed | None, expert_names: tuple | None, status: str) -> tuple[str, ...]:
    """One row's finding phrases of ``status``: the clinical reading's (:func:`findings_of`) when it read any, else the
    knowledge-base expert's ``expert_names`` ((present, absent, uncertain) names, :meth:`TextBatch.expert_names`) when
    given (a bundle without clinical preprocessing: the 801-condition differential), else the scopes of ``pre``. The
    one rule behind a scored CSV's findings columns (:meth:`TextBatch.findings_texts`) and the Case page's lists."""
    if expert_names is not None and not getattr(pre, "findings", ()):
        k = EXPERT_STATUS_INDEX.get(status)
        return () if k is None else tuple(expert_names[k])
    return findings_of(pre, status)


def findings_of(pre: Preprocessed | None, status: str) -> tuple[str, ...]:
    """Finding phrases (as written, lower-cased) of one assertion status, in reading order.

    Uses ``Preprocessed.findings`` (medviz.text.clinical's typed findings) when present; a reading
    without them reports its negated / hedged scopes as absent / uncertain."""
    if pre is None:
        return ()
    if hasattr(pre, "findings"):
        from medviz.text.clinical import findings_by_status

        return findings_by_status(pre, status)
    kind = {"absent": "negated", "uncertain": "hedged"}.get(status)
    return tuple(t.lower() for t in findings_of_kind(pre.negated, kind)) if kind else ()


@dataclass(frozen=True)
class Prepared:
    """Texts checked and preprocessed, not yet through the model (:func:`prepare`)."""

    texts: list[str]  # as given, cut to MAX_CHARS
    errors: list[Notice | None]
    # None for rows with an input error; kept for rows whose every finding was absent or uncertain
    # (their error is _nothing_left and their findings still go to findings_* and the pages)
    preprocessed: list[Preprocessed | None]
    cut_chars: np.ndarray  # (N,) characters cut off before reading (0: none)
    # (rows without an error, C) the bundle's knowledge-base expert's log-scores of those rows' texts, when
    # prepare was given the bundle (None: analyse_prepared reads them; the same numbers either way)
    expert_log: np.ndarray | None = field(default=None, repr=False)
    # (rows without an error) what the network reads when the bundle's network must not read denied findings
    # (medviz.text.synth.bayes.denied_not_evidence: each text without them), read with expert_log; None otherwise
    network_texts: list[str] | None = field(default=None, repr=False)
    # (rows without an error) the expert's (present, absent, uncertain) finding names, read with expert_log: a scored
    # CSV's findings columns and the Case page's lists for a bundle without clinical preprocessing (the 801-condition
    # differential; :meth:`TextBatch.findings`)
    expert_findings: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] | None = field(default=None, repr=False)
    # (N) per row, the (condition, reason) of each red flag its text raises (medviz.text.red_flags; () for a row
    # with an error): the can't-miss line names those conditions whatever their rank
    red_flags: list[tuple[tuple[str, str], ...]] | None = field(default=None, repr=False)

    @property
    def ok(self) -> np.ndarray:
        return np.fromiter((e is None for e in self.errors), dtype=bool, count=len(self.errors))


def prepare(cfg: SafetyConfig, texts: Sequence[str | None], *, bundle=None, labels: Sequence[str] | None = None,
            red_flags: bool = True) -> Prepared:
    """Input checks and preprocessing for a batch. Never raises for a bad row: it gets an error.

    ``labels`` (or ``bundle``'s): the red flags (:func:`read_red_flags`) are read only when they include a
    condition that a red flag names; with neither, they are read. ``red_flags`` False: not read (a caller that
    wants only what the model reads, :func:`model_texts`).

    ``bundle``: when given and it has a knowledge-base expert (medviz.text.synth.bayes), the expert
    reads the texts of the rows without an error here too (``Prepared.expert_log``), so that CSV
    scoring does this Python work in its reading thread beside the model; without it
    :func:`analyse_prepared` reads them (same numbers)."""
    from medviz.text.preprocess import preprocess_batch

    raw = ["" if t is None or (isinstance(t, float) and np.isnan(t)) else str(t) for t in texts]
    lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
    cut = np.maximum(lengths - MAX_CHARS, 0)
    if cut.any():
        raw = [t[:MAX_CHARS] if c else t for t, c in zip(raw, cut)]
    errors: list[Notice | None] = [None] * len(raw)
    series = pd.Series(raw, dtype=object)
    empty = (series.str.strip() == "").to_numpy(dtype=bool)
    reads_zh = "zh" in getattr(cfg, "languages", ("en",))
    readable = series.str.contains((READABLE_ZH if reads_zh else READABLE).pattern, regex=True).to_numpy(dtype=bool)
    han = np.zeros(len(raw), dtype=bool) if reads_zh else series.str.contains(HAN.pattern, regex=True).to_numpy(dtype=bool)
    for i in np.flatnonzero(empty):
        errors[i] = EMPTY
    for i in np.flatnonzero(~readable & ~empty):
        errors[i] = ENGLISH_ONLY if han[i] else UNREADABLE_ZH if reads_zh else UNREADABLE
    good = np.flatnonzero(readable)
    pre: list[Preprocessed | None] = [None] * len(raw)
    for i, p in zip(good, preprocess_batch(cfg.preprocessing, [raw[i] for i in good])):
        if (READABLE_ZH if reads_zh else READABLE).search(p.model_text) is None:  # every finding negated, or only normal values
            errors[i] = _nothing_left(p)
        pre[i] = replace(p, warnings=tuple(p.warnings) + (CHINESE_NOT_READ,)) if han[i] else p
    if labels is None and bundle is not None:
        labels = bundle.labels
    prepared = Prepared(texts=raw, errors=errors, preprocessed=pre, cut_chars=cut,
                        red_flags=read_red_flags(raw, errors, labels) if red_flags else None)
    if bundle is None:
        return prepared
    return with_reading(prepared, bundle, expert_reading(bundle, [t for t, e in zip(raw, errors) if e is None],
                                                         findings=True))


def read_red_flags(texts: Sequence[str], errors: Sequence[Notice | None],
                   labels: Sequence[str] | None = None) -> list[tuple[tuple[str, str], ...]] | None:
    """Per text, the red flags it raises (:meth:`medviz.text.red_flags.RedFlags.raised`); () for a row with an error.
    None when ``labels`` (a bundle's) include no condition that a red flag names (the 22-condition bundle)."""
    from medviz.text.red_flags import load_red_flags

    flags = load_red_flags()
    if labels is not None and flags.conditions.isdisjoint(str(lab).casefold() for lab in labels):
        return None
    ok = [t for t, e in zip(texts, errors) if e is None]
    raised = iter(flags.raised_all(ok))
    return [next(raised) if e is None else () for e in errors]


def with_reading(prepared: Prepared, bundle, reading) -> Prepared:
    """``prepared`` with the bundle's expert's reading (:func:`medviz.text.synth.bayes.expert_reading`, with findings)
    of its rows without an error: the expert's log-scores, what the network reads of them, the finding names.
    ``reading`` None (a bundle without an expert): ``prepared`` unchanged. The one place these three are set, for
    :func:`prepare`, the preparing worker's result (medviz.scoring.prepare_process) and :func:`analyse_prepared`."""
    if reading is None:
        return prepared
    ok_texts = [t for t, e in zip(prepared.texts, prepared.errors) if e is None]
    return replace(prepared, expert_log=expert_for(bundle)[0].scores_of(reading),
                   network_texts=reading.network_text_list(ok_texts), expert_findings=reading.findings_list())


@dataclass(frozen=True)
class TextBatch:
    """The pipeline's result for a batch: one row per input text, errors included (never dropped)."""

    labels: tuple[str, ...]
    prepared: Prepared
    model_texts: list[str]  # what the model read ("" for rows with an error)
    probabilities: np.ndarray  # (N, C) calibrated; NaN for rows with an error
    member: np.ndarray  # (N, C) bool conformal-set membership (top-1 only without calibration)
    top: np.ndarray  # (N,) index of the most probable class (0 for rows with an error)
    out_of_scope: np.ndarray  # (N,) bool (False where unknown)
    out_of_scope_score: np.ndarray  # (N,) float, NaN where not computed
    low_confidence: np.ndarray  # (N,) bool
    unknown_share: np.ndarray  # (N,) share of words outside the vocabulary
    n_words: np.ndarray  # (N,) words in the model text
    windows: np.ndarray  # (N,) windows read
    words_not_read: np.ndarray  # (N,) words after the last window (0: read whole)
    warnings: list[tuple[Notice, ...]]
    coverage: float | None
    out_of_scope_threshold: float | None
    has_detector: bool
    attention: np.ndarray | None = field(default=None, repr=False)  # (N, L) when asked for

    @property
    def errors(self) -> list[Notice | None]:
        return self.prepared.errors

    @property
    def ok(self) -> np.ndarray:
        return self.prepared.ok

    def __len__(self) -> int:
        return len(self.model_texts)

    def row_order(self, i: int) -> np.ndarray:
        """(C,) class indices of row ``i``, most probable first (ties: label order). Sorted per row on
        demand: a full (N, C) sort of a batch cost more than the model at 801 classes."""
        return np.argsort(-self.probabilities[i], kind="stable")

    def prediction_set(self, i: int) -> tuple[str, ...]:
        js = np.flatnonzero(self.member[i])
        js = js[np.argsort(-self.probabilities[i, js], kind="stable")]
        return tuple(self.labels[j] for j in js)

    def prediction_set_texts(self) -> list[str]:
        """Each row's conformal set, ranked, joined by :data:`SET_SEPARATOR` ("" for an error row)."""
        labels = np.asarray(self.labels, dtype=object)
        n = len(self)
        size = self.member.sum(axis=1)
        # Most sets hold one label, the top one; larger sets (most rows of a wide differential) are
        # ranked and joined for all rows at once: one stable sort by (row, -probability), then Arrow's
        # list join (a Python sort and join per row cost ~0.6 s per 20,000 rows at 801 classes).
        single = self.member.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)  # the member of a one-label set
        sets = np.where((size == 1) & self.ok, labels[single], "").astype(object)
        multi = np.flatnonzero((size > 1) & self.ok)
        if multi.size:
            import pyarrow as pa
            import pyarrow.compute as pc

            r, c = np.nonzero(self.member[multi])  # row-major: columns ascending within a row
            order = np.lexsort((-self.probabilities[multi[r], c], r))  # stable: ties keep label order
            offsets = np.zeros(multi.size + 1, dtype=np.int32)
            np.cumsum(size[multi], out=offsets[1:])
            ranked = pa.ListArray.from_arrays(pa.array(offsets), pa.array(self.labels, pa.string()).take(c[order]))
            sets[multi] = pc.binary_join(ranked, SET_SEPARATOR).to_numpy(zero_copy_only=False)
        return sets.tolist()

    def expert_names(self, i: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
        """Row ``i``'s (present, absent, uncertain) finding names as the bundle's knowledge-base expert read them
        (``Prepared.expert_findings``), or None: a bundle without an expert, or a row with an input error."""
        expert = self.prepared.expert_findings
        ok = self.prepared.ok
        if expert is None or not ok[i]:
            return None
        return expert[int(ok[:i].sum())]

    def findings(self, i: int, status: str) -> tuple[str, ...]:
        """Row ``i``'s finding phrases of ``status`` (:func:`row_findings`: the clinical reading's, or the expert's);
        one row of :meth:`findings_texts`, and what the Case page lists (:meth:`CaseAnalysis.findings`)."""
        return row_findings(self.prepared.preprocessed[i], self.expert_names(i), status)

    def findings_texts(self, status: str) -> list[str]:
        """Per row, the phrases of ``status`` joined by :data:`SET_SEPARATOR` (:func:`row_findings`): the clinical
        reading's, or for a bundle without one but with a knowledge-base expert (the 801-condition differential), the
        expert's reading (present, absent, uncertain)."""
        pre = self.prepared.preprocessed
        expert = self.prepared.expert_findings
        if expert is not None:
            rows = np.flatnonzero(self.prepared.ok).tolist()
            if not any(getattr(p, "findings", ()) for p in pre if p is not None):  # every row the expert's (801)
                k = EXPERT_STATUS_INDEX.get(status)
                out = [""] * len(pre)
                if k is not None:
                    for i, names in zip(rows, expert):
                        out[i] = SET_SEPARATOR.join(names[k])
                return out
            names_of = dict(zip(rows, expert))
            return [SET_SEPARATOR.join(row_findings(p, names_of.get(i), status)) if p is not None else ""
                    for i, p in enumerate(pre)]
        # a reading with no findings at all (every row of a bundle without clinical preprocessing) is "" at once
        return [SET_SEPARATOR.join(findings_of(p, status)) if p is not None and getattr(p, "findings", True) else ""
                for p in pre]

    def warning_codes(self) -> list[str]:
        return ["; ".join(w.code for w in ws) for ws in self.warnings]

    def error_codes(self) -> list[str]:
        return ["" if e is None else e.code for e in self.errors]


def model_texts(predictor: TextPredictor, texts: Sequence[str | None]) -> list[str]:
    """What the model reads of each text after the pipeline's checks and the bundle's preprocessing
    ("" for a text it refuses). Explanations explain these texts."""
    prepared = prepare(SafetyConfig.from_manifest(predictor.bundle.manifest), texts, red_flags=False)
    return [p.model_text if p is not None and e is None else "" for p, e in zip(prepared.preprocessed, prepared.errors)]


def analyse_texts(predictor: TextPredictor, texts: Sequence[str | None], *, attention: bool = False,
                  batch_size: int | None = None) -> TextBatch:
    """The whole pipeline for a batch of texts (see the module docstring)."""
    cfg = SafetyConfig.from_manifest(predictor.bundle.manifest)
    return analyse_prepared(predictor, prepare(cfg, texts, bundle=predictor.bundle), attention=attention,
                            batch_size=batch_size, cfg=cfg)


def analyse_prepared(predictor: TextPredictor, prepared: Prepared, *, attention: bool = False,
                     batch_size: int | None = None, cfg: SafetyConfig | None = None) -> TextBatch:
    """The model and the safety checks over texts already :func:`prepare`-d."""
    from medviz.text.predict import count_matches, unknown_shares

    cfg = cfg or SafetyConfig.from_manifest(predictor.bundle.manifest)
    n = len(prepared.texts)
    labels = tuple(predictor.bundle.labels)
    c = len(labels)
    ok = prepared.ok
    rows = np.flatnonzero(ok)
    model_texts = [""] * n
    for i in rows:
        model_texts[i] = prepared.preprocessed[i].model_text
    # A bundle with a knowledge-base expert (issue 15) shows network x expert; the expert reads the raw text.
    expert_log = prepared.expert_log if prepared.expert_log is not None and len(prepared.expert_log) == len(rows) else None
    if expert_log is None and expert_for(predictor.bundle) is not None:  # the expert reads here (not in prepare)
        prepared = with_reading(prepared, predictor.bundle, expert_reading(
            predictor.bundle, [prepared.texts[i] for i in rows], findings=True))
        expert_log = prepared.expert_log
    network_texts = prepared.network_texts
    if network_texts is not None:  # what the network reads: the preprocessed text without its denied findings
        for k, i in enumerate(rows):
            if network_texts[k] is not prepared.texts[i]:
                model_texts[i] = network_texts[k]
    read = [model_texts[i] for i in rows]
    pred = _predict_distinct(predictor, read, batch_size, attention)
    shown = with_expert(predictor.bundle, [prepared.texts[i] for i in rows], pred.probabilities, expert_log)
    if len(rows) == n:  # every row scored (the usual chunk): no (N, C) copy
        probs = np.asarray(shown, dtype=np.float64)
    else:
        probs = np.full((n, c), np.nan)
        probs[rows] = shown
    windows = np.ones(n, dtype=np.int64)
    not_read = np.zeros(n, dtype=np.int64)
    windows[rows], not_read[rows] = pred.read_counts()
    unknown = np.ones(n)
    if len(rows):
        unknown[rows] = pred.unknown if pred.unknown is not None else unknown_shares(predictor.bundle.model, read)
    n_words = np.zeros(n, dtype=np.int64)
    n_words[rows] = count_matches(_WORD, read) if len(rows) else 0
    top_class = np.zeros(n, dtype=np.int64)
    top_p = np.full(n, np.nan)
    if len(rows):
        top_class[rows] = shown.argmax(axis=1)  # first of tied maxima, as a stable sort puts first
        top_p[rows] = shown[np.arange(len(rows)), top_class[rows]]
    member = np.zeros((n, c), dtype=bool)
    if cfg.conformal is not None and len(rows) == n:
        member = prediction_sets(shown, cfg.conformal)
    elif cfg.conformal is not None:
        member[rows] = prediction_sets(shown, cfg.conformal) if len(rows) else member[rows]
    else:
        member[rows, top_class[rows]] = True
    size = member.sum(axis=1)
    score = np.full(n, np.nan)
    flag = np.zeros(n, dtype=bool)
    if cfg.detector is not None and len(rows):
        score[rows] = cfg.detector.score(pred.logits, unknown[rows])
        flag[rows] = cfg.detector.flag(score[rows])
    top = top_p
    low = ok & ((top < LOW_CONFIDENCE_TOP_PROBABILITY) | (size >= LOW_CONFIDENCE_SET_SIZE) | (size == 0))
    short = ok & (n_words < MIN_TOKENS)
    clinical = ok & np.fromiter((bool(p is not None and getattr(p, "warnings", ())) for p in prepared.preprocessed),
                                dtype=bool, count=n)
    warnings: list[tuple[Notice, ...]] = [()] * n
    attention_rows = None
    # a bundle for which a denied finding is not evidence: a note whose every finding is denied (shared case A6)
    all_denied = np.zeros(n, dtype=bool)
    if prepared.expert_findings is not None and denied_not_evidence(predictor.bundle):
        # every finding denied: none present and none uncertain (a hedged finding is not denied: "denies fever, ?PE")
        all_denied[rows] = [not present and not uncertain and bool(absent)
                            for present, absent, uncertain in prepared.expert_findings]
    # "every finding denied" only when nothing but cues is left to read: a note whose present findings are in words
    # the expert does not know ("testicular ache") still has them for the network, and says so instead
    still_read: dict[int, tuple[str, ...]] = {}
    for i in np.flatnonzero(all_denied):
        words = words_still_read(model_texts[i], predictor.vocab)
        if words:
            still_read[int(i)] = words
            all_denied[i] = False
    needs = (flag | low | short | clinical | all_denied | np.isin(np.arange(n), list(still_read)) | (not_read > 0)
             | (ok & ((unknown > UNKNOWN_SHARE_WARN) | (prepared.cut_chars > 0))))
    for i in np.flatnonzero(needs):
        warnings[i] = tuple(_row_warnings(i, flag, low, short, unknown, n_words, not_read, windows, prepared,
                                          float(top[i]), int(size[i]), predictor, all_denied[i], still_read.get(int(i), ())))
    if attention and pred.attention is not None:
        attention_rows = np.zeros((n, pred.attention.shape[1]), dtype=pred.attention.dtype)
        attention_rows[rows] = pred.attention
    return TextBatch(
        labels=labels, prepared=prepared, model_texts=model_texts, probabilities=probs, member=member,
        top=top_class, out_of_scope=flag, out_of_scope_score=score, low_confidence=low, unknown_share=unknown,
        n_words=n_words, windows=windows, words_not_read=not_read, warnings=warnings,
        coverage=cfg.conformal.coverage if cfg.conformal else None,
        out_of_scope_threshold=cfg.detector.threshold if cfg.detector else None,
        has_detector=cfg.detector is not None, attention=attention_rows,
    )


def _predict_distinct(predictor: TextPredictor, texts: list[str], batch_size: int | None, attention: bool):
    """``predictor.predict`` over the distinct texts only, expanded back to one row per text (files often
    repeat a text: templates, copied notes). Same arrays as predicting every row. ``batch_size`` None: the
    predictor's own (medviz.text.predict.BATCH_SIZE)."""
    if batch_size is None:
        from medviz.text.predict import BATCH_SIZE as batch_size
    if len(texts) < 2:
        return predictor.predict(texts, batch_size=batch_size, attention=attention)
    codes, uniq = pd.factorize(pd.Series(texts, dtype=object), sort=False)
    if len(uniq) == len(texts):
        return predictor.predict(texts, batch_size=batch_size, attention=attention)
    import dataclasses

    pred = predictor.predict(list(uniq), batch_size=batch_size, attention=attention)
    take = {f.name: getattr(pred, f.name)[codes] for f in dataclasses.fields(pred)
            if isinstance(getattr(pred, f.name), np.ndarray)}
    return dataclasses.replace(pred, **take)


# Words left in a note after its denied findings are cut that say nothing about the patient: English stop words
# (scikit-learn's list) and the expert's negation cues; tokens with a digit (ages, durations, values) are skipped too.
SHOWN_WORDS = 8


@lru_cache(maxsize=1)
def _not_a_finding_word() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from medviz.text.synth.bayes import _NEG_WORDS, _POST_NEG

    return frozenset(ENGLISH_STOP_WORDS) | _NEG_WORDS | _POST_NEG


def words_still_read(text: str, vocabulary: frozenset) -> tuple[str, ...]:
    """Content words of ``text`` (what the network reads of a note, its denied findings cut) that are in the network's
    ``vocabulary``: English words of 3+ letters, not stop words or negation cues, no digits; at most
    :data:`SHOWN_WORDS`, in reading order. Han characters are not counted (a Chinese note left with only characters
    such as 患者 "patient" keeps the "every finding denied" notice)."""
    skip = _not_a_finding_word()
    out: list[str] = []
    for w in dict.fromkeys(re.findall(r"[a-z]{3,}", text.lower())):
        if w in vocabulary and w not in skip:
            out.append(w)
            if len(out) == SHOWN_WORDS:
                break
    return tuple(out)


def _row_warnings(i, flag, low, short, unknown, n_words, not_read, windows, prepared, top, size, predictor,
                  all_denied=False, still_read: tuple[str, ...] = ()):
    if flag[i]:  # first: the pages show the out-of-scope notice as the flag above the list
        yield Notice("possibly out of scope", OUT_OF_SCOPE_WARNING)
    if all_denied:  # what the network read is only the cues left after the cut: its word counts would mislead
        yield Notice("every finding denied", EVERY_FINDING_DENIED)
    elif still_read:
        yield Notice("no finding read as present", NO_FINDING_READ_PRESENT.format(words=", ".join(still_read)))
    if prepared.cut_chars[i]:
        yield Notice(f"text cut at {MAX_CHARS:,} characters",
                     f"The text is {MAX_CHARS + int(prepared.cut_chars[i]):,} characters long; only the first "
                     f"{MAX_CHARS:,} were read.")
    if not_read[i]:
        words = int(n_words[i])
        yield Notice(f"last {int(not_read[i]):,} of {words:,} words not read",
                     f"The note has {words:,} words; the model read the first {words - int(not_read[i]):,} "
                     f"({int(windows[i])} overlapping windows of {predictor.seq_len}); the last "
                     f"{int(not_read[i]):,} were not read.")
    if short[i] and not all_denied:
        k = int(n_words[i])
        yield Notice("very short text", f"Very short input ({k} word{'s' if k != 1 else ''}): the model needs a fuller description.")
    if all_denied:
        pass
    elif unknown[i] >= 1.0:
        yield Notice("no known words", "None of the words are in the model's vocabulary: the list below is not "
                                        "based on your text.")
    elif unknown[i] > UNKNOWN_SHARE_WARN:
        words = int(n_words[i])
        k = round(unknown[i] * words)
        yield Notice(f"{unknown[i]:.0%} unknown words",
                     f"{unknown[i]:.0%} of the words ({k} of {words}) are unknown to the model; it is judging from "
                     "the rest only.")
    if low[i]:
        yield Notice("low confidence", _low_confidence_text(top, size))
    pre = prepared.preprocessed[i]
    for w in getattr(pre, "warnings", ()) or ():
        yield Notice(str(w), str(w))


@lru_cache(maxsize=1)
def _low_confidence_rule() -> str:
    """The rule sentence of the low-confidence notice: the same for every row (built once, not per row of a CSV)."""
    return (f"(rule: top under {format_probability(LOW_CONFIDENCE_TOP_PROBABILITY, 0, 'en')}, or a set that is empty "
            f"or has {LOW_CONFIDENCE_SET_SIZE} or more diagnoses).")


def _low_confidence_text(top: float, set_size: int) -> str:
    """The low-confidence notice (English: scored CSVs, the audit trail; the pages translate it, medviz.ui.messages);
    ``top``: the top diagnosis's probability in [0, 1], "<1%" below 1 % (:func:`medviz.i18n.format_probability`)."""
    rule = _low_confidence_rule()
    if set_size >= LOW_CONFIDENCE_SET_SIZE and top >= LOW_CONFIDENCE_TOP_PROBABILITY:
        # a probable top diagnosis with a wide set: "the top diagnosis has 88% probability and a conformal set of 6" read
        # to a newcomer as a contradiction (session 13); say what is uncertain, the set
        return (f"Low confidence: {set_size} diagnoses are still plausible (the conformal set), although the top one has "
                f"{format_probability(top, 0, 'en')} probability {rule}")
    size = "an empty conformal set" if set_size == 0 else f"a conformal set of {set_size}"
    return f"Low confidence: the top diagnosis has {format_probability(top, 0, 'en')} probability and {size} {rule}"


@dataclass(frozen=True)
class CaseAnalysis:
    """One row of a :class:`TextBatch` with what the Case page draws."""

    text: str  # the case as typed (cut to MAX_CHARS)
    labels: tuple[str, ...]
    probabilities: np.ndarray  # (C,) calibrated, in label order
    ranked: tuple[tuple[str, float], ...]  # (label, probability), high to low
    prediction_set: tuple[str, ...]  # conformal set, ranked
    coverage: float | None  # target coverage of the set (None: bundle has no conformal calibration)
    out_of_scope: bool
    out_of_scope_score: float | None  # higher = less like the training cases
    out_of_scope_threshold: float | None
    low_confidence: bool
    negated: tuple[ScopedFinding, ...]  # findings read as absent (kind "negated") or uncertain ("hedged")
    recognised_terms: tuple[Term, ...]
    model_text: str  # what the model read
    tokens: tuple[Token, ...]  # tokens of model_text, aligned with attention
    attention: np.ndarray  # (L,) attention weights over model_text's tokens (Token.position indexes it)
    unknown_share: float
    truncated: bool  # words were left unread (see warnings)
    notices: tuple[Notice, ...]
    preprocessed: Preprocessed | None = None
    red_flags: tuple[tuple[str, str], ...] = ()  # (condition, reason) of each red flag the text raises
    # the knowledge-base expert's (present, absent, uncertain) finding names (TextBatch.expert_names); None: no expert
    expert_findings: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None = None

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(n.message for n in self.notices)

    @property
    def warning_codes(self) -> tuple[str, ...]:
        return tuple(n.code for n in self.notices)

    def findings(self, status: str) -> tuple[str, ...]:
        """The finding phrases of ``status`` (:func:`row_findings`): the same as the batch row's
        :meth:`TextBatch.findings` and a scored CSV's ``findings_<status>``."""
        return row_findings(self.preprocessed, self.expert_findings, status)

    @property
    def negated_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "negated")

    @property
    def hedged_findings(self) -> tuple[str, ...]:
        return findings_of_kind(self.negated, "hedged")

    def differential_sentence(self) -> str:
        if self.coverage is None:
            return ""
        if not self.prediction_set:
            return (
                f"No diagnosis is probable enough to include at {self.coverage:.0%} coverage on held-out cases: "
                "the model cannot stand behind any of its diagnoses for this case."
            )
        items = ", ".join(self.prediction_set)
        return f"With {self.coverage:.0%} coverage on held-out cases, the diagnosis is among: {items}."


def case_from_batch(predictor: TextPredictor, batch: TextBatch, i: int = 0) -> CaseAnalysis:
    """Row ``i`` of a batch as a :class:`CaseAnalysis`; raises InputError (the row's error message)
    for a row that could not be scored: :class:`NothingToScoreError`, with the reading, when every
    finding was read as absent or uncertain."""
    err = batch.errors[i]
    if err is not None:
        pre = batch.prepared.preprocessed[i]
        if pre is not None:
            raise NothingToScoreError(err.message, pre)
        raise InputError(err.message)
    probs = batch.probabilities[i]
    pre = batch.prepared.preprocessed[i]
    model_text = batch.model_texts[i]
    att = batch.attention[i] if batch.attention is not None else np.zeros(predictor.seq_len)
    return CaseAnalysis(
        text=batch.prepared.texts[i],
        labels=batch.labels,
        probabilities=probs,
        ranked=tuple((batch.labels[j], float(probs[j])) for j in batch.row_order(i)),
        prediction_set=batch.prediction_set(i),
        coverage=batch.coverage,
        out_of_scope=bool(batch.out_of_scope[i]),
        out_of_scope_score=None if np.isnan(batch.out_of_scope_score[i]) else float(batch.out_of_scope_score[i]),
        out_of_scope_threshold=batch.out_of_scope_threshold,
        low_confidence=bool(batch.low_confidence[i]),
        negated=tuple(pre.negated),
        recognised_terms=tuple(pre.terms),
        model_text=model_text,
        tokens=tuple(predictor.tokens(model_text)),
        attention=att,
        unknown_share=float(batch.unknown_share[i]),
        truncated=bool(batch.words_not_read[i] > 0 or batch.prepared.cut_chars[i] > 0),
        notices=batch.warnings[i],
        preprocessed=pre,
        red_flags=tuple(batch.prepared.red_flags[i]) if batch.prepared.red_flags is not None else (),
        expert_findings=batch.expert_names(i),
    )


def analyse_case(predictor: TextPredictor, text: str | None) -> CaseAnalysis:
    """Everything the Case page shows for one free-text case: :func:`analyse_texts` on a batch of
    one, with attention. Raises InputError (a plain message) for a text that cannot be scored."""
    return case_from_batch(predictor, analyse_texts(predictor, [text], attention=True))


def analyse_batch(
    predictor: TextPredictor, texts: list[str], batch_size: int | None = None, model_texts: list[str] | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Probabilities (N, C) and the safety columns ``prediction_set``, ``out_of_scope``,
    ``out_of_scope_score``, ``warnings`` and ``error`` for a batch (:func:`analyse_texts`; kept for
    the benchmarks). ``model_texts`` is ignored: preprocessing is part of the pipeline."""
    b = analyse_texts(predictor, texts, batch_size=batch_size)
    return b.probabilities, safety_frame(b)


def safety_frame(b: TextBatch) -> pd.DataFrame:
    n = len(b)
    return pd.DataFrame({
        "prediction_set": b.prediction_set_texts(),
        "out_of_scope": pd.array([bool(f) if good else pd.NA for f, good in zip(b.out_of_scope, b.ok)], dtype="boolean")
        if b.has_detector else pd.array([pd.NA] * n, dtype="boolean"),
        "out_of_scope_score": b.out_of_scope_score,
        "warnings": b.warning_codes(),
        "error": b.error_codes(),
    })
