"""Red flags: findings in a note that name a can't-miss condition whatever the differential says.

Why (issue 15): the differential ranks conditions by the knowledge base's symptoms, so a condition a clinician names
from a sign or a value rather than from symptoms (hypothermia at a core temperature of 31 °C, testicular torsion from
a sudden painful testis, central retinal artery occlusion from sudden painless loss of vision in one eye) could rank
below the can't-miss line's rule. Triage systems name such conditions from *discriminators* whatever else is present
(the Manchester Triage System; NICE's red-flag lists); this module does the same, as data.

The rules are data (``red_flags.json`` beside this module):

- ``signs``: sign name -> phrases. A phrase is words; ``*`` between two words is a gap of up to three words; a word is
  matched by its lemma (lemminflect), so "swollen" and "swelling" match "swell". Each phrase becomes a medspaCy
  ``TargetRule`` pattern matched by spaCy's ``Matcher`` with ConText's assertion status (the expert's phrase-rule
  machinery, medviz.text.synth.phrase_rules): a negated, hypothetical, uncertain or family mention does not count.
- value signs: the names of the expert's vital-sign and bedside-value rules (medviz.text.synth.bayes.VITAL_RULES,
  e.g. ``hypothermia`` = a temperature below 35 °C) may stand in a flag as ``value:<name>``.
- ``flags``: for a can't-miss condition (an entry of ``cant_miss.json``), ``all_of``: groups of sign names; the flag is
  raised when every group has a sign present in the note. ``reason`` (shown, in English; no "|") and ``source``.

A raised flag names its condition on the can't-miss line (Case page and the scored CSV's ``cant_miss`` column) with
its probability and the reason, even when the differential ranks it low; the ranked differential itself is unchanged.
Written by the medviz authors from the sources named in each entry, not fitted to any data set.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from medviz.errors import InputError

RED_FLAGS_FILE = Path(__file__).resolve().with_name("red_flags.json")
VALUE_PREFIX = "value:"
GAP = "*"
_WORD = re.compile(r"[a-z0-9]+|-")


@dataclass(frozen=True)
class RedFlag:
    condition: str  # as in cant_miss.json (matched to a bundle's labels case-insensitively)
    all_of: tuple[tuple[str, ...], ...]  # groups of sign names: each group needs one present sign
    reason: str
    source: str


def _pattern(phrase: str) -> tuple[list[dict], int]:
    """spaCy token pattern of a phrase and the index of its anchor (its longest word: the prefilter's first test).
    Words by lemma (:func:`medviz.text.synth.phrase_rules.lemma`); a hyphen may be present or not; ``*``: 0-3 words."""
    from medviz.text.synth.phrase_rules import lemma

    pattern: list[dict] = []
    anchor, longest = -1, 0
    for word in phrase.lower().split():
        if word == GAP:
            pattern.append({"OP": "{0,3}"})
            continue
        for k, part in enumerate(_WORD.findall(word)):
            if part == "-":
                pattern.append({"LOWER": "-", "OP": "?"})
                continue
            pattern.append({"LEMMA": {"IN": sorted({lemma(part), part})}})
            if len(part) > longest:
                anchor, longest = len(pattern) - 1, len(part)
    return pattern, anchor


@dataclass
class RedFlags:
    """The flags of a red-flag file and a reader of them (:meth:`read`)."""

    flags: tuple[RedFlag, ...]
    signs: dict[str, tuple[str, ...]]  # sign name -> phrases

    def __post_init__(self) -> None:
        self._rules = None  # the PhraseRules of the signs, made on first use (spaCy, lemminflect)
        self._groups_of = None  # :meth:`_needed`'s index, made on first use
        self._lock = threading.Lock()  # the first use may come from a warm-up thread and a reading thread at once
        self._needs_values = any(s.startswith(VALUE_PREFIX) for f in self.flags for g in f.all_of for s in g)

    @property
    def conditions(self) -> frozenset[str]:
        return frozenset(f.condition.casefold() for f in self.flags)

    def _phrase_rules(self):
        """The signs' phrases as the expert's phrase rules (medviz.text.synth.phrase_rules.PhraseRules), made on first
        use (spaCy, lemminflect)."""
        if self._rules is None:
            with self._lock:
                if self._rules is None:
                    self._build_rules()
        return self._rules

    def warm_up(self) -> None:
        """Build the signs' rules and their spaCy matchers now (~2.5 CPU s per process) rather than on the first note
        with a candidate flag. Thread-safe."""
        self._phrase_rules().warm_up()

    def _build_rules(self) -> None:
        """The signs' phrases as :class:`PhraseRules` (``self._rules``)."""
        from medviz.text.synth.phrase_rules import PhraseRules, Rule

        names = sorted(self.signs)
        rules = []
        for name in names:
            for phrase in self.signs[name]:
                pattern, anchor = _pattern(phrase)
                rules.append(Rule(phrase, name, pattern, {"anchor": anchor}))
        built = PhraseRules({n.lower(): k for k, n in enumerate(names)}, rules=rules)
        self._names = names
        self._rules = built

    def signs_present(self, text: str) -> frozenset[str]:
        """Sign names present in ``text`` that could complete a flag (value signs as ``value:<name>``). English only: a
        Chinese text has none.

        Only the sentences and rules that could raise a flag are parsed (each of the flag's groups has a value sign
        found or a rule whose words all pass the phrase rules' prefilter): a spaCy parse costs ~100x this word test,
        and signs such as "pain" are in most notes."""
        return self._signs_present_many([text])[0]

    def _signs_present_many(self, texts: list[str]) -> list[frozenset[str]]:
        """:meth:`signs_present` of each text; the word prefilter of all of them at once
        (:meth:`~medviz.text.synth.phrase_rules.PhraseRules.passing_many`)."""
        from medviz.text import zh
        from medviz.text.synth import bayes
        from medviz.text.synth.phrase_rules import _TOKEN

        english = [bool(t) and not zh.is_chinese(t) for t in texts]
        toks_of = [_TOKEN.findall(t.lower()) if e else [] for t, e in zip(texts, english)]
        rules = self._phrase_rules()
        passing_of = rules.passing_many(toks_of)  # per text: every required word of the rule is in the text
        out = []
        for text, e, toks, passing in zip(texts, english, toks_of, passing_of):
            if not e:
                out.append(frozenset())
                continue
            found: set[str] = set()
            if self._needs_values and bayes.may_hold_a_value(toks):
                found.update(VALUE_PREFIX + v for v in bayes.vital_findings(bayes.normalise(text)))
            needed = self._needed(found.union(rules.rules[k].category for k in passing))
            if needed.difference(found):
                present, _absent = rules.read(text, frozenset(k for k in passing if rules.rules[k].category in needed))
                found.update(self._names[c] for c in present)
            out.append(frozenset(found))
        return out

    def _needed(self, maybe: set[str]) -> set[str]:
        """The signs of the flags each of whose groups has a sign in ``maybe``."""
        if self._groups_of is None:  # sign -> (flag, group) pairs it belongs to
            groups_of: dict[str, list[tuple[int, int]]] = {}
            for i, f in enumerate(self.flags):
                for j, g in enumerate(f.all_of):
                    for sign in g:
                        groups_of.setdefault(sign, []).append((i, j))
            self._groups_of = groups_of
        covered = {pair for sign in maybe for pair in self._groups_of.get(sign, ())}
        flags = {i for i, _ in covered}
        return {sign for i in flags if all((i, j) in covered for j in range(len(self.flags[i].all_of)))
                for g in self.flags[i].all_of for sign in g}

    def read(self, text: str) -> tuple[RedFlag, ...]:
        """The flags raised by ``text``: every group of the flag has a sign present (:meth:`signs_present`)."""
        return self._flags_of(self.signs_present(text))

    def _flags_of(self, signs: frozenset[str]) -> tuple[RedFlag, ...]:
        if not signs:
            return ()
        return tuple(f for f in self.flags if all(not signs.isdisjoint(g) for g in f.all_of))

    def raised(self, text: str) -> tuple[tuple[str, str], ...]:
        """(condition, reason) of each flag ``text`` raises, in file order; a condition's reasons joined by "; "."""
        return self.raised_all([text])[0]

    @staticmethod
    def _by_condition(flags: tuple[RedFlag, ...]) -> tuple[tuple[str, str], ...]:
        by: dict[str, list[str]] = {}
        for f in flags:
            by.setdefault(f.condition, []).append(f.reason)
        return tuple((c, "; ".join(dict.fromkeys(rs))) for c, rs in by.items())

    def raised_all(self, texts) -> list[tuple[tuple[str, str], ...]]:
        """:meth:`raised` of each text (each distinct text read once; the word prefilter of all at once)."""
        distinct = list(dict.fromkeys(texts))
        seen = {t: self._by_condition(self._flags_of(s)) for t, s in zip(distinct, self._signs_present_many(distinct))}
        return [seen[t] for t in texts]


@lru_cache(maxsize=4)
def load_red_flags(path: str | Path = RED_FLAGS_FILE) -> RedFlags:
    """Read and check a red-flag file. Raises :class:`InputError` naming the entry and field: a flag whose condition
    is not on the can't-miss list (medviz/text/cant_miss.json), an undefined sign, an empty group or phrase, a
    ``|`` in a reason (the CSV cell's separator), an unknown value sign."""
    from medviz.text.cant_miss import load_rule
    from medviz.text.synth.bayes import VITAL_RULES

    name = Path(path).name
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    signs: dict[str, tuple[str, ...]] = {}
    for sign, phrases in (data.get("signs") or {}).items():
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and _WORD.search(p.lower()) for p in phrases):
            raise InputError(f"{name}: signs['{sign}'] must be a non-empty list of phrases")
        if any(p.split()[0] == GAP or p.split()[-1] == GAP for p in phrases):
            raise InputError(f"{name}: signs['{sign}']: a phrase cannot start or end with the gap '{GAP}'")
        signs[sign] = tuple(phrases)
    listed = {c.casefold() for c, _, _ in load_rule().conditions}
    values = {VALUE_PREFIX + phrase for _, _, phrase in VITAL_RULES}
    flags = []
    for i, f in enumerate(data.get("flags") or []):
        for key in ("condition", "reason", "source"):
            if not isinstance(f.get(key), str) or not f[key].strip():
                raise InputError(f"{name}: flags[{i}] needs a non-empty '{key}'")
        if f["condition"].casefold() not in listed:
            raise InputError(f"{name}: flags[{i}].condition: '{f['condition']}' is not on the can't-miss list")
        if "|" in f["reason"]:
            raise InputError(f"{name}: flags[{i}].reason must not contain '|'")
        groups = f.get("all_of")
        if not isinstance(groups, list) or not groups or not all(isinstance(g, list) and g for g in groups):
            raise InputError(f"{name}: flags[{i}].all_of must be a non-empty list of non-empty lists of sign names")
        for g in groups:
            for s in g:
                if s not in signs and s not in values:
                    raise InputError(f"{name}: flags[{i}].all_of: unknown sign '{s}' (define it under 'signs', or use "
                                     f"one of {', '.join(sorted(values))})")
        flags.append(RedFlag(f["condition"], tuple(tuple(g) for g in groups), f["reason"].strip(), f["source"].strip()))
    return RedFlags(tuple(flags), signs)
