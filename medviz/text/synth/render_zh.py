"""Cases rendered in Simplified Chinese (issue 14): the three registers of :mod:`.generate` in Chinese,
with the names and templates of :data:`ZH_FILE` (the authors' translations, for clinician review).

* ``patient``: a patient's or parent's own words, lay names (``我发烧、拉肚子，有3天了。没有咳嗽。``);
* ``shorthand``: clinician shorthand, clinical names (``男，67岁，主诉胸痛、气促3天。否认咯血。``);
* ``vignette``: vignette prose (``患者男性，67岁，因发热、咳嗽3天就诊。另有…。患者否认…。``), now and then
  a patient's own words.

Every choice is drawn from the case's ``numpy`` generator, so a case is deterministic in the seed
(:class:`.generate.CaseGenerator` seeds one generator per condition and language).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from medviz.text.synth.kb import KnowledgeBaseError

ZH_FILE = Path(__file__).resolve().with_name("zh.json")
LANGUAGES = ("en", "zh")


@functools.lru_cache(maxsize=2)
def load_zh(path: str | Path = ZH_FILE) -> dict:
    """The Chinese name and template file. Raises :class:`KnowledgeBaseError` naming a symptom without
    a ``lay`` or ``clinical`` list or a missing section."""
    p = Path(path)
    doc = json.loads(p.read_text(encoding="utf-8"))
    for key in ("conditions", "symptoms", "clinical_findings", "templates"):
        if key not in doc:
            raise KnowledgeBaseError(f"{p.name}: section '{key}' is missing")
    for slug, entry in doc["symptoms"].items():
        if not entry.get("lay") or not entry.get("clinical"):
            raise KnowledgeBaseError(f"{p.name}: symptom '{slug}' needs 'lay' and 'clinical' lists of names")
    return doc


def zh_synonyms(doc: dict | None = None) -> dict[str, dict[str, list[str]]]:
    """slug -> {"lay": [...], "clinical": [...]} in Chinese (the shape of synonyms.json)."""
    doc = doc or load_zh()
    return {slug: {"lay": list(e["lay"]), "clinical": list(e["clinical"])} for slug, e in doc["symptoms"].items()}


def zh_clinical_findings(clinical: dict[str, dict[str, float]], doc: dict | None = None) -> dict[str, dict[str, float]]:
    """The clinician-findings table (condition slug -> {phrase: %}) with each phrase in Chinese; a phrase
    without a translation is left out (never rendered in English inside a Chinese case)."""
    table = (doc or load_zh())["clinical_findings"]
    return {slug: {table[p]: pct for p, pct in entry.items() if p in table} for slug, entry in clinical.items()}


def bilingual_synonyms(synonyms: dict, doc: dict | None = None) -> dict[str, dict[str, list[str]]]:
    """English synonym table with each symptom's Chinese names added to its lists (for the
    knowledge-base expert, which then reads both languages into the same symptom columns)."""
    zh = zh_synonyms(doc)
    out = {}
    for slug in set(synonyms) | set(zh):
        en, z = synonyms.get(slug, {}), zh.get(slug, {})
        out[slug] = {"lay": list(en.get("lay", [])) + z.get("lay", []), "clinical": list(en.get("clinical", [])) + z.get("clinical", [])}
    return out


def bilingual_clinical_findings(clinical: dict[str, dict[str, float]], doc: dict | None = None) -> dict[str, dict[str, float]]:
    """The clinician-findings table with each phrase's Chinese alternatives added (``"fever / 发热"``)."""
    table = (doc or load_zh())["clinical_findings"]
    return {slug: {(f"{p} / {table[p]}" if p in table else p): pct for p, pct in entry.items()}
            for slug, entry in clinical.items()}


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _join(rng, items: list[str], t: dict) -> str:
    if len(items) <= 1:
        return "".join(items)
    if rng.random() < 0.5:
        return t["joiners"]["list"].join(items)
    return t["joiners"]["list"].join(items[:-1]) + _pick(rng, t["joiners"]["and"]) + items[-1]


def _sex(t: dict, sex: str) -> str:
    return t["sex"][sex][0]


def render(rng, register: str, age: int, sex: str, pos: list[str], neg: list[str], extra: list[str],
           timing: tuple[str, str], context: list[tuple[str, str]], doc: dict | None = None) -> str:
    """One case's text in Chinese. ``pos``/``neg``: symptom names already chosen for the register;
    ``extra``: clinician findings (Chinese); ``timing``: (prose, shorthand); ``context``: (clinician,
    patient) phrases."""
    t = (doc or load_zh())["templates"]
    months = int(rng.integers(1, 12))
    neg = [n[:-1] if n.endswith("了") else n for n in neg]  # "没有心跳变慢", not "没有心跳变慢了"
    sx = _sex(t, sex)
    if register == "patient":
        x = _join(rng, pos, t)
        if age < 1:
            who = _pick(rng, t["patient_infant_who"])
        elif age < 16:
            who = _pick(rng, t["patient_child_who"]).format(age=age)
            if (sex == "Male") != ("女儿" not in who):  # a son is not a daughter
                who = who.replace("女儿", "儿子") if sex == "Male" else who.replace("儿子", "女儿")
        else:
            who = None
        if who is None:
            text = _pick(rng, t["patient_intro"]).format(age=age, sex=sx) if rng.random() < 0.4 else ""
            text += _pick(rng, t["patient_adult"]).format(x=x, t=timing[0])
            if neg:
                text += _pick(rng, t["patient_negative"]).format(n=_join(rng, neg, t))
        else:
            text = _pick(rng, t["patient_child"]).format(who=who, x=x, t=timing[0])
            if neg:
                text += _pick(rng, t["patient_child_negative"]).format(n=_join(rng, neg, t))
        return text + "".join(c[1] + "。" for c in context)
    items = pos + extra
    if register == "shorthand":
        who = (_pick(rng, t["shorthand_infant_who"]) if age < 1 else _pick(rng, t["shorthand_who"])).format(
            sex=sx, age=age, months=months)
        text = _pick(rng, t["shorthand"]).format(who=who, x=_join(rng, items, t), t=timing[1])
        if neg:
            text += _pick(rng, t["shorthand_negative"]).format(n=_join(rng, neg, t))
        if context:
            text += "，".join(c[0] for c in context) + "。"
        return text
    if register != "vignette":
        raise KnowledgeBaseError(f"register must be patient, shorthand or vignette, got {register}")
    first, rest = items[:2], items[2:]
    key = "vignette_infant" if age < 1 else "vignette_child" if age < 16 else "vignette_adult"
    text = _pick(rng, t[key]).format(sex=sx, age=age, months=months, x=_join(rng, first, t), t=timing[0])
    if rest:
        text += _pick(rng, t["vignette_more"]).format(x=_join(rng, rest, t))
    if neg:
        text += _pick(rng, t["vignette_negative"]).format(n=_join(rng, neg, t))
    if context:
        text += "患者" + "，".join(c[0] for c in context) + "。"
    return text


def chinese_label_names(labels: list[str], doc: dict | None = None) -> dict[str, str]:
    """Chinese display names for those of ``labels`` that are knowledge-base condition names in zh.json
    (the authors' translations): {English label: Chinese name}; labels without a translation are left out.
    Written into a bundle's manifest as ``label_names.zh_CN`` by ``train text --kb … --tokenizer han``."""
    wanted = set(labels)
    conditions = (doc or load_zh())["conditions"]
    return {v["en"]: v["zh"] for v in conditions.values() if v.get("en") in wanted and v.get("zh")}
