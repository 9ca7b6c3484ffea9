"""Assertion status of the findings in a Chinese note (issue 14), with medspaCy ConText on spaCy's
Chinese pipeline — the statuses of the English reader (:mod:`.assertion`): present, absent, uncertain,
historical, family/other person.

Pipeline (no model weights, nothing downloaded): ``spacy.blank("zh")`` with the ``char`` segmenter
(each character a token; spaCy's default for Chinese, needs neither jieba nor pkuseg) -> sentence
starts after 。！；. and line breaks -> medspaCy TargetMatcher (the Chinese symptom, clinician-finding
and condition names of ``medviz/text/synth/zh.json``, the authors' translations) -> medspaCy ConText
(``data/context_rules_zh.json``: 否认, 无, 没有, 未见, 不伴, 排除, X阴性, X(-); 可能, 疑似, 考虑, 待排;
既往, X病史; 家族史, 父亲, 母亲, …; pseudo-cues such as 无明显诱因 and 母亲代诉; a comma or 但 ends a
cue's scope while 、 and 及 continue its list). Modifiers inside a finding (无 in 上肢无力) are pruned.

:func:`preprocess_all` returns :class:`~.types.Preprocessed` results like the English reader's;
``model_text`` is the note with every finding that is not present removed with its cue
(``remove=True``, the ``clinical`` preprocessing) or the note as written (``remove=False``, a bundle
trained with ``none`` that reads negation itself). The dispatch rule every path uses is
:func:`medviz.text.zh.is_chinese`: a note with a Han character is read here.
"""
from __future__ import annotations

import functools
import json
import re
import warnings
from pathlib import Path

from medviz.text.clinical.once import build_once
from medviz.text.clinical.types import ABSENT, UNCERTAIN, Finding, Preprocessed, ScopedFinding

DATA = Path(__file__).with_name("data")
RULES_FILE = DATA / "context_rules_zh.json"
_SENTENCE_END = {"。", "！", "；", ".", "!", ";"}
_BATCH = 256


def _names_file() -> Path:
    from medviz.text.synth.render_zh import ZH_FILE

    return ZH_FILE


@functools.lru_cache(maxsize=1)
def target_terms() -> tuple[tuple[str, str], ...]:
    """(phrase, category) of every Chinese finding the target matcher knows: the 376 symptoms' lay and
    clinical names and the clinician findings (FINDING), the 801 condition names (CONDITION)."""
    doc = json.loads(_names_file().read_text(encoding="utf-8"))
    findings: dict[str, str] = {}
    for entry in doc["symptoms"].values():
        for name in entry["lay"] + entry["clinical"]:
            findings.setdefault(name, "FINDING")
    for zh in doc["clinical_findings"].values():
        for alt in zh.split(" / "):
            if not re.fullmatch(r"[\x00-\x7f]*", alt):  # not a bare number ("SpO2 92%")
                findings.setdefault(alt.strip(), "FINDING")
    for c in doc["conditions"].values():
        for name in re.split(r"[（）()]", c["zh"]):
            if len(name.strip()) >= 2:
                findings.setdefault(name.strip(), "CONDITION")
    return tuple(sorted(findings.items()))


@functools.lru_cache(maxsize=1)
def context_rules() -> tuple[dict, ...]:
    return tuple(json.loads(RULES_FILE.read_text(encoding="utf-8"))["context_rules"])


def _register() -> None:
    from spacy.language import Language

    from medviz.text.clinical.assertion import mark_sentence_starts

    if "medviz_zh_sentences" in Language.factories:
        return

    @Language.component("medviz_zh_sentences")
    def medviz_zh_sentences(doc):
        """Sentence starts after 。！；.!; and line breaks (？ is a hedge here, as "?" in English)."""
        mark_sentence_starts(doc, _SENTENCE_END)
        return doc


@build_once  # thread-safe: concurrent sessions and the warm-up share one build (medviz.text.clinical.once)
def pipeline():
    """The Chinese spaCy pipeline, built once per process."""
    from loguru import logger

    logger.disable("PyRuSH")  # medspaCy imports PyRuSH, which logs note text at DEBUG
    logger.disable("medspacy")
    import spacy
    from medspacy.context import ConText, ConTextRule  # noqa: F401  (registers the factory)
    from medspacy.target_matcher import TargetMatcher, TargetRule  # noqa: F401

    warnings.filterwarnings("ignore", message=r"\[W036\]")
    _register()
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    nlp.add_pipe("medviz_zh_sentences")
    matcher = nlp.add_pipe("medspacy_target_matcher")
    matcher.add([TargetRule(phrase, category) for phrase, category in target_terms()])
    context = nlp.add_pipe("medspacy_context", config={"rules": None, "prune_on_target_overlap": True})
    context.add([ConTextRule(r["literal"], r["category"], direction=r["direction"]) for r in context_rules()])
    return nlp


def _tidy(text: str) -> str:
    """Punctuation left where findings were removed ("，，。") collapsed."""
    text = re.sub(r"([，、,；;])(?:\s*[，、,；;])+", r"\1", text)
    text = re.sub(r"[，、,；;]\s*([。.！!])", r"\1", text)
    text = re.sub(r"([。.！!])(?:\s*[。.！!])+", r"\1", text)
    return re.sub(r"^[\s，、,；;。.]+", "", text).strip()


def _result(text: str, doc, remove: bool) -> Preprocessed:
    from medviz.text.clinical.assertion import reading_of

    reading = reading_of(doc)
    cue_of = dict(reading.cues)
    scoped = tuple(ScopedFinding(text=f.phrase, cue=cue_of.get(f.phrase, ""), kind="negated" if f.status == ABSENT else "hedged")
                   for f in reading.findings if f.status in (ABSENT, UNCERTAIN))
    model_text = text
    if remove and reading.drop:
        out, last = [], 0
        for s, e in reading.drop:
            out.append(text[last:s])
            last = e
        model_text = _tidy("".join(out) + text[last:])
    return Preprocessed(original=text, model_text=model_text, terms=(), negated=scoped,
                        findings=tuple(Finding(f.phrase, f.status, f.start, f.end) for f in reading.findings))


def preprocess_all(texts, remove: bool = True) -> list[Preprocessed]:
    """Read Chinese notes (each distinct text once, one ``nlp.pipe`` pass): findings with their status;
    ``model_text`` without the findings that are not present (``remove``) or as written."""
    texts = [str(t) for t in texts]
    distinct = list(dict.fromkeys(texts))
    if not distinct:
        return []
    nlp = pipeline()
    done = {t: _result(t, doc, remove) for t, doc in zip(distinct, nlp.pipe(distinct, batch_size=_BATCH))}
    return [done[t] for t in texts]


def preprocess(text: str) -> Preprocessed:
    """:func:`preprocess_all` for one note."""
    return preprocess_all([text])[0]
