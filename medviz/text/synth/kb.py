"""A symptom/condition knowledge base in SymCat's format, read and checked.

Format (one folder): ``conditions.json`` maps a condition slug to ``name``, ``symptoms`` (symptom
slug -> percentage 0-100 of people with the condition who report it), ``age_odds`` (relative odds
per age band, keys :data:`AGE_BANDS`) and ``sex_odds`` (``Female`` / ``Male``); ``symptoms.json``
maps a symptom slug to its plain-words name. Other keys (SymCat's ``race_odds``) are ignored: the
generator never uses race. The shipped data are SymCat's tables (see ../shared/data/symcat/README.md);
a hospital can plug in its own in the same format.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medviz.errors import InputError

AGE_BANDS = ("< 1 years", "1-4 years", "5-14 years", "15-29 years", "30-44 years", "45-59 years", "60-74 years", "75+ years")
#: Inclusive age range (years) of each band; 75+ is sampled up to 95.
AGE_RANGES = ((0, 0), (1, 4), (5, 14), (15, 29), (30, 44), (45, 59), (60, 74), (75, 95))
#: Approximate share of US ambulatory-care visits per age band (NAMCS summary tables, rounded by the
#: medviz authors). The knowledge base gives *relative* odds per band, so the age of a patient with
#: a condition is drawn with weight odds x visit share.
AGE_BAND_VISIT_SHARE = (0.04, 0.07, 0.09, 0.12, 0.14, 0.21, 0.20, 0.13)
SEXES = ("Female", "Male")


class KnowledgeBaseError(InputError):
    """A knowledge-base file is unreadable or an entry is malformed; the message names the condition and field."""


@dataclass(frozen=True)
class Condition:
    slug: str
    name: str
    symptoms: tuple[tuple[str, float], ...]  # (symptom slug, percentage 0-100), most frequent first
    age_odds: tuple[float, ...]  # one per AGE_BANDS
    sex_odds: tuple[float, float]  # Female, Male


@dataclass(frozen=True)
class KnowledgeBase:
    conditions: tuple[Condition, ...]
    symptom_names: dict[str, str]
    source: str = ""

    def by_slug(self) -> dict[str, Condition]:
        return {c.slug: c for c in self.conditions}

    def by_name(self) -> dict[str, Condition]:
        return {c.name: c for c in self.conditions}

    def frequency_matrix(self) -> tuple[np.ndarray, list[str]]:
        """(n_conditions, n_symptoms) array of shares 0-1 and the symptom slugs (column order)."""
        slugs = sorted(self.symptom_names)
        col = {s: j for j, s in enumerate(slugs)}
        m = np.zeros((len(self.conditions), len(slugs)))
        for i, c in enumerate(self.conditions):
            for s, p in c.symptoms:
                m[i, col[s]] = p / 100.0
        return m, slugs


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeBaseError(f"knowledge base file not found: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KnowledgeBaseError(f"{path.name} is not valid UTF-8 JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not data:
        raise KnowledgeBaseError(f"{path.name} must be a non-empty JSON object keyed by slug")
    return data


def _number(value, where: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise KnowledgeBaseError(f"{where}: expected a number from {lo:g} to {hi:g}, got {type(value).__name__} {value!r}")
    if not lo <= value <= hi:
        raise KnowledgeBaseError(f"{where}: {value!r} is outside {lo:g}-{hi:g}")
    return float(value)


def parse_knowledge_base(conditions: dict, symptoms: dict, source: str = "") -> KnowledgeBase:
    """Check and convert the two JSON objects. Raises :class:`KnowledgeBaseError` at the first
    problem, naming the condition and the field (e.g. ``condition 'stroke': field 'symptoms.fever'``)."""
    names: dict[str, str] = {}
    for slug, name in symptoms.items():
        if not isinstance(name, str) or not name.strip():
            raise KnowledgeBaseError(f"symptoms.json: symptom '{slug}' needs a non-empty name, got {name!r}")
        names[str(slug)] = name.strip()
    out = []
    for slug, entry in conditions.items():
        where = f"condition '{slug}'"
        if not isinstance(entry, dict):
            raise KnowledgeBaseError(f"{where}: expected an object with name, symptoms, age_odds, sex_odds")
        for key in ("name", "symptoms", "age_odds", "sex_odds"):
            if key not in entry:
                raise KnowledgeBaseError(f"{where}: field '{key}' is missing")
        name = entry["name"]
        if not isinstance(name, str) or not name.strip():
            raise KnowledgeBaseError(f"{where}: field 'name' must be a non-empty string")
        syms = entry["symptoms"]
        if not isinstance(syms, dict) or not syms:
            raise KnowledgeBaseError(f"{where}: field 'symptoms' must be a non-empty object of symptom slug -> percentage")
        pairs = []
        for s, p in syms.items():
            if s not in names:
                raise KnowledgeBaseError(f"{where}: field 'symptoms.{s}' is an unknown symptom slug (not in symptoms.json)")
            pairs.append((s, _number(p, f"{where}: field 'symptoms.{s}'", 0, 100)))
        if not any(p > 0 for _, p in pairs):
            raise KnowledgeBaseError(f"{where}: field 'symptoms' has no symptom with a percentage above 0")
        odds = []
        for key, bands in (("age_odds", AGE_BANDS), ("sex_odds", SEXES)):
            table = entry[key]
            if not isinstance(table, dict):
                raise KnowledgeBaseError(f"{where}: field '{key}' must be an object with keys {', '.join(bands)}")
            vals = []
            for band in bands:
                if band not in table:
                    raise KnowledgeBaseError(f"{where}: field '{key}.{band}' is missing")
                vals.append(_number(table[band], f"{where}: field '{key}.{band}'", 0, 1e6))
            if not any(vals):
                raise KnowledgeBaseError(f"{where}: field '{key}' is 0 in every band (no patient could be drawn)")
            odds.append(tuple(vals))
        pairs.sort(key=lambda sp: (-sp[1], sp[0]))
        out.append(Condition(str(slug), name.strip(), tuple(pairs), odds[0], odds[1]))
    dup = sorted({c.name for c in out if sum(d.name == c.name for d in out) > 1})
    if dup:
        raise KnowledgeBaseError(f"condition names must be unique (they are the model's labels); repeated: {', '.join(dup)}")
    return KnowledgeBase(tuple(sorted(out, key=lambda c: c.slug)), names, source)


def load_knowledge_base(directory: str | Path) -> KnowledgeBase:
    """Read ``conditions.json`` and ``symptoms.json`` from ``directory`` (SymCat's format, module docstring)."""
    d = Path(directory)
    if not d.is_dir():
        raise KnowledgeBaseError(f"knowledge base folder not found: {d}")
    return parse_knowledge_base(_read_json(d / "conditions.json"), _read_json(d / "symptoms.json"), source=str(d))
