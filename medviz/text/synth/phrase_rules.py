"""Findings written as verb phrases or with words between their parts (issue 15, release 2.4.0): "has not opened his
bowels or passed wind", "cannot feel or move his legs", "breathing slowly", "found outside on a freezing night",
"a curtain coming down over his eye ... which then cleared". The expert's reader (:meth:`KnowledgeBaseBayes.read`)
looks up exact n-grams; these rules add what it cannot read.

Machinery (libraries, no hand-written matching): medspaCy ``TargetRule``s (its JSON format) holding the spaCy token
patterns of ``phrase_rules.json``, matched by spaCy's ``Matcher`` (``LEMMA`` / ``LOWER`` sets and ``OP`` gaps such as ``{0,3}``), on a doc made by the clinical
reader's tokenizer and sentence splitter (medviz.text.clinical.assertion), lemmas from lemminflect's lookup tables
(``getAllLemmas``: no tagger or model weights are shipped, so the verb reading is preferred, then noun, adjective);
each match's assertion status from the same reader's medspaCy ConText rules (negation before or after, family,
hypothetical / uncertain, historical: medviz/text/clinical/data/context_rules.json; :func:`assertion`): negated
-> absent; uncertain (a hedge: "possible", "?", "query", ...) -> uncertain; family, hypothetical -> not counted;
historical -> present.

Speed: building a spaCy doc costs ~100x an n-gram lookup, so it is built only for a text that holds, for some
rule, one word of each of that rule's required tokens (negation words aside): :meth:`PhraseRules.may_match`,
a set test on the reader's own tokens (the same idea as the clinical reader's ConText prefilter). Patterns
must keep a required token of content words for this test (a pattern of negation words and gaps only would
never pass it)."""
from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from medviz.text import zh

_TOKEN = re.compile(zh.EXPERT_TOKEN_PATTERN)  # the expert reader's words (medviz.text.synth.bayes), for the prefilter

RULES_FILE = Path(__file__).with_name("phrase_rules.json")
# negation words of the patterns, and the reader's tokens ([a-z0-9]+ runs) that stand for them in the prefilter
# (spaCy splits "can't" into "ca" + "n't" and "cannot" into "can" + "not"; the reader into "can" + "t" and "cannot")
_NEGATION = frozenset({"not", "n't", "no", "never", "unable", "nor", "without"})
_NEGATION_TOKENS = frozenset({"not", "t", "no", "never", "unable", "nor", "without", "cannot", "nt"})
_POS_ORDER = ("VERB", "NOUN", "ADJ", "ADV", "AUX", "PROPN")
# Sentences of a text (the clinical reader's ends: ".", "!", ";" and line breaks, plus "?"): each rule matches inside
# one, so only the sentences that pass a rule's prefilter are made into spaCy docs. A regex split rather than a
# spaCy sentencizer: the point is not to tokenise the whole text.
_SENTENCES = re.compile(r"(?<=[.;!?])\s+|\n+")


@lru_cache(maxsize=50_000)
def lemma(word: str) -> str:
    """lemminflect's lemma of a lower-case ``word`` without a part of speech (verb first, then noun, adjective,
    adverb); the word itself when lemminflect does not know it."""
    from lemminflect import getAllLemmas

    found = getAllLemmas(word)
    for pos in _POS_ORDER:
        if found.get(pos):
            return found[pos][0]
    return word


def _forms(token: dict) -> frozenset[str] | None:
    """The reader's tokens a required pattern token can match (LOWER values; LEMMA values with lemminflect's
    inflections; negation words as the reader splits them), or None for an optional token or a gap."""
    from lemminflect import getAllInflections

    if token.get("OP") in ("?", "*") or str(token.get("OP", "")).startswith("{0"):
        return None
    words: set[str] = set()
    for attr in ("LEMMA", "LOWER"):
        spec = token.get(attr)
        values = spec.get("IN", []) if isinstance(spec, dict) else ([spec] if spec else [])
        for v in values:
            words.add(v.lower())
            if attr == "LEMMA":
                for forms in getAllInflections(v).values():
                    words.update(f.lower() for f in forms)
    if not words:
        return None
    if words & _NEGATION:
        words = (words - _NEGATION) | _NEGATION_TOKENS
    # the reader's tokens are [a-z0-9]+ runs: a hyphenated form is tested by its first run
    return frozenset(w.split("-")[0] for w in words)


class Rule(NamedTuple):
    """One target rule of ``phrase_rules.json`` (the fields of medspaCy's ``TargetRule`` that the rules use)."""

    literal: str
    category: str
    pattern: list
    metadata: dict


def read_rules(path: Path = RULES_FILE) -> list[Rule]:
    """The ``target_rules`` of a medspaCy TargetRule JSON file, as :class:`Rule`s.

    Read with ``json`` rather than ``medspacy.target_matcher.TargetRule.from_json`` because importing medspaCy
    costs ~2.5 CPU s per process (every CSV worker process and the dashboard, even when no text ever passes a
    rule's prefilter); medspaCy is imported only when a rule is first run (:meth:`PhraseRules.warm_up`).
    tests/text/test_kb_reading.py checks that ``TargetRule.from_json`` reads the same rules from the file.
    Raises :class:`medviz.errors.InputError` naming the rule and field when one lacks ``category`` or ``pattern``."""
    import json

    from medviz.errors import InputError

    rules = []
    for i, r in enumerate(json.loads(Path(path).read_text(encoding="utf-8")).get("target_rules") or []):
        for field in ("category", "pattern"):
            if not r.get(field):
                raise InputError(f"{Path(path).name}: target_rules[{i}] needs a non-empty '{field}'")
        rules.append(Rule(str(r.get("literal") or r["category"]), str(r["category"]), list(r["pattern"]),
                          dict(r.get("metadata") or {})))
    return rules


class _Prefilter(NamedTuple):
    """The word sets of :meth:`PhraseRules.passing`: per rule, the forms of each required token; the anchor words; the
    words a LEMMA pattern token can match."""

    required: list[tuple[frozenset[str], ...]]
    by_anchor: dict[str, tuple[int, ...]]
    anchors: frozenset[str]
    lemma_forms: frozenset[str]

    @classmethod
    def of(cls, rules: list[Rule]) -> "_Prefilter":
        required = [tuple(f for f in map(_forms, r.pattern) if f is not None) for r in rules]
        # a text can pass a rule only with one of its anchor words: the words of its rarest token (``metadata.anchor``,
        # an index into its pattern; the negation words are too common to be one); anchor word -> its rules
        by_anchor: dict[str, tuple[int, ...]] = {}
        for k, r in enumerate(rules):
            for w in _forms(r.pattern[r.metadata["anchor"]]):
                by_anchor[w] = (*by_anchor.get(w, ()), k)
        lemma_forms = frozenset(w for r in rules for tok in r.pattern if "LEMMA" in tok
                                for w in _forms({k: v for k, v in tok.items() if k != "OP"}) or ())
        return cls(required, by_anchor, frozenset(by_anchor), lemma_forms)


class _Matrices(NamedTuple):
    """:class:`_Prefilter`'s required word sets as sparse matrices (:meth:`PhraseRules.passing_many`)."""

    vocab: dict[str, int]  # every form of every required token -> column
    words_to_groups: object  # (words, required tokens) 0/1, scipy.sparse CSR
    groups_to_rules: object  # (required tokens, rules) 0/1, scipy.sparse CSR
    n_required: np.ndarray  # (rules,) required tokens per rule (a rule without one never passes: inf)

    @classmethod
    def of(cls, index: _Prefilter) -> "_Matrices":
        from scipy import sparse

        vocab: dict[str, int] = {}
        w_rows, w_cols, g_rows, g_cols = [], [], [], []
        n_required = np.full(len(index.required), np.inf)
        g = 0
        for k, groups in enumerate(index.required):
            if groups:
                n_required[k] = len(groups)
            for forms in groups:
                for w in forms:
                    w_rows.append(vocab.setdefault(w, len(vocab)))
                    w_cols.append(g)
                g_rows.append(g)
                g_cols.append(k)
                g += 1
        words = sparse.csr_matrix((np.ones(len(w_rows), dtype=np.float32), (w_rows, w_cols)), shape=(len(vocab), g))
        rules = sparse.csr_matrix((np.ones(len(g_rows), dtype=np.float32), (g_rows, g_cols)), shape=(g, len(index.required)))
        return cls(vocab, words, rules, n_required)


class PhraseRules:
    """The target rules of ``phrase_rules.json`` (medspaCy ``TargetRule``s) whose category is a phrase of
    ``phrase_col`` (phrase -> expert column); the others are skipped (a table without that phrase)."""

    def __init__(self, phrase_col: dict[str, int], path: Path = RULES_FILE, rules: list[Rule] | None = None):
        """``rules``: these rules instead of ``path``'s (medviz.text.red_flags builds its own from its phrases)."""
        self.rules = [r for r in (read_rules(path) if rules is None else rules) if r.category.lower() in phrase_col]
        self.column = {r.category: phrase_col[r.category.lower()] for r in self.rules}
        self._index = None  # the prefilter's word sets (:meth:`_prefilter`), made on first use
        self._sparse = None  # the same as sparse matrices (:meth:`_matrices`), made on first use
        self._built = None
        self._lock = threading.Lock()  # the spaCy build
        self._index_lock = threading.Lock()

    def __getstate__(self) -> dict:
        """Picklable (the expert travels to worker processes, e.g. Dask's): the lock and the spaCy objects stay
        behind and are built again on first use."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_index_lock", "_built", "_sparse")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock(), _index_lock=threading.Lock(), _built=None, _sparse=None)

    def _prefilter(self) -> _Prefilter:
        """The rules' word sets, made on first use rather than with the expert: they need lemminflect's tables and
        spaCy's import (~1.5 CPU s), which a process that loads the expert only to score what another process read
        (score_csv's main process beside its preparing worker) never pays. Thread-safe."""
        if self._index is None:
            with self._index_lock:
                self._prefilter_unlocked()
        return self._index

    def _prefilter_unlocked(self) -> _Prefilter:
        if self._index is None:
            self._index = _Prefilter.of(self.rules)
        return self._index

    def passing(self, toks) -> list[int]:
        """Indexes of the rules each of whose required tokens has a form among ``toks`` (the reader's tokens)."""
        index = self._prefilter()
        if index.anchors.isdisjoint(toks):
            return []
        present = set(toks)
        candidates = sorted({k for w in index.anchors.intersection(present) for k in index.by_anchor[w]})
        return [k for k in candidates if all(not present.isdisjoint(f) for f in index.required[k])]

    def passing_many(self, toks_of: list[list[str]]) -> list[list[int]]:
        """:meth:`passing` of each text's tokens (``toks_of``: N lists of the reader's tokens) at once: the same
        indexes, from two sparse products (texts x words) @ (words x required tokens) @ (required tokens x rules)
        instead of a Python set test per candidate rule (scipy.sparse; in a profile of 4,000 generated notes against the
        red flags' rules, ~5x less time than :meth:`passing` text by text)."""
        if not toks_of:
            return []
        m = self._matrices()
        cols, starts = [], [0]  # (texts x words) in CSR form, each text's distinct known words
        get = m.vocab.get
        for toks in toks_of:
            found = set(map(get, toks))
            found.discard(None)
            cols += found
            starts.append(len(cols))
        from scipy import sparse

        x = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), cols, starts), shape=(len(toks_of), len(m.vocab)))
        groups = (x @ m.words_to_groups)  # (N, required tokens): how many of each token's forms the text holds
        groups.data[:] = 1.0
        per_rule = (groups @ m.groups_to_rules).tocsr()  # (N, rules): required tokens present
        per_rule.sort_indices()  # each row's rules in index order
        hit = per_rule.data == m.n_required[per_rule.indices]
        kept = per_rule.indices[hit].tolist()
        ends = np.concatenate(([0], np.cumsum(hit)))[per_rule.indptr].tolist()  # each row's slice of ``kept``
        return [kept[a:b] for a, b in zip(ends[:-1], ends[1:])]

    def _matrices(self) -> "_Matrices":
        """:meth:`passing_many`'s sparse matrices, made on first use from the prefilter's word sets. Thread-safe."""
        if self._sparse is None:
            with self._index_lock:
                if self._sparse is None:
                    self._sparse = _Matrices.of(self._prefilter_unlocked())
        return self._sparse

    def may_match(self, toks: list[str]) -> bool:
        """True when some rule passes the prefilter (:meth:`passing`) on ``toks``, the reader's tokens of a text."""
        return bool(self.passing(toks))

    def _build(self):
        """The clinical reader's spaCy pipeline and one spaCy ``Matcher`` per rule (a text runs only the rules that
        pass its prefilter: spaCy's matcher pays for every pattern's gap states on every token)."""
        from spacy.matcher import Matcher

        from medviz.text.clinical.assertion import pipeline

        nlp = pipeline()
        matchers = []
        for r in self.rules:
            m = Matcher(nlp.vocab)
            m.add(r.category, [r.pattern])
            matchers.append(m)
        return nlp, matchers

    def warm_up(self):
        """Build the spaCy pipeline and matchers now (once per process, ~1 s) instead of on the first text that
        passes a rule; returns ``(nlp, matchers)``. Thread-safe."""
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
        return self._built

    def read(self, text: str, only: frozenset[int] | None = None) -> tuple[list[int], list[int]]:
        """(present columns, absent columns) that the rules find in ``text`` (:meth:`read_statuses` without the
        uncertain ones): the red flags' reading (medviz.text.red_flags). Since session 13 a "?" written onto a sign
        ("?calf swelling") reaches ConText here too, so a queried sign no longer raises a flag (a newcomer's PE note
        named DVT with "red flag in the note: a swollen or tender calf" for "?calf swelling")."""
        present, absent, _uncertain = self.read_statuses(text, only)
        return present, absent

    def read_statuses(self, text: str, only: frozenset[int] | None = None) -> tuple[list[int], list[int], list[int]]:
        """(present columns, absent columns, uncertain columns) that the rules find in ``text``, sentence by sentence
        (only sentences that pass a rule's prefilter are parsed); each match's assertion status by ConText
        (:func:`assertion`; a family or hypothetical match is in none of the three). ``only``: run only these rules
        (indexes into ``self.rules``). A "?" or sign written onto a match ("?breathing slowly", "breathing slowly?")
        sends the sentence to ConText."""
        from spacy.tokens import Span
        from spacy.util import filter_spans

        from medviz.text.clinical.assertion import needs_context, run_context

        present, absent, uncertain = [], [], []
        for sentence in _SENTENCES.split(text):
            which = self.passing(_TOKEN.findall(sentence.lower()))
            if only is not None:
                which = [k for k in which if k in only]
            if not which:
                continue
            nlp, matchers = self.warm_up()
            lemma_forms = self._prefilter().lemma_forms
            doc = nlp.make_doc(sentence)
            for tok in doc:
                if tok.lower_ in lemma_forms:  # only words a LEMMA pattern can match need one
                    tok.lemma_ = lemma(tok.lower_)
            found = [Span(doc, start, end, label=key) for k in which for key, start, end in matchers[k](doc)]
            if not found:
                continue
            spans = filter_spans(found)  # the longest match where rules overlap
            # ConText only when a modifier could apply outside the matches (the clinical reader's own prefilter,
            # a superset test; the matches' own words, such as the "not" of "not passing wind", are left out). Each
            # match stands as one letter, written where it was, so that a sign or "?" written onto it ("?breathing
            # slowly", "breathing slowly?") still reaches the prefilter's patterns (a spaced " _ " hid them)
            rest, at = [], 0
            for span in sorted(spans, key=lambda sp: sp.start_char):
                rest.append(sentence[at:span.start_char])
                at = span.end_char
            if needs_context("x".join([*rest, sentence[at:]])):
                nlp.get_pipe("medviz_sentences")(doc)
                nlp.get_pipe("medviz_token_marks")(doc)
                doc.ents = spans
                run_context(nlp.get_pipe("medspacy_context"), doc)
                statuses = [(span, assertion(span)) for span in doc.ents]
            else:
                statuses = [(span, "present") for span in spans]
            for span, status in statuses:
                if status == "present":
                    present.append(self.column[span.label_])
                elif status == "absent":
                    absent.append(self.column[span.label_])
                elif status == "uncertain":
                    uncertain.append(self.column[span.label_])
        return present, absent, uncertain


# Words the ConText rules take as another person that name the patient in a case description ("A 6-week-old baby is
# vomiting green bile"): not a family cue here.
_PATIENT_WORDS = frozenset({"baby", "infant", "newborn", "neonate", "child", "toddler"})


def assertion(span) -> str:
    """"present", "absent", "uncertain" or "ignored" for a matched span after ConText: another person (family) or
    hypothetical -> ignored; negated -> absent; uncertain (POSSIBLE_EXISTENCE: "possible", "?", "query", ...) ->
    uncertain (the expert's n-gram reader reads the same cues so: ``ReadCase.uncertain``); historical -> present (the
    expert counts a past finding as evidence, as its n-gram reader does; the rules' HISTORICAL cues also fire on
    "35-year-old"). Negation wins over a hedge, as in the clinical reader (medviz.text.clinical.assertion)."""
    cats = {m.category.upper() for m in span._.modifiers
            if not (m.category.upper() == "FAMILY" and span.doc[m.modifier_span[0]:m.modifier_span[1]].text.lower() in _PATIENT_WORDS)}
    if "FAMILY" in cats or "HYPOTHETICAL" in cats:
        return "ignored"
    if "NEGATED_EXISTENCE" in cats:
        return "absent"
    return "uncertain" if "POSSIBLE_EXISTENCE" in cats else "present"
