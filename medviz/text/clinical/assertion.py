"""Assertion status of the findings in a note, with medspaCy's ConText (Harkema et al. 2009; Eyre et al. 2021).

Pipeline (spaCy, no model weights): a blank English tokenizer that also splits a trailing "-"/"+"
("fever-," -> fever, -, ,) -> sentence splitter (".", "!", ";" and line breaks; "?" is a hedge here,
not a sentence end) -> token flags the rules use (list commas, attached "-"/"+", "?" cues) ->
medspaCy TargetMatcher (findings: data/findings.json) -> medspaCy ConText (modifiers:
data/context_rules.json).

Each finding gets one status (types.STATUSES) from the modifiers that reach it: FAMILY -> other
person; NEGATED_EXISTENCE -> absent; POSSIBLE_EXISTENCE or HYPOTHETICAL -> uncertain; HISTORICAL ->
historical; none -> present. :func:`read_findings` also returns the character regions the model must
not read: each finding that is not present, with its cue and the words between them (so "denies a,
b, c or d" goes whole), minus anything present inside.

The sentence splitter and the token flags are hand-written (a few lines each): spaCy's sentencizer
ends a sentence at "?" and cannot split on line breaks, and PyRuSH logs note text through loguru.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from medviz.text.clinical.types import ABSENT, HISTORICAL, OTHER_PERSON, PRESENT, UNCERTAIN, Finding

DATA = Path(__file__).with_name("data")
_FLAGS = ("medviz_minus", "medviz_plus", "medviz_list_comma", "medviz_query", "medviz_query_back", "medviz_clause_end")
# words that may follow a negator that ends its clause ("fever: none reported")
_CLAUSE_END_NEXT = {"reported", "noted", "seen", "found", "elicited", "today", "currently", "now"}
_SENTENCE_END = {".", "!", ";"}


@functools.lru_cache(maxsize=1)
def finding_vocabulary() -> dict:
    """The finding vocabulary (data/findings.json): heads, modifiers, body sites, phrases, conditions."""
    return json.loads((DATA / "findings.json").read_text(encoding="utf-8"))


def finding_terms() -> tuple[str, ...]:
    """Every finding name the target rules know as a whole phrase (lower-case): the single-word heads,
    the multi-word phrases (SymCat's lay symptom names and the training text's phrases) and the
    conditions. For reuse by other models (e.g. a synthetic-note generator)."""
    v = finding_vocabulary()
    return tuple(sorted(set(v["heads"]) | set(v["phrases"]) | set(v["conditions"])))


def context_rules_path() -> Path:
    return DATA / "context_rules.json"


def _register_components() -> None:
    from spacy.language import Language
    from spacy.tokens import Token

    for flag in _FLAGS:
        if not Token.has_extension(flag):
            Token.set_extension(flag, default=False)
    if "medviz_sentences" in Language.factories:
        return

    @Language.component("medviz_sentences")
    def medviz_sentences(doc):
        """Sentence starts after ".", "!", ";" and line breaks (a decimal point is inside its token)."""
        for i, tok in enumerate(doc):
            if i == 0:
                tok.is_sent_start = True
                continue
            prev = doc[i - 1]
            tok.is_sent_start = prev.text in _SENTENCE_END or "\n" in prev.text or "\n" in prev.whitespace_
        return doc

    @Language.component("medviz_token_flags")
    def medviz_token_flags(doc):
        """Flags the ConText rules match on (their patterns use ``{"_": {flag: True}}``):

        * ``medviz_minus``/``medviz_plus``: a "-"/"+" attached to the word before it and followed by
          punctuation or the end ("fever-, cough+"); not a hyphen inside a word ("x-ray");
        * ``medviz_list_comma``: a comma followed, in the same sentence, by "or"/"nor" ("no fever,
          chills or sweats": the list runs on) - other commas end a bare "no";
        * ``medviz_query``: "?" attached to the word after it ("?UTI"); ``medviz_query_back``: "?"
          attached to the word before it ("UTI?");
        * ``medviz_clause_end``: the token ends its clause (punctuation, a line break or the end
          follows), so "Fever: no." is a backward negator and "ROS: no fever" is not."""
        for sent in doc.sents:
            or_seen = False
            for tok in reversed(sent):
                low = tok.lower_
                if low in ("or", "nor"):
                    or_seen = True
                elif low == ",":
                    tok._.medviz_list_comma = or_seen
        n = len(doc)
        for i, tok in enumerate(doc):
            t = tok.text
            nxt = doc[i + 1] if i + 1 < n else None
            if nxt is None or nxt.is_punct or nxt.is_space or "\n" in tok.whitespace_ or nxt.lower_ in _CLAUSE_END_NEXT:
                tok._.medviz_clause_end = True
            if t in ("-", "+", "?"):
                prev_attached = i > 0 and doc[i - 1].whitespace_ == "" and doc[i - 1].is_alpha
                ends = nxt is None or nxt.is_punct or tok.whitespace_ != "" or nxt.is_space
                if t == "-" and prev_attached and ends and (nxt is None or nxt.text != "-"):
                    tok._.medviz_minus = True
                elif t == "+" and prev_attached and ends:
                    tok._.medviz_plus = True
                elif t == "?":
                    if tok.whitespace_ == "" and nxt is not None and nxt.is_alpha:
                        tok._.medviz_query = True
                    elif prev_attached:
                        tok._.medviz_query_back = True
        return doc


def _target_patterns() -> list[tuple[str, str, list]]:
    """(literal, category, spaCy token pattern) for every finding and condition rule."""
    v = finding_vocabulary()
    mods = {"LOWER": {"IN": v["modifiers"]}, "OP": "*"}
    tail = [
        {"LOWER": {"IN": v["tail_prepositions"]}},
        {"LOWER": {"IN": v["tail_determiners"]}, "OP": "*"},
        {"LOWER": {"IN": v["body_sites"]}},
    ]
    out: list[tuple[str, str, list]] = []
    head = [{"LOWER": {"IN": v["heads"]}}]
    out += [("finding", "FINDING", [mods] + head), ("finding", "FINDING", [mods] + head + tail)]
    from spacy.lang.en import English

    tok = _tokenizer(English())
    for phrase in v["phrases"]:
        words = [{"LOWER": t.lower_} for t in tok(phrase)]
        out += [(phrase, "FINDING", [mods] + words), (phrase, "FINDING", [mods] + words + tail)]
    for cond in v["conditions"]:
        out.append((cond, "CONDITION", [{"LOWER": t.lower_} for t in tok(cond)]))
    for word in v["negated_findings"]:
        out.append((word, "NEGATED_FINDING", [{"LOWER": word}]))
    return out


def _tokenizer(nlp):
    """spaCy's English tokenizer, also splitting a "-" or "+" off the end of a word ("fever-", "rash+")."""
    from spacy.util import compile_suffix_regex

    suffixes = list(nlp.Defaults.suffixes) + [r"(?<=[A-Za-z])[-+]"]
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    return nlp.tokenizer


@functools.lru_cache(maxsize=1)
def pipeline():
    """The spaCy pipeline (built once per process, ~1 s): tokenizer, sentences, flags, targets, ConText."""
    import spacy
    from medspacy.context import ConText, ConTextRule  # noqa: F401  (registers the factory)
    from medspacy.target_matcher import TargetMatcher, TargetRule  # noqa: F401

    _register_components()
    nlp = spacy.blank("en")
    _tokenizer(nlp)
    nlp.add_pipe("medviz_sentences")
    nlp.add_pipe("medviz_token_flags")
    matcher = nlp.add_pipe("medspacy_target_matcher")
    matcher.add([TargetRule(lit, cat, pattern=pat) for lit, cat, pat in _target_patterns()])
    context = nlp.add_pipe("medspacy_context", config={"rules": None})
    # loaded here rather than with ConTextRule.from_json, which rejects the rules' "terminated_by"
    rules = json.loads(context_rules_path().read_text(encoding="utf-8"))["context_rules"]
    context.add([ConTextRule(**{k: (set(v) if isinstance(v, list) and k != "pattern" else v) for k, v in r.items()
                                if v not in (None, [])}) for r in rules])
    return nlp


# Words that begin a modifier rule (the prefilter: a text with none of these, and no attached "-",
# "+" or "?", needs no ConText: all its findings are present).
@functools.lru_cache(maxsize=1)
def _cue_words() -> frozenset:
    rules = json.loads(context_rules_path().read_text(encoding="utf-8"))["context_rules"]
    words: set[str] = set()
    for rule in rules:
        if rule["category"] in ("PSEUDO", "TERMINATE", "NEW_CLAUSE", "AFFIRMED", "COMMA_BREAK", "COMMA_LIST", "PRESENT_ILLNESS"):
            continue
        for tok in rule.get("pattern") or []:
            low = tok.get("LOWER")
            if isinstance(low, dict):
                words.update(low["IN"])
            elif isinstance(low, str):
                words.add(low)
            if tok.get("OP") not in ("?", "*"):
                break  # the first required token decides
    words |= set(finding_vocabulary()["negated_findings"])
    return frozenset(w for w in words if w.isalnum())


_WORDS = re.compile(r"[a-z0-9]+")
_SHORTHAND = re.compile(r"[A-Za-z][-+?](?=[\s,.;:]|$)|\?[A-Za-z]|[:=\-–—]\s*(?:no|none|nil|neg|negative|absent|denie[sd])\b", re.I)


def needs_context(text: str) -> bool:
    """Could any ConText modifier (negation, hedge, history, other person) apply to ``text``?

    False means every finding in the text is present. A superset test: a false positive only costs
    one ConText pass."""
    if _SHORTHAND.search(text):
        return True
    return not _cue_words().isdisjoint(_WORDS.findall(text.lower()))


@dataclass(frozen=True)
class Reading:
    """What ConText made of one text: findings, and the character regions the model must not read."""

    findings: tuple[Finding, ...]
    drop: tuple[tuple[int, int], ...]  # sorted, non-overlapping (start, end) character offsets
    cues: tuple[tuple[str, str], ...]  # (finding phrase, cue) for findings that are absent or uncertain


def _status(target) -> str:
    if target._.is_family:
        return OTHER_PERSON
    if target._.is_negated or target.label_ == "NEGATED_FINDING":
        return ABSENT
    if target._.is_uncertain or target._.is_hypothetical:
        return UNCERTAIN
    if target._.is_historical:
        return HISTORICAL
    return PRESENT


def _subtract(regions: list[tuple[int, int]], keep: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(regions):
        pieces = [(s, e)]
        for ks, ke in keep:
            nxt = []
            for a, b in pieces:
                if ke <= a or ks >= b:
                    nxt.append((a, b))
                else:
                    if a < ks:
                        nxt.append((a, ks))
                    if ke < b:
                        nxt.append((ke, b))
            pieces = nxt
        out.extend(pieces)
    merged: list[tuple[int, int]] = []
    for s, e in sorted(out):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def reading_of(doc, keep: tuple[tuple[int, int], ...] = ()) -> Reading:
    """The :class:`Reading` of a processed doc. ``keep``: character regions never dropped (vital
    signs: a measurement is not a reported finding, so "denies chest pain, SpO2 88%" keeps the SpO2)."""
    keep_list = list(keep)
    findings: list[Finding] = []
    cues: list[tuple[str, str]] = []
    regions: list[tuple[int, int]] = []
    present_spans: list[tuple[int, int]] = []
    graph = doc._.context_graph
    by_target: dict[tuple[int, int], list] = {}
    for target, modifier in graph.edges if graph is not None else ():
        by_target.setdefault((target.start_char, target.end_char), []).append(modifier)
    for ent in doc.ents:
        s, e = ent.start_char, ent.end_char
        if any(ks < e and s < ke for ks, ke in keep_list):
            continue  # part of a vital-sign reading
        status = _status(ent)
        findings.append(Finding(phrase=ent.text.lower(), status=status, start=s, end=e))
        if status == PRESENT:
            present_spans.append((s, e))
            continue
        regions.append((s, e))
        mods = by_target.get((s, e), [])
        if mods:
            cues.append((ent.text.lower(), doc[mods[0].modifier_span[0]:mods[0].modifier_span[1]].text.lower()))
        elif ent.label_ == "NEGATED_FINDING":
            cues.append((ent.text.lower(), ent.text.lower()))
    # each modifier that made something not present goes, with the words between it and its targets
    for modifier in graph.modifiers if graph is not None else ():
        ends = [(t.start_char, t.end_char) for t, m in graph.edges if m is modifier and _status(t) != PRESENT]
        if not ends:
            continue
        ms, me = modifier.modifier_span
        span = doc[ms:me]
        regions.append((min([span.start_char] + [a for a, _ in ends]), max([span.end_char] + [b for _, b in ends])))
    drop = _subtract(regions, keep_list + present_spans)
    return Reading(findings=tuple(findings), drop=tuple(drop), cues=tuple(cues))


def present_only(text: str) -> Reading:
    """The :class:`Reading` of a text :func:`needs_context` cleared: the findings, all present, and
    nothing dropped (the target matcher alone: no ConText pass)."""
    nlp = pipeline()
    doc = nlp.get_pipe("medspacy_target_matcher")(nlp.make_doc(text))
    return Reading(
        findings=tuple(Finding(e.text.lower(), PRESENT, e.start_char, e.end_char) for e in doc.ents
                       if e.label_ != "NEGATED_FINDING"),
        drop=(), cues=())
