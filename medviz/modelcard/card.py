"""The model card as data: sections of typed blocks (text, facts, list, table, warning), and formatting helpers.

Headings and fixed sentences are built in the active language (:mod:`medviz.i18n`): build the card inside
``use_language(code)`` (or a session in that language). Text from the bundle (labels, the manifest's own
prose) is kept as written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from medviz.i18n import N_, _, current_language


NOT_RECORDED = N_("not recorded in the bundle")  # translated where shown: not_recorded()


@dataclass(frozen=True)
class Block:
    kind: str  # "text" | "facts" | "list" | "table" | "warning"
    content: Any


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...]
    refs: str = ""  # which guidance items it answers


@dataclass(frozen=True)
class ModelCard:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    generated_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    language: str = field(default_factory=current_language)  # the language its headings and sentences are in


def not_recorded() -> str:
    """"not recorded in the bundle" in the active language."""
    return _(NOT_RECORDED)


def _get(m: Mapping[str, Any], *keys: str, default: Any = NOT_RECORDED) -> Any:
    cur: Any = m
    for k in keys:
        if not isinstance(cur, Mapping) or k not in cur or cur[k] in (None, "", [], {}):
            return not_recorded() if default is NOT_RECORDED else default
        cur = cur[k]
    return cur


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.1%}" if pct else f"{v:.3f}"
    return str(v)


def _ci(d: Mapping[str, Any] | None, pct: bool = False) -> str:
    if not d or d.get("estimate") is None:
        return _("not estimable")
    s = _fmt(d["estimate"], pct)
    if d.get("lo") is not None and d.get("hi") is not None:
        s = _("{estimate} (95% CI {lo}–{hi})").format(estimate=s, lo=_fmt(d["lo"], pct), hi=_fmt(d["hi"], pct))
    return s


def _pct(v: Any) -> str:
    return f"{v:.1%}" if isinstance(v, (int, float)) else not_recorded()


def section_titles(card: ModelCard) -> list[str]:
    return [s.title for s in card.sections]


def iter_blocks(card: ModelCard) -> Iterable[tuple[Section, Block]]:
    for s in card.sections:
        for b in s.blocks:
            yield s, b
