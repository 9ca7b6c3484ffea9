"""Can't-miss conditions: dangerous diagnoses named whenever they appear in the differential.

The list is data (``cant_miss.json`` beside this module: condition, danger, source for each entry;
``rule``: ``top_k``, ``top_k_floor`` and ``min_probability``). A condition is named when it ranks in the
top ``top_k`` of the differential at ``top_k_floor`` or more, *or* its calibrated probability is at least
``min_probability``, *or* a red flag in the note names it (medviz.text.red_flags: the caller passes the flags it
read); the urgent hits (named by a red flag, or at ``min_probability`` or more) come first, most probable first, then
the others most probable first (session 14: "DVT (0.1%; red flag)" had come before "PE (99.8%)"), each with its
probability; a bundle whose
labels include none of the listed names gets no can't-miss line. Matching is case-insensitive.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from medviz.errors import InputError

CANT_MISS_FILE = Path(__file__).resolve().with_name("cant_miss.json")
CANT_MISS_SEPARATOR = "|"


@dataclass(frozen=True)
class CantMissRule:
    top_k: int
    min_probability: float
    conditions: tuple[tuple[str, str, str], ...]  # (condition, danger, source)
    # A top-k entry below this probability is not named (0: every top-k entry is): the line listed conditions
    # at < 0.1 % on about half of all cases. Recall checked in cant_miss.json's "meaning" and ARCHITECTURE.md.
    top_k_floor: float = 0.0

    def wording(self) -> str:
        floor = f" at {_pct(self.top_k_floor)} or more" if self.top_k_floor > 0 else ""
        return (f"named when in the top {self.top_k} of the differential{floor}, or at a probability of "
                f"{_pct(self.min_probability)} or more")

    @property
    def min_probability_text(self) -> str:
        """The stated probability as the rule's wording writes it ("2%")."""
        return _pct(self.min_probability)

    @property
    def top_k_floor_text(self) -> str:
        """The top-k floor as the rule's wording writes it ("0.1%")."""
        return _pct(self.top_k_floor)

    def named(self, probability, rank_in_top_k):
        """Whether a listed condition is named (arrays or scalars): in the top k at the floor or more, or at
        ``min_probability`` or more."""
        return (rank_in_top_k & (probability >= self.top_k_floor)) | (probability >= self.min_probability)


def _pct(p: float) -> str:
    return f"{p:.1%}".replace(".0%", "%")


@dataclass(frozen=True)
class CantMissHit:
    label: str  # exactly as in the bundle
    probability: float
    rank: int  # 1 = top of the differential
    danger: str
    source: str
    red_flag: str = ""  # the reason of a red flag in the note that names it ("" for none; medviz.text.red_flags)

    def text(self) -> str:
        """The scored CSV's cell part: ``Stroke (12.3%)``, ``Hypothermia (0.4%; red flag: …)``."""
        flag = f"; red flag: {self.red_flag}" if self.red_flag else ""
        return f"{self.label} ({percent(self.probability)}{flag})"


def percent(p: float) -> str:
    """A probability as shown beside a can't-miss condition: one decimal, "<0.1%" below that."""
    return "<0.1%" if p < 0.0005 else f"{p:.1%}"


@lru_cache(maxsize=4)
def load_rule(path: str | Path = CANT_MISS_FILE) -> CantMissRule:
    """Read and check a can't-miss file. Raises :class:`InputError` naming the entry and field."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rule = data.get("rule", {})
    top_k, min_p, floor = rule.get("top_k"), rule.get("min_probability"), rule.get("top_k_floor", 0.0)
    if not isinstance(top_k, int) or top_k < 1:
        raise InputError(f"{Path(path).name}: rule.top_k must be a whole number >= 1, got {top_k!r}")
    if not isinstance(min_p, (int, float)) or not 0 < min_p <= 1:
        raise InputError(f"{Path(path).name}: rule.min_probability must be in (0, 1], got {min_p!r}")
    if not isinstance(floor, (int, float)) or not 0 <= floor <= min_p:
        raise InputError(f"{Path(path).name}: rule.top_k_floor must be between 0 and rule.min_probability, got {floor!r}")
    entries = []
    for i, e in enumerate(data.get("conditions", [])):
        for key in ("condition", "danger", "source"):
            if not isinstance(e.get(key), str) or not e[key].strip():
                raise InputError(f"{Path(path).name}: conditions[{i}] needs a non-empty '{key}'")
        entries.append((e["condition"], e["danger"], e["source"]))
    return CantMissRule(top_k, float(min_p), tuple(entries), float(floor))


def _columns(labels, rule: CantMissRule) -> list[tuple[int, str, str]]:
    """(column index, danger, source) of each listed condition among ``labels``."""
    index = {str(lab).casefold(): j for j, lab in enumerate(labels)}
    return [(index[c.casefold()], danger, source) for c, danger, source in rule.conditions if c.casefold() in index]


def cant_miss(labels, probabilities, rule: CantMissRule | None = None, red_flags=()) -> list[CantMissHit]:
    """The listed conditions in one case's differential: the urgent ones first (named by a red flag in the note, or at
    the rule's ``min_probability`` or more; :func:`by_urgency`), then the others, each group most probable first.

    ``probabilities``: (C,) calibrated, in ``labels`` order. ``red_flags``: (condition, reason) pairs of the red
    flags the case's text raises (:meth:`medviz.text.red_flags.RedFlags.raised`); a listed condition they name is a
    hit whatever its rank, with the reason. Empty when none qualifies."""
    rule = rule or load_rule()
    return _hits(labels, np.asarray(probabilities, dtype=float), rule, red_flags, _columns(labels, rule))


def _hits(labels, p: np.ndarray, rule: CantMissRule, red_flags, columns: list[tuple[int, str, str]]) -> list[CantMissHit]:
    """:func:`cant_miss` with the listed conditions' columns found already (``columns``, :func:`_columns`)."""
    flagged = {c.casefold(): reason for c, reason in red_flags}
    hits = []
    if not columns:
        return hits
    idx = np.fromiter((j for j, _, _ in columns), dtype=np.int64, count=len(columns))
    ranks = np.sum(p[None, :] > p[idx, None], axis=1) + 1  # (listed,) each listed condition's rank in the case
    for (j, danger, source), rank in zip(columns, ranks.tolist()):
        flag = flagged.get(str(labels[j]).casefold(), "")
        if flag or rule.named(p[j], rank <= rule.top_k):
            hits.append(CantMissHit(str(labels[j]), float(p[j]), rank, danger, source, flag))
    # the urgent hits (a red flag in the note points to them, or they are probable) before the rank-only ones (the long
    # list), each group by rank: a red-flag hit at 0.1 % no longer comes before a listed condition at 99.8 %
    return sorted(hits, key=lambda h: (not _urgent(h, rule), h.rank, h.label))


def _urgent(hit: CantMissHit, rule: CantMissRule) -> bool:
    """Named by a red flag, or at the rule's ``min_probability`` or more (the Case page's red box)."""
    return bool(hit.red_flag) or hit.probability >= rule.min_probability


def by_urgency(hits: list[CantMissHit], rule: CantMissRule) -> tuple[list[CantMissHit], list[CantMissHit]]:
    """(urgent, by rank only) of :func:`cant_miss`'s hits, each in the given order: urgent are those a red flag names or
    whose probability reaches ``rule.min_probability``; the rest are named only because they rank in the top k at a
    lower probability. The Case page shows the first in red and the second in amber below it (alarm fatigue: the
    top-k rule over 801 conditions names a condition on most notes)."""
    urgent = [_urgent(h, rule) for h in hits]
    return [h for h, u in zip(hits, urgent) if u], [h for h, u in zip(hits, urgent) if not u]


def cant_miss_column(labels, probabilities: np.ndarray, rule: CantMissRule | None = None,
                     red_flags: list | None = None) -> list[str]:
    """The scored-CSV ``cant_miss`` cell for each row of an (N, C) probability array:
    ``Stroke (12.3%)|Sepsis (3.1%)``, most probable first; "" where none qualifies or the row is NaN.
    ``red_flags``: per row, the (condition, reason) pairs of its red flags (:func:`cant_miss`; None: none read); a
    condition named by one is urgent (before the rank-only ones, :func:`cant_miss`'s order) and carries
    ``; red flag: <reason>`` in its parentheses.

    Vectorised: the top-k cut per row comes from one ``np.partition``; text is built only for rows with hits."""
    rule = rule or load_rule()
    probs = np.asarray(probabilities, dtype=float)
    out = _column_by_rule(labels, probs, rule)
    columns = _columns(labels, rule) if any(red_flags or ()) else []
    for i, flags in enumerate(red_flags or ()):
        if flags and not np.isnan(probs[i]).any():  # the few rows with a red flag: the single-case rule
            out[i] = CANT_MISS_SEPARATOR.join(h.text() for h in _hits(labels, probs[i], rule, flags, columns))
    return out


def _column_by_rule(labels, probs: np.ndarray, rule: CantMissRule) -> list[str]:
    """:func:`cant_miss_column` without red flags."""
    out = [""] * len(probs)
    cols = _columns(labels, rule)
    if not cols or not len(probs):
        return out
    k = min(rule.top_k, probs.shape[1])
    idx = np.array([c for c, _, _ in cols])
    sub = probs[:, idx]
    sub[np.isnan(sub)] = -1.0  # a row with an error
    # A listed condition under the top-k floor is not named whatever its rank (top_k_floor <= min_probability),
    # so the k-th largest probability (a partition of the row, most of this function's time) is found only for
    # the rows where some listed condition reaches the floor; the others cannot name one.
    maybe = np.flatnonzero((sub >= max(rule.top_k_floor, 0.0)).any(axis=1))
    kth = np.full(len(probs), np.inf)
    if maybe.size:
        block = probs[maybe]  # a copy: partitioned in place
        block[np.isnan(block)] = -1.0
        block.partition(-k, axis=1)
        kth[maybe] = block[:, -k]
    hit = rule.named(sub, sub >= kth[:, None])
    hit &= sub >= 0
    # The cells of all rows at once: hits ranked by (row, probability high to low; ties in list order)
    r, j = np.nonzero(hit)
    if not r.size:
        return out
    v = sub[r, j]
    order = np.lexsort((-v, r))
    r, j, v = r[order], j[order], v[order]
    names = [str(labels[c]) for c in idx]
    parts = [f"{names[a]} ({percent(b)})" for a, b in zip(j.tolist(), v.tolist())]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    ends = np.r_[starts[1:], r.size]
    for row, a, b in zip(r[starts].tolist(), starts.tolist(), ends.tolist()):
        out[row] = parts[a] if b - a == 1 else CANT_MISS_SEPARATOR.join(parts[a:b])
    return out
