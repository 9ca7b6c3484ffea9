"""Chinese cases (issue 14): every condition and symptom translated, deterministic zh generation in
the three registers, the CLI's --language option, and the expert reading Chinese."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from medviz.cli import main
from medviz.text.synth import CaseGenerator, KnowledgeBaseError
from medviz.text.synth.render_zh import ZH_FILE, load_zh
from medviz.text.zh import is_chinese
from tests.text.test_synth import CONDITIONS, SYMPTOMS, _kb

ROOT = Path(__file__).resolve().parents[2]


def test_every_condition_and_symptom_has_a_chinese_name():
    doc = load_zh()
    shipped = json.loads((ROOT / "models" / "differential-801" / "manifest.json").read_text(encoding="utf-8"))["labels"]
    names = {c["en"]: c["zh"] for c in doc["conditions"].values()}
    assert len(shipped) == 801 and set(shipped) <= set(names)
    assert all(is_chinese(names[lab]) for lab in shipped)
    synonyms = json.loads((ROOT / "medviz" / "text" / "synth" / "synonyms.json").read_text(encoding="utf-8"))["symptoms"]
    assert len(synonyms) == 376 and set(synonyms) == set(doc["symptoms"])
    for slug, entry in doc["symptoms"].items():
        assert entry["lay"] and entry["clinical"], slug
        assert all(is_chinese(n) for n in entry["lay"] + entry["clinical"]), slug
    findings = json.loads((ROOT / "medviz" / "text" / "synth" / "clinical_findings.json").read_text(encoding="utf-8"))
    phrases = {p for entry in findings["conditions"].values() for p in entry}
    assert phrases <= set(doc["clinical_findings"])
    assert "clinician review" in doc["_about"] and doc["reviewed_by_clinician"] is False


def test_lay_and_clinical_registers_differ():
    doc = load_zh()["symptoms"]
    assert "发烧" in doc["fever"]["lay"] and "发热" in doc["fever"]["clinical"]
    assert "拉肚子" in doc["diarrhea"]["lay"] and "腹泻" in doc["diarrhea"]["clinical"]
    assert "气短" in doc["shortness-of-breath"]["lay"] and "呼吸困难" in doc["shortness-of-breath"]["clinical"]


def test_chinese_generation_is_deterministic_and_in_chinese():
    kb = _kb()
    a = CaseGenerator(kb, language="zh").generate(9, seed=3)
    b = CaseGenerator(kb, language="zh").generate(9, seed=3)
    assert a == b and len(a) == 27
    assert a != CaseGenerator(kb, language="zh").generate(9, seed=4)
    assert all(c.language == "zh" and is_chinese(c.text) for c in a)
    assert not any(c.text.isascii() for c in a)
    en = CaseGenerator(kb).generate(9, seed=3)
    assert all(c.language == "en" and not is_chinese(c.text) for c in en)


def test_chinese_registers():
    kb = _kb()
    cases = CaseGenerator(kb, language="zh", sparse_share=0.0, negatives_share=1.0).generate(30, seed=5)
    by = {r: [c for c in cases if c.register == r] for r in ("patient", "shorthand", "vignette")}
    assert all(by.values())
    assert all(any(w in c.text for w in ("我", "医生", "孩子", "宝宝")) for c in by["patient"])
    assert all("岁" in c.text or "月龄" in c.text or "个月" in c.text for c in by["shorthand"])
    assert any("主诉" in c.text for c in by["shorthand"])
    assert all(c.text.startswith(("患者", "患儿")) or "岁" in c.text[:6] for c in by["vignette"])
    lay = {n for e in load_zh()["symptoms"].values() for n in e["lay"]}
    assert any(any(n in c.text for n in lay) for c in by["patient"])


def test_unknown_language_is_a_knowledge_base_error():
    with pytest.raises(KnowledgeBaseError, match="language"):
        CaseGenerator(_kb(), language="fr")


def test_cli_writes_both_languages(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "conditions.json").write_text(json.dumps(CONDITIONS), encoding="utf-8")
    (kb / "symptoms.json").write_text(json.dumps(SYMPTOMS), encoding="utf-8")
    out = tmp_path / "cases.jsonl"
    assert main(["synth", "--kb", str(kb), "--per-condition", "4", "--seed", "1", "--language", "en,zh", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["language"] for r in rows].count("zh") == 12 and [r["language"] for r in rows].count("en") == 12
    assert main(["synth", "--kb", str(kb), "--per-condition", "1", "--language", "xx", "--out", str(out)]) == 1


def test_expert_reads_chinese_findings_negation_and_age():
    from medviz.text.synth.bayes import KnowledgeBaseBayes
    from medviz.text.synth.generate import load_clinical_findings, load_synonyms
    from medviz.text.synth.render_zh import bilingual_clinical_findings, bilingual_synonyms

    kb = _kb()
    expert = KnowledgeBaseBayes(kb, bilingual_synonyms(load_synonyms()), bilingual_clinical_findings(load_clinical_findings()))
    col = expert.phrase_col
    r = expert.read("男，67岁，发热、咳嗽3天。否认胸痛及呕吐，疑似脑膜炎。")
    assert col["发热"] in r.present and col["咳嗽"] in r.present
    assert col["胸痛"] in r.absent and col["呕吐"] in r.absent
    assert (r.age, r.sex) == (67, "Male")
    hedged = expert.read("可能头痛。")
    assert col["头痛"] not in hedged.present and col["头痛"] not in hedged.absent
    assert expert.read("fever and cough, no vomiting").present == expert.read("fever and cough, no vomiting").present
    p_zh = expert.predict_proba(["患者女性，30岁，剧烈头痛、呕吐、颈项强直，发热。"])[0]
    assert expert.labels[p_zh.argmax()] == "Meningitis"


def test_chinese_label_names_for_knowledge_base_conditions_only():
    from medviz.text.synth.render_zh import chinese_label_names

    names = chinese_label_names(["Pneumonia", "Appendicitis", "not a condition"])
    assert set(names) == {"Pneumonia", "Appendicitis"}
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in v) for v in names.values())
