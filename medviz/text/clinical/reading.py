"""One note -> :class:`Preprocessed`: vital signs, assertion status, clinician register, the model's text.

:func:`preprocess` (one note: the Case page), :func:`preprocess_all` (a batch, full results: CSV
scoring's finding columns) and :func:`preprocess_many` (a batch, model text only: training and
scoring) give the model the same text for the same note (tests/text/test_clinical_fastpath.py).

Speed: ConText (spaCy) costs about a millisecond a note. The batch functions read each distinct note
once, send only notes with a possible modifier cue (:func:`assertion.needs_context`, a word-set test)
through ``nlp.pipe`` in batches, and read the rest without spaCy: with no cue every finding is present
and nothing is removed.
"""
from __future__ import annotations

import re

import numpy as np

from medviz.text.clinical import assertion
from medviz.text.clinical.abbreviations import normalise, not_interpreted
from medviz.text.clinical.types import ABSENT, PRESENT, UNCERTAIN, Finding, Preprocessed, ScopedFinding, Term
from medviz.text.clinical.vitals import VitalText, contradictions, parse_vitals

_BATCH = 256  # nlp.pipe batch size: notes are short; larger batches gain nothing measurable here
_NO_VITALS = VitalText((), (), ())


def _model_text(text: str, drop, vitals: VitalText) -> str:
    """``text`` with the ``drop`` regions removed and vital-sign readings replaced by their words."""
    edits = sorted([(s, e, " ") for s, e in drop] + [(s, e, f" {w} " if w else " ") for s, e, w in vitals.replacements])
    if not edits:
        return text
    out, last = [], 0
    for s, e, rep in edits:
        if s < last:  # never happens (drop excludes vital spans); kept safe
            continue
        out.append(text[last:s])
        out.append(rep)
        last = e
    out.append(text[last:])
    return "".join(out)


_EMPTY_PUNCT = re.compile(r"\s*([,.;:!])(?:\s*[,.;:!])+")
_LEADING_PUNCT = re.compile(r"^[\s,.;:!]+")


def _tidy(text: str) -> str:
    """The punctuation left where findings were removed ("fever,. , ,") collapsed, for display."""
    return _LEADING_PUNCT.sub("", _EMPTY_PUNCT.sub(r"\1", text)).strip()


def _result(text: str, reading: assertion.Reading, vitals: VitalText) -> Preprocessed:
    normalised, terms = normalise(_model_text(text, reading.drop, vitals))
    normalised = _tidy(normalised)
    vital_terms = tuple(Term(text=r.text, meaning=w, kind="vital sign")
                        for r, (_, _, w) in zip(_one_per_span(vitals), vitals.replacements))
    abnormal = [Finding(phrase=v.text.lower(), status=PRESENT, start=v.start, end=v.end)
                for v in _one_per_span(vitals, abnormal_only=True)]
    findings = tuple(sorted(reading.findings + tuple(abnormal), key=lambda f: (f.start, f.end)))
    cue_of = dict(reading.cues)
    scoped = tuple(
        ScopedFinding(text=f.phrase, cue=cue_of.get(f.phrase, ""), kind="negated" if f.status == ABSENT else "hedged")
        for f in findings if f.status in (ABSENT, UNCERTAIN)
    )
    consumed = tuple((v.start, v.end) for v in vitals.readings)
    return Preprocessed(
        original=text,
        model_text=normalised,
        terms=vital_terms + terms,
        negated=scoped,
        findings=findings,
        vitals=vitals.readings,
        not_interpreted=vitals.not_interpreted + not_interpreted(text, consumed),
        warnings=contradictions(findings, vitals.readings),
    )


def _one_per_span(vitals: VitalText, abnormal_only: bool = False):
    """One reading per written span (blood pressure has two: the abnormal one, else the first)."""
    by_span: dict[tuple[int, int], list] = {}
    for v in vitals.readings:
        by_span.setdefault((v.start, v.end), []).append(v)
    out = []
    for span in sorted(by_span):
        group = by_span[span]
        worst = next((v for v in group if v.status != "normal"), None)
        if abnormal_only:
            if worst is not None:
                out.append(worst)
        else:
            out.append(worst or group[0])
    return out


_DIGIT = re.compile(r"\d")


def _vitals(text: str) -> VitalText:
    return parse_vitals(text) if _DIGIT.search(text) else _NO_VITALS


def _readings(texts: list[str], vitals: list[VitalText], full: bool) -> list[assertion.Reading]:
    """The ConText reading of each text; texts without a cue skip spaCy (``full``: still list their findings)."""
    out: list[assertion.Reading | None] = [None] * len(texts)
    need = [i for i, t in enumerate(texts) if assertion.needs_context(t)]
    if need:
        nlp = assertion.pipeline()
        context = nlp.get_pipe("medspacy_context")
        # ConText on every note with a cue, also without a matched finding: a denied word outside the
        # finding vocabulary ("denies presyncope") is removed from the model's text by its scope
        for i, doc in zip(need, nlp.pipe((texts[i] for i in need), batch_size=_BATCH, disable=["medspacy_context"])):
            assertion.run_context(context, doc)
            out[i] = assertion.reading_of(doc, keep=tuple((s, e) for s, e, _ in vitals[i].replacements))
    empty = assertion.Reading((), (), ())
    for i, t in enumerate(texts):
        if out[i] is None:
            out[i] = assertion.present_only(t) if full else empty
    return out


def preprocess(text: str) -> Preprocessed:
    """Read one note: vital signs, findings with their status, clinician register; the model's text.

    Pure and deterministic. ``text`` may be any string (an empty one gives an empty result)."""
    return preprocess_all([text])[0]


def _chinese(texts: list[str], model_text_only: bool):
    """Dispatch hook (issue 14): notes with a Han character are read by :mod:`.chinese`; None if there are none."""
    from medviz.text.zh import is_chinese

    zh = [i for i, t in enumerate(texts) if is_chinese(t)]
    if not zh:
        return None
    from medviz.text.clinical import chinese

    out: list = [None] * len(texts)
    for i, p in zip(zh, chinese.preprocess_all([texts[i] for i in zh])):
        out[i] = p.model_text if model_text_only else p
    rest = [i for i, t in enumerate(texts) if out[i] is None]
    for i, p in zip(rest, (preprocess_many if model_text_only else preprocess_all)([texts[i] for i in rest])):
        out[i] = p
    return out


def preprocess_all(texts) -> list[Preprocessed]:
    """:func:`preprocess` for a batch (each distinct text read once; one ``nlp.pipe`` pass)."""
    texts = [str(t) for t in texts]
    if (zh := _chinese(texts, False)) is not None:
        return zh
    distinct = list(dict.fromkeys(texts))
    vitals = [_vitals(t) for t in distinct]
    readings = _readings(distinct, vitals, full=True)
    done = {t: _result(t, r, v) for t, r, v in zip(distinct, readings, vitals)}
    return [done[t] for t in texts]


def preprocess_many(texts) -> list[str]:
    """The model texts for a batch (training and CSV scoring; the Case page uses :func:`preprocess`).

    Same model text as :func:`preprocess` up to spaces and punctuation, which the model's tokenizer
    discards (the closing tidy-up is skipped here)."""
    texts = [str(t) for t in texts]
    if (zh := _chinese(texts, True)) is not None:
        return zh
    distinct = list(dict.fromkeys(texts))
    vitals = [_vitals(t) for t in distinct]
    readings = _readings(distinct, vitals, full=False)
    done = {}
    for t, r, v in zip(distinct, readings, vitals):
        done[t] = normalise(_model_text(t, r.drop, v), tidy=False, terms_out=False)[0]
    return [done[t] for t in texts]


def needs_rules(texts) -> np.ndarray:
    """Boolean per text: does clinical preprocessing change it at all (a cue, a vital sign, a rewritten
    term)? For the benchmark's account of where time goes."""
    out = []
    for t in (str(x) for x in texts):
        out.append(assertion.needs_context(t) or bool(_vitals(t).replacements) or normalise(t)[0] != t.strip())
    return np.array(out, dtype=bool)
