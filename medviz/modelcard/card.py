"""The model card as data: sections of typed blocks (text, facts, list, table, warning), and formatting helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping


NOT_RECORDED = "not recorded in the bundle"


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


def _get(m: Mapping[str, Any], *keys: str, default: Any = NOT_RECORDED) -> Any:
    cur: Any = m
    for k in keys:
        if not isinstance(cur, Mapping) or k not in cur or cur[k] in (None, "", [], {}):
            return default
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
        return "not estimable"
    s = _fmt(d["estimate"], pct)
    if d.get("lo") is not None and d.get("hi") is not None:
        s += f" (95% CI {_fmt(d['lo'], pct)}–{_fmt(d['hi'], pct)})"
    return s


def _pct(v: Any) -> str:
    return f"{v:.1%}" if isinstance(v, (int, float)) else NOT_RECORDED


def section_titles(card: ModelCard) -> list[str]:
    return [s.title for s in card.sections]


def iter_blocks(card: ModelCard) -> Iterable[tuple[Section, Block]]:
    for s in card.sections:
        for b in s.blocks:
            yield s, b
