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
import importlib
import json
import re
import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from medviz.text.clinical.once import build_once
from medviz.text.clinical.types import ABSENT, HISTORICAL, OTHER_PERSON, PRESENT, UNCERTAIN, Finding

DATA = Path(__file__).with_name("data")
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


@functools.lru_cache(maxsize=1)
def _context_document() -> dict:
    return json.loads(context_rules_path().read_text(encoding="utf-8"))


def _context_rules() -> list[dict]:
    """The modifier rules (data/context_rules.json), without their patterns' IN lists expanded."""
    return [{k: v for k, v in r.items() if k != "pattern"} | {"pattern": r.get("pattern")}
            for r in _context_document()["context_rules"]]


@functools.lru_cache(maxsize=1)
def _negator_words() -> frozenset:
    return frozenset(_context_document()["negator_words"])


@functools.lru_cache(maxsize=1)
def _hedge_end_words() -> frozenset:
    return frozenset(_context_document()["hedge_end_words"])


_EXPAND_MAX = 12  # longer IN lists stay sets: their product would be thousands of patterns


def _expand(pattern: list | None) -> list:
    """One exact token pattern per combination of a pattern's ``{"LOWER": {"IN": [...]}}`` lists
    (spaCy's Matcher tests exact values in C and IN sets with a Python call per token; ~2,000
    patterns from ~75 rules). ``None`` (match the literal) stays ``[None]``."""
    if pattern is None:
        return [None]
    # leading optional tokens only widen the cue's own span; each one would start a Matcher state at
    # every token of every note
    i = 0
    while i < len(pattern) - 1 and pattern[i].get("OP") in ("?", "*"):
        i += 1
    out: list[list] = [[]]
    for tok in pattern[i:]:
        low = tok.get("LOWER")
        if isinstance(low, dict) and "IN" in low and len(low["IN"]) <= _EXPAND_MAX:
            alts = [dict(tok, LOWER=w) for w in dict.fromkeys(low["IN"])]
        else:
            alts = [tok]
        out = [p + [a] for p in out for a in alts]
    return out


def mark_sentence_starts(doc, ends: frozenset[str] | set[str]) -> None:
    """Set ``is_sent_start`` on every token of ``doc``: a sentence starts at the first token and after a
    token whose text is in ``ends`` or that holds or is followed by a line break. One rule for the English
    and the Chinese readers (medviz.text.clinical.chinese passes its own ``ends``); hand-written because
    spaCy's sentencizer cannot split on line breaks that tokenise as whitespace."""
    for i, tok in enumerate(doc):
        if i == 0:
            tok.is_sent_start = True
            continue
        prev = doc[i - 1]
        tok.is_sent_start = prev.text in ends or "\n" in prev.text or "\n" in prev.whitespace_


def _register_components() -> None:
    from spacy.language import Language

    if "medviz_sentences" in Language.factories:
        return

    @Language.component("medviz_sentences")
    def medviz_sentences(doc):
        """Sentence starts after ".", "!", ";" and line breaks (a decimal point is inside its token)."""
        mark_sentence_starts(doc, _SENTENCE_END)
        return doc

    @Language.factory("medviz_findings")
    def make_findings(nlp, name):
        """medspaCy's TargetMatcher over the finding vocabulary, each match widened over the words that
        belong to it: modifiers before it ("itchy red" + "rash") and a body site after it ("on both
        forearms", "when urinating"). Widened here rather than as ``[modifier]* head`` token patterns
        (leading optional tokens make spaCy's Matcher ~30x slower); the matcher returns its spans
        (``result_type=None``) and ``doc.ents`` is set once (medspaCy adds them one at a time, which
        rebuilds every entity span per match)."""
        from medspacy.target_matcher import TargetMatcher, TargetRule

        matcher = TargetMatcher(nlp, name="medviz_target_rules", result_type=None)
        matcher.add([TargetRule(lit, cat) for lit, cat in _target_rules()])
        return _Findings(matcher)

    @Language.component("medviz_token_marks")
    def medviz_token_marks(doc):
        """Mark tokens the ConText rules match on, by setting their NORM (an exact attribute spaCy's
        Matcher checks in C; custom ``_`` attributes cost a Python call per token and pattern):

        * ``__minus__``/``__plus__``: a "-"/"+" after a word and before punctuation, a line break or
          the end ("fever-, cough +"); not a hyphen inside a word ("x-ray") nor a dash before more
          words ("sore throat - 3 days", "fever - denies");
        * ``__comma_list__``: a comma followed, in the same sentence, by "or"/"nor" ("no fever,
          chills or sweats": the list runs on); other commas are ``__comma_break__`` (they end a bare "no");
        * ``__query__``: "?" attached to the word after it ("?UTI"); ``__query_back__``: "?" attached
          to the word before it ("UTI?");
        * ``__negator_end__`` / ``__hedge_end__``: a negator ("no", "nil", "denied", ...) or hedge word
          ("suspected", "possible", ...) that ends its clause, so that "Fever: no.", "Chest pain denied."
          and "UTI suspected," are read backward and "ROS: no fever", "Nil fever", "suspected UTI"
          forward (the forward rules match on NORM, which the mark replaces)."""
        negators, hedges = _negator_words(), _hedge_end_words()
        # a colon after a cue opens its list ("Denies: fever, cough", "Possible: UTI"): not a clause end
        for sent in doc.sents:
            or_seen = False
            for tok in reversed(sent):
                low = tok.lower_
                if low in ("or", "nor"):
                    or_seen = True
                elif low == ",":
                    tok.norm_ = "__comma_list__" if or_seen else "__comma_break__"
        n = len(doc)
        for i, tok in enumerate(doc):
            t = tok.text
            nxt = doc[i + 1] if i + 1 < n else None
            opens_list = (nxt is not None and nxt.text == ":" and i + 2 < n and doc[i + 2].is_alpha
                          and not (i > 0 and doc[i - 1].text in (":", "-", "=", "–", "—")))  # not "fever: no: …"
            if tok.lower_ in negators and not opens_list and (
                    nxt is None or nxt.is_punct or nxt.is_space or "\n" in tok.whitespace_ or nxt.lower_ in _CLAUSE_END_NEXT):
                tok.norm_ = "__negator_end__"
            elif tok.lower_ in hedges and not opens_list and (
                    nxt is None or nxt.is_punct or nxt.is_space or "\n" in tok.whitespace_):
                tok.norm_ = "__hedge_end__"
            elif t in ("-", "+", "?"):
                prev_attached = i > 0 and doc[i - 1].whitespace_ == "" and doc[i - 1].is_alpha
                after_word = i > 0 and doc[i - 1].is_alpha
                ends = (nxt is None or (nxt.is_punct and nxt.text not in "-+") or nxt.is_space or "\n" in tok.whitespace_
                        or (prev_attached and tok.whitespace_ != ""))  # "cough+ fever- rash+"
                if t == "-" and after_word and ends:
                    tok.norm_ = "__minus__"
                elif t == "+" and after_word and ends:
                    tok.norm_ = "__plus__"
                elif t == "?":
                    if tok.whitespace_ == "" and nxt is not None and nxt.is_alpha:
                        tok.norm_ = "__query__"
                    elif prev_attached:
                        tok.norm_ = "__query_back__"
        return doc


class _Findings:
    """The ``medviz_findings`` component (see ``make_findings``)."""

    def __init__(self, matcher):
        self.matcher = matcher

    def __call__(self, doc):
        from spacy.tokens import Span
        from spacy.util import filter_spans

        mods, preps, dets, sites = _word_sets()
        spans = []
        n = len(doc)
        for ent in self.matcher(doc):  # non-overlapping (the matcher prunes to the longest match)
            start, end = ent.start, ent.end
            if ent.label_ == "FINDING":
                while start > 0 and doc[start - 1].lower_ in mods:
                    start -= 1
                j = end
                if j < n and doc[j].lower_ in preps:
                    j += 1
                    while j < n and doc[j].lower_ in dets:
                        j += 1
                    if j < n and doc[j].lower_ in sites:
                        end = j + 1
            spans.append(Span(doc, start, end, label=ent.label_))
        doc.ents = filter_spans(spans)
        return doc


def _target_rules() -> list[tuple[str, str]]:
    """(literal, category) for every finding and condition rule: phrase-matched on lower case."""
    v = finding_vocabulary()
    out = [(w, "FINDING") for w in v["heads"]] + [(p, "FINDING") for p in v["phrases"]]
    out += [(c, "CONDITION") for c in v["conditions"]]
    out += [(w, "NEGATED_FINDING") for w in v["negated_findings"]]
    return out


@functools.lru_cache(maxsize=1)
def _word_sets() -> tuple[frozenset, frozenset, frozenset, frozenset]:
    v = finding_vocabulary()
    return (frozenset(v["modifiers"]), frozenset(v["tail_prepositions"]), frozenset(v["tail_determiners"]),
            frozenset(v["body_sites"]))


def _tokenizer(nlp):
    """spaCy's English tokenizer, also splitting a "-" or "+" off the end of a word ("fever-", "rash+")."""
    from spacy.util import compile_suffix_regex

    suffixes = list(nlp.Defaults.suffixes) + [r"(?<=[A-Za-z])[-+]"]
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    return nlp.tokenizer


class _DeferredModule(types.ModuleType):
    """A placeholder for a module that imports the real one on its first attribute read (PEP 562 ``__getattr__``)."""

    def __getattr__(self, attr):
        if sys.modules.get(self.__name__) is self:  # read while medspaCy is being imported (another thread)
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def import_medspacy():
    """Import medspaCy (``medspacy``, which registers its spaCy factories) without importing NLTK; returns the module.

    medspaCy's ``util`` imports QuickUMLS at module level (for its optional ``medspacy_quickumls`` component), and
    QuickUMLS's ``core`` runs ``import nltk``, whose package import loads most of NLTK and ``scipy.stats``: ~2.7 CPU s
    per process (``python -X importtime -c "import medspacy"``, medspacy 1.3.1), against ~0.15 s for the rest of
    medspaCy. NLTK is used only inside ``QuickUMLS.__init__`` (its stop words), which medviz never calls. So while
    medspaCy is imported, ``sys.modules["nltk"]`` is a :class:`_DeferredModule` that QuickUMLS keeps as its ``nltk``;
    the entry is removed afterwards, so any later ``import nltk`` (or QuickUMLS's first ``nltk.corpus``) loads the
    real package. Hand-written because ``importlib.util.LazyLoader`` does not help here: on Python 3.11 the
    ``import nltk`` statement itself reads the module's ``__spec__``, which makes a LazyLoader module load at once.
    Nothing happens when NLTK or medspaCy is already imported. Same pipeline, same statuses
    (tests/text/test_csv_speed_paths.py compares a fresh process that imports NLTK first)."""
    if "medspacy" in sys.modules or "nltk" in sys.modules:
        return importlib.import_module("medspacy")
    placeholder = sys.modules["nltk"] = _DeferredModule("nltk")
    try:
        return importlib.import_module("medspacy")
    finally:
        if sys.modules.get("nltk") is placeholder:
            del sys.modules["nltk"]


@build_once  # thread-safe: concurrent sessions and the warm-up share one build (medviz.text.clinical.once)
def pipeline():
    """The spaCy pipeline (built once per process, ~1 s): tokenizer, sentences, flags, targets, ConText."""
    from loguru import logger

    # medspaCy imports PyRuSH, which logs note text through loguru at DEBUG: never let it (nor medspaCy)
    logger.disable("PyRuSH")
    logger.disable("medspacy")
    import spacy

    import_medspacy()  # without NLTK: see its docstring
    from medspacy.context import ConText, ConTextRule  # noqa: F401  (registers the factory)

    # medspaCy's matcher warns (W036) on every note when a rule kind it wraps has no patterns
    warnings.filterwarnings("ignore", message=r"\[W036\]")
    _register_components()
    nlp = spacy.blank("en")
    _tokenizer(nlp)
    nlp.add_pipe("medviz_sentences")
    nlp.add_pipe("medviz_token_marks")
    nlp.add_pipe("medviz_findings")
    context = nlp.add_pipe("medspacy_context", config={"rules": None})
    # loaded here rather than with ConTextRule.from_json, which rejects the rules' "terminated_by"
    context.add([ConTextRule(**{k: (set(v) if isinstance(v, list) else v) for k, v in r.items()
                                if v not in (None, []) and k != "pattern"},
                             pattern=pattern)
                 for r in _context_rules() for pattern in _expand(r.get("pattern"))])
    return nlp


def run_context(context, doc):
    """medspaCy's ``ConText.__call__`` (medspacy 1.3.1, context.py) with one step added: matched
    modifiers that modify nothing (``allowed_types`` NO_TARGET: commas, "I"/"my", new-clause verbs)
    are kept only when their category can end the scope of a modifier that is kept (its
    ``terminated_by``, closed over the kept ones). The others cannot change any scope or edge, and
    ConText compares every pair of modifiers (``update_scopes``), so each one dropped saves a row of
    comparisons: a note written in the first person has an "I"/"my" modifier per clause. Copied
    rather than subclassed: the library builds the graph in one method with no hook between matching
    and scoping. Same graph and the same edges (tests/text/test_clinical_fastpath.py compares it
    with the library's own call on a corpus)."""
    from medspacy.context.context_graph import ConTextGraph
    from medspacy.context.context_modifier import ConTextModifier

    matcher = context._ConText__matcher  # the library's own matcher (name-mangled attribute)
    matched = [(matcher.rule_map[context.nlp.vocab[match_id].text], start, end)
               for match_id, start, end in _modifier_matches(context, doc)]
    kept = [m for m in matched if m[0].allowed_types != _NO_TARGET]
    needed: set[str] = set()
    for rule, _, _ in kept:
        needed |= rule.terminated_by
    rest = [m for m in matched if m[0].allowed_types == _NO_TARGET]
    grew = True
    while grew:
        grew = False
        for m in rest:
            if m[0].category.upper() in needed and m not in kept:
                kept.append(m)
                needed |= m[0].terminated_by
                grew = True
    kept_ids = {id(m) for m in kept}
    graph = ConTextGraph(prune_on_modifier_overlap=context.prune_on_target_overlap)
    graph.targets = doc.ents
    graph.modifiers = [ConTextModifier(rule, start, end, doc, max_scope=context.max_scope)
                       for (rule, start, end) in (m for m in matched if id(m) in kept_ids)]  # match order
    graph.update_scopes()
    graph.apply_modifiers()
    for target, modifier in graph.edges:
        target._.modifiers += (modifier,)
    if context.context_attributes_mapping:
        context.set_context_attributes(graph.edges)
    doc._.context_graph = graph
    return doc


_NO_TARGET = {"NO_TARGET"}


class _RuleSubsets:
    """ConText's modifier matches from only the rules that can match the doc.

    spaCy's ``Matcher`` tries every pattern at every token: with ConText's 476 rule patterns it took ~190 us for a
    16-token sentence and ~660 us for a 56-token note, most of ConText's time. Every rule pattern here is a sequence
    of tokens that each require a LOWER or NORM value (a string or an IN list; optional "?" tokens aside), so a rule
    can only match a doc that holds, for each of its required tokens, a token with one of those values (read from
    ``Doc.to_array``). Rules are grouped by one required token's values (a ``Matcher`` per value, made on first use;
    same patterns, same rule ids, same callbacks) and only the groups of the doc's values run. Their matches go
    through the library's own overlap pruning, which orders them by start and end; where several rules matched the
    same words, the one the library keeps is the one its matcher gives first, an order that depends on the patterns'
    shapes (a rule with an optional last token comes out later), taken from a matcher of those rules alone in the
    library's order. The same matches in the same order as ``MedspacyMatcher.__call__``
    (tests/text/test_clinical_fastpath.py compares them on ~6,000 notes and their sentences): on the speed
    benchmark's notes, ~40 instead of ~115 us per sentence and ~410 instead of ~650 us per whole note. Any other rule
    kind (a phrase or regular-expression rule, another token attribute or operator) or a matcher that does not
    prune: :attr:`usable` is False and the library's matcher runs as it is."""

    def __init__(self, context):
        self.full = context._ConText__matcher
        self.vocab = context.nlp.vocab
        self.n_rules = len(self.full.rule_map)
        strings = self.vocab.strings
        self.rules: list[tuple[str, list, object, tuple]] = []  # (rule id, pattern, on_match, required value sets)
        self.by_value: dict[tuple[int, int], list[int]] = {}  # (attribute column, value hash) -> rules it triggers
        self.usable = bool(self.full._prune)
        for rule_id, rule in self.full.rule_map.items() if self.usable else ():
            pattern = rule.pattern
            required = []
            for tok in pattern if isinstance(pattern, list) else [{"REGEX": None}]:
                if tok.get("OP") == "?":
                    continue
                keys = set(tok)
                value = tok.get(next(iter(keys))) if len(keys) == 1 else None
                values = [value] if isinstance(value, str) else (value.get("IN") if isinstance(value, dict) and
                                                                  set(value) == {"IN"} else None)
                if keys not in ({"LOWER"}, {"NORM"}) or not values:
                    self.usable = False
                    return
                required.append((0 if keys == {"LOWER"} else 1, frozenset(strings.add(v) for v in values)))
            if not required:
                self.usable = False
                return
            k = len(self.rules)
            self.rules.append((rule_id, pattern, rule.on_match, tuple(required)))
            column, values = min(required, key=lambda r: len(r[1]))  # its trigger: the token with the fewest values
            for v in values:
                self.by_value.setdefault((column, v), []).append(k)
        # (column, value) -> [its rules, their Matcher (made on first use)]; a match id -> its rule's place
        self._groups = {key: [rules, None] for key, rules in self.by_value.items()}
        self.index = {strings.add(rule_id): k for k, (rule_id, _, _, _) in enumerate(self.rules)}  # match id -> rule
        self._tie_matchers: dict[tuple[int, ...], object] = {}  # rules that matched the same words -> their Matcher

    def __call__(self, doc) -> list[tuple[int, int, int]]:
        from medspacy.common.util import prune_overlapping_matches
        from spacy.attrs import LOWER, NORM

        if not len(doc):
            return []
        arr = doc.to_array([LOWER, NORM])
        found: set[tuple[int, int, int]] = set()  # a rule triggered by two of its values matches twice: once here
        for column in (0, 1):
            for v in set(arr[:, column].tolist()):
                group = self._groups.get((column, v))
                if group is None:
                    continue
                if group[1] is None:
                    group[1] = self._matcher(group[0])
                found.update(group[1](doc))
        if not found:
            return []
        by_span: dict[tuple[int, int], list[int]] = {}
        for match_id, start, end in found:
            by_span.setdefault((start, end), []).append(match_id)
        rank: dict[tuple[int, int, int], int] = {}
        tied = {tuple(sorted(self.index[i] for i in ids)) for ids in by_span.values() if len(ids) > 1}
        for rules in tied:
            # rules that matched the same words: the library's pruning keeps the one its matcher gives first, an order
            # that depends on the patterns' shapes (a rule with an optional last token comes out later), and which a
            # matcher of those rules alone, in the library's rule order, gives the same way
            matcher = self._tie_matchers.get(rules)
            if matcher is None:
                matcher = self._tie_matchers[rules] = self._matcher(list(rules))
            for place, (match_id, start, end) in enumerate(matcher(doc)):
                rank[(match_id, start, end)] = place
        return prune_overlapping_matches(sorted(found, key=lambda m: (m[1], m[2], rank.get(m, 0))))

    def _matcher(self, rules: list[int]):
        from spacy.matcher import Matcher

        matcher = Matcher(self.vocab)
        for k in rules:
            rule_id, pattern, on_match, _ = self.rules[k]
            matcher.add(rule_id, [pattern], on_match=on_match)
        return matcher


_SUBSETS: dict[int, tuple[object, _RuleSubsets]] = {}  # id(ConText component) -> (it, its rule subsets)


def _modifier_matches(context, doc) -> list[tuple[int, int, int]]:
    """``(match_id, start, end)`` of ConText's modifier rules in ``doc``: what the library's matcher returns
    (``context._ConText__matcher(doc)``), from only the rules that can match (:class:`_RuleSubsets`)."""
    hit = _SUBSETS.get(id(context))
    if hit is None or hit[0] is not context:
        hit = _SUBSETS[id(context)] = (context, _RuleSubsets(context))
    subsets = hit[1]
    if len(subsets.full.rule_map) != subsets.n_rules:  # rules added since: index them again
        subsets = _RuleSubsets(context)
        _SUBSETS[id(context)] = (context, subsets)
    return subsets(doc) if subsets.usable else subsets.full(doc)


# The prefilter: a modifier rule can match a text only if each of its required tokens can. Per rule,
# its required tokens as sets of alternatives (optional tokens skipped); a text passes a rule when,
# for every required token, one alternative's words all occur in the text (an alternative without
# letters or digits, such as "/" or ":", when it occurs in the text as written). A text that passes
# no rule and has none of the _SPECIAL marks cannot get a modifier: all its findings are present and
# ConText is skipped. Rules on token marks (NORM "__minus__", ...) are covered by _SPECIAL and the
# negator / hedge words. spaCy splits contractions ("doesn't" -> "does" + "n't", "cannot" -> "can" +
# "not") inside what the word regex reads as one word: _SPECIAL sends every such text to ConText.
_COMMON = frozenset("i me my have has had having is was are were be been the a an of for to in on with and it that "
                    "this his her their at by as from do does did".split())
_NON_MODIFYING = {"PSEUDO", "TERMINATE", "NEW_CLAUSE", "AFFIRMED", "COMMA_BREAK", "COMMA_LIST", "PRESENT_ILLNESS", "SELF"}
_SPECIAL = re.compile(
    r"[A-Za-z]\s*[-+](?![A-Za-z0-9])|[A-Za-z]\?|\?[A-Za-z]|n['’]t\b|\bcannot\b|\b[wrhf]\s*/\s*[oh]\b|[-+]ve\b"
    r"|[:=\-–—]\s*(?:no|none|nil|neg|negative|absent|denie[sd]|not|0)\b", re.I)


def _alternative(value: str) -> tuple:
    """One alternative of a pattern token: its words (all must occur), or the literal (no words)."""
    words = tuple(_WORDS.findall(value.lower()))
    return words if words else (value,)


@functools.lru_cache(maxsize=1)
def _cue_rules() -> tuple[dict[str, list], frozenset]:
    """(trigger word -> the rules it may start ("" -> rules checked on every text), single words that
    are cues by themselves).

    A rule is a tuple of required tokens, each a tuple of alternatives (see :func:`_alternative`);
    its trigger words are those of its required token with the fewest common words."""
    by_word: dict[str, list] = {}
    always: list[tuple] = []  # rules without a trigger token: checked on every text
    single: set[str] = set()
    for rule in _context_document()["context_rules"]:
        if rule["category"] in _NON_MODIFYING:
            continue
        required = []
        for tok in rule.get("pattern") or [{"LOWER": rule["literal"]}]:
            if tok.get("OP") in ("?", "*"):
                continue
            low = tok.get("LOWER", tok.get("NORM"))
            if isinstance(low, str) and low.startswith("__"):
                low = None  # a marked token: _SPECIAL or the words below cover it
            if isinstance(low, str):
                required.append((_alternative(low),))
            elif isinstance(low, dict):
                required.append(tuple(_alternative(w) for w in low["IN"]))
            else:
                required.append(None)  # a flag token ("-", "+", "?"): _SPECIAL covers it
        if any(r is None for r in required):
            continue
        # a trigger token: one whose every alternative has words (a text matching the rule holds one
        # of its words); "/" or ":" alternatives cannot trigger ("rule /" matches without "out")
        words_of = {k: {w for alt in r for w in alt} for k, r in enumerate(required)
                    if all(all(w.isalnum() for w in alt) for alt in r)}
        if not words_of:
            always.append(tuple(required))
            continue
        best = min(words_of, key=lambda k: (len(words_of[k] & _COMMON), len(words_of[k])))
        for w in words_of[best]:
            by_word.setdefault(w, []).append(tuple(required))
    single |= set(finding_vocabulary()["negated_findings"])
    doc = _context_document()
    single |= {w for w in doc["negator_words"] + doc["hedge_end_words"] if w.isalnum()}  # marked at clause end
    by_word[""] = always
    return by_word, frozenset(single)


def _cue_words() -> frozenset:
    """Every word that may start a modifier (trigger words and single-word cues; for tests)."""
    by_word, single = _cue_rules()
    return frozenset(w for w in by_word if w) | single


def _passes(rule: tuple, words: set, low: str) -> bool:
    return all(any(all((w in words) if w.isalnum() else (w in low) for w in alt) for alt in token) for token in rule)


_WORDS = re.compile(r"[a-z0-9]+")


def needs_context(text: str) -> bool:
    """Could any ConText modifier (negation, hedge, history, other person) apply to ``text``?

    False means every finding in the text is present. A superset test: a false positive only costs
    one ConText pass."""
    if _SPECIAL.search(text):
        return True
    low = text.lower()
    words = set(_WORDS.findall(low))
    by_word, single = _cue_rules()
    if not single.isdisjoint(words):
        return True
    for w in words.intersection(by_word) | {""}:
        if any(_passes(rule, words, low) for rule in by_word[w]):
            return True
    return False


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


# Negation cues whose whole scope is removed from the model's text (see reading_of): explicit denials,
# where everything in scope is denied ("denies presyncope", "no x, y or z", "x: no", "x-"). Not
# "without", "lack of", "don't have", "can't": their scope often states a finding ("hard to walk
# without getting stiff", "I don't have an appetite"), so only the findings they reach go.
_DENIAL_CUES = frozenset({
    "denies", "negative for", "negative:", "free of", "absence of", "no evidence of", "never had", "neither", "nor", "no",
    ": no", "negative", "- ve", "ruled out", "not present", "-",
})
# Hedges whose scope goes when they reached no known finding ("possible cholangitis", "?PE", "r/o
# sepsis"); not "likely", "could be", "?" at the end of a question: in a patient's words they
# introduce a thought, not a finding ("I think it might be a reaction", "what should I do?").
_HEDGE_CUES = frozenset({"possible", "?", "rule out", "r/o", "suspicion of", "cannot exclude", "differential includes"})
_CLINICAL_HEDGE_WORDS = frozenset({"possible", "possibly", "poss", "probable", "suspected", "suspect", "suspicious",
                                   "questionable", "presumed", "query"})


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
    # each modifier that made something not present goes, with the words between it and its targets;
    # an explicit denial (_DENIAL_CUES) goes with its whole scope, found findings or not, and so does
    # a clinical hedge that reached no known finding (_HEDGE_CUES): words
    # outside the finding vocabulary ("denies presyncope", "no arthralgia or xerostomia") are denied
    # all the same and must not reach the model as evidence. Present findings and vital signs inside
    # a scope stay (subtracted below).
    for modifier in graph.modifiers if graph is not None else ():
        ends = [(t.start_char, t.end_char) for t, m in graph.edges if m is modifier and _status(t) != PRESENT]
        ms, me = modifier.modifier_span
        span = doc[ms:me]
        category, literal = modifier.category.upper(), modifier.rule.literal
        whole_scope = (category == "NEGATED_EXISTENCE" and literal in _DENIAL_CUES) or (
            category == "POSSIBLE_EXISTENCE" and modifier.num_targets == 0 and literal in _HEDGE_CUES
            and (literal != "possible" or span[0].lower_ in _CLINICAL_HEDGE_WORDS)
            and (literal != "?" or modifier.direction.upper() == "FORWARD"))  # "?UTI", not "what now?"
        if whole_scope:
            ss, se = modifier.scope_span
            while se > ss and doc[se - 1].is_punct:  # the sentence's full stop stays
                se -= 1
            while se > ss and doc[ss].is_punct:
                ss += 1
            if se > ss:
                scope = doc[ss:se]
                ends.append((scope.start_char, scope.end_char))
        if not ends:
            continue
        regions.append((min([span.start_char] + [a for a, _ in ends]), max([span.end_char] + [b for _, b in ends])))
    drop = _subtract(regions, keep_list + present_spans)
    return Reading(findings=tuple(findings), drop=tuple(drop), cues=tuple(cues))


def present_only(text: str) -> Reading:
    """The :class:`Reading` of a text :func:`needs_context` cleared: the findings, all present, and
    nothing dropped (the target matcher and the widening alone: no ConText pass)."""
    nlp = pipeline()
    doc = nlp.get_pipe("medviz_findings")(nlp.make_doc(text))
    return Reading(
        findings=tuple(Finding(e.text.lower(), PRESENT, e.start_char, e.end_char) for e in doc.ents
                       if e.label_ != "NEGATED_FINDING"),
        drop=(), cues=())
