"""Red flags (medviz/text/red_flags.json): findings in a note that name a can't-miss condition whatever its rank, on the
Case page and in the scored CSV's cant_miss column, by one pipeline (prepare) on every path."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medviz.errors import InputError
from medviz.text.cant_miss import CantMissRule, cant_miss, cant_miss_column, load_rule
from medviz.text.red_flags import RED_FLAGS_FILE, load_red_flags

HYPOTHERMIA = "81F found on the kitchen floor after a long lie, house unheated. Drowsy. T 32.1, HR 48."


def raised(text: str) -> list[str]:
    return [c for c, _ in load_red_flags().raised(text)]


def test_shipped_flags_name_listed_conditions_of_the_801_bundle_with_a_source():
    flags = load_red_flags()
    labels = {lab.casefold() for lab in json.loads((RED_FLAGS_FILE.parents[2] / "models" / "differential-801" /
                                                    "manifest.json").read_text())["labels"]}
    listed = {c.casefold() for c, _, _ in load_rule().conditions}
    assert len(flags.flags) >= 40
    for f in flags.flags:
        assert f.condition.casefold() in listed and f.condition.casefold() in labels
        assert f.source.strip() and f.reason.strip() and "|" not in f.reason


@pytest.mark.parametrize("text, condition", [
    (HYPOTHERMIA, "Hypothermia"),
    ("Core temp 91.0 F on arrival, found in the snow", "Hypothermia"),  # Fahrenheit
    ("15M woke with sudden severe left testicular pain and vomiting", "Testicular torsion"),
    ("67M sudden painless loss of vision in the right eye an hour ago", "Central retinal artery or vein occlusion"),
    ("Swollen left eyelid for 2 days, now pain on eye movement and double vision", "Orbital cellulitis"),
    ("Fell down the stairs and hit his head. Takes apixaban for AF.", "Subdural hemorrhage"),
    ("Known sickle cell disease, severe bone pain in both legs since last night", "Sickle cell crisis"),
    ("BM 41, increasingly drowsy over 3 days, very dehydrated", "Hyperosmotic hyperketotic state"),
    ("Fever and rigors 5 days after returning from Ghana", "Malaria"),
    # collateral history: the relative reports, the patient has the sign (ConText read them as family)
    ("Mum reports 4 yr old son (HbSS) screaming with pain in his hands and feet", "Sickle cell crisis"),
    ("Per mum, not passing urine since yesterday and very sleepy", "Acute kidney injury"),
    ("Daughter says mum is barely passing any urine, confused since yesterday", "Acute kidney injury"),
])
def test_flags_read_signs_and_values(text, condition):
    assert condition in raised(text)


@pytest.mark.parametrize("text", [
    "Denies testicular pain. Sudden cough this morning.",  # negated sign
    "No head injury, not on warfarin, confused since yesterday",
    "Advised to return if sudden loss of vision develops",  # hypothetical
    "T 36.8, HR 80, BP 120/80",  # normal values
    "Father has sickle cell disease; she has a sore throat",  # another person
    "Sore throat. Return if he develops a non-blanching rash with fever",  # safety-netting: hypothetical
    "Advised to come back if he has sudden severe testicular pain",
    "患者 发热 咳嗽",  # Chinese: not read
    "",
])
def test_negated_hypothetical_other_person_and_normal_values_raise_nothing(text):
    assert raised(text) == []


def test_cant_miss_names_a_flagged_condition_at_any_rank_with_its_reason():
    rule = CantMissRule(top_k=2, min_probability=0.05, conditions=(("Stroke", "time-critical", "NICE NG128"),
                                                                     ("Hypothermia", "arrhythmia", "NEJM 2012")))
    labels = ["Migraine", "Stroke", "Flu", "Cold", "Hypothermia"]
    p = np.array([0.60, 0.30, 0.06, 0.035, 0.005])  # Hypothermia last, 0.5 %
    assert [h.label for h in cant_miss(labels, p, rule)] == ["Stroke"]
    hits = cant_miss(labels, p, rule, (("hypothermia", "a core temperature below 35 °C"),))
    # both urgent (Stroke at the rule's probability or more, Hypothermia named by the flag): most probable first
    # (session 14: the flagged hit had come first whatever its probability)
    assert [(h.label, h.rank, h.red_flag) for h in hits] == [("Stroke", 2, ""), ("Hypothermia", 5, "a core temperature below 35 °C")]
    assert hits[1].text() == "Hypothermia (0.5%; red flag: a core temperature below 35 °C)"
    low = CantMissRule(top_k=2, min_probability=0.5, conditions=rule.conditions)  # Stroke now named by its rank only
    hits = cant_miss(labels, p, low, (("hypothermia", "a core temperature below 35 °C"),))
    assert [h.label for h in hits] == ["Hypothermia", "Stroke"]  # the urgent (flagged) hit before the rank-only one
    # a flag for a condition the rule names already adds its reason; one for an unlisted label adds nothing
    hits = cant_miss(labels, p, rule, (("Stroke", "sudden weakness"), ("Flu", "x")))
    assert [(h.label, h.red_flag) for h in hits] == [("Stroke", "sudden weakness")]
    col = cant_miss_column(labels, np.vstack([p, p, np.full(5, np.nan)]), rule,
                           red_flags=[(("Hypothermia", "a core temperature below 35 °C"),), (), (("Hypothermia", "y"),)])
    assert col == ["Stroke (30.0%)|Hypothermia (0.5%; red flag: a core temperature below 35 °C)", "Stroke (30.0%)", ""]
    col = cant_miss_column(labels, np.vstack([p]), low, red_flags=[(("Hypothermia", "a core temperature below 35 °C"),)])
    assert col == ["Hypothermia (0.5%; red flag: a core temperature below 35 °C)|Stroke (30.0%)"]


@pytest.mark.parametrize("change, field", [
    (lambda d: d["flags"][0].update(condition="Common cold"), "not on the can't-miss list"),
    (lambda d: d["flags"][0].update(all_of=[["no such sign"]]), "unknown sign 'no such sign'"),
    (lambda d: d["flags"][0].update(all_of=[]), "all_of"),
    (lambda d: d["flags"][0].update(reason="a | b"), "must not contain '|'"),
    (lambda d: d["flags"][0].pop("source"), "flags\\[0\\] needs a non-empty 'source'"),
    (lambda d: d["signs"].update({"x": []}), "signs\\['x'\\]"),
    (lambda d: d["signs"].update({"x": ["* pain"]}), "gap"),
])
def test_bad_red_flag_file_names_the_entry_and_field(tmp_path, change, field):
    doc = json.loads(RED_FLAGS_FILE.read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(InputError, match=field):
        load_red_flags(path)


@pytest.fixture(scope="module")
def flagged_bundle(tmp_path_factory):
    """A 3-class text bundle whose labels include a flagged can't-miss condition (seconds, deterministic)."""
    from medviz.text.model import TextModelConfig
    from medviz.text.train import TextTrainingSpec, train_text

    rows = [("shivering and cold after a night outside", "Hypothermia"), ("very cold and confused, found outdoors", "Hypothermia"),
            ("cold hands and feet, shivering", "Hypothermia"), ("throbbing headache with flashing lights", "Migraine"),
            ("one sided headache and nausea", "Migraine"), ("headache worse with light", "Migraine"),
            ("runny nose and sneezing", "Common cold"), ("sore throat and blocked nose", "Common cold"),
            ("sneezing with a mild cough", "Common cold")]
    df = pd.DataFrame(rows, columns=["text", "label"])
    spec = TextTrainingSpec(
        name="tiny-flags", text_column="text", label_column="label", seed=1, epochs=8, patience=8, val_fraction=0.34,
        config=TextModelConfig(min_note_count=1, max_tokens=100, sequence_length=12, embed_dim=8, rnn_units=8,
                               attention_units=8),
        provenance={"data_source": "synthetic sentences written for the tests"})
    return train_text(spec, df, tmp_path_factory.mktemp("bundles") / "tiny-flags", test_df=df)


def test_case_page_pipeline_and_every_csv_path_carry_the_same_flags(flagged_bundle, tmp_path):
    from medviz.bundle import load_bundle
    from medviz.scoring import score_csv
    from medviz.text.analyse import analyse_case
    from medviz.text.predict import TextPredictor

    bundle = load_bundle(flagged_bundle)
    case = analyse_case(TextPredictor.from_bundle(bundle), HYPOTHERMIA)
    assert [c for c, _ in case.red_flags] == ["Hypothermia"]
    expected = cant_miss(bundle.labels, case.probabilities, None, case.red_flags)
    assert [h.label for h in expected] == ["Hypothermia"] and "red flag: a core temperature below 35 °C" in expected[0].text()
    notes = [HYPOTHERMIA, "denies feeling cold, runny nose", "", "sneezing"]
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": range(len(notes)), "note": notes}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    score_csv(bundle, src, out, text_column="note", prepare_processes=0)
    cells = pd.read_csv(out, keep_default_na=False)["cant_miss"].tolist()
    assert cells[0] == "|".join(h.text() for h in expected)  # the Case page's line, as the CSV writes it
    assert cells[2] == "" and not any("red flag" in c for c in cells[1:])  # the tiny model may still name it
    # the preparing worker process reads the same flags as this process
    from medviz.scoring import make_scorer
    from medviz.scoring.prepare_process import PrepareProcess

    scorer = make_scorer(bundle, text_column="note")
    chunk = pd.DataFrame({"note": notes})
    worker = PrepareProcess(scorer)
    worker.start()
    try:
        assert worker._ready.result(timeout=120) is True
        there = worker.result(worker.submit(chunk), chunk)
    finally:
        worker.close()
    assert there.red_flags == scorer.prepare(chunk).red_flags == [case.red_flags, (), (), ()]


def test_bundles_without_a_flagged_condition_do_not_read_flags(tiny_text_bundle):
    from medviz.bundle import load_bundle
    from medviz.text.analyse import prepare
    from medviz.text.safety import SafetyConfig

    bundle = load_bundle(tiny_text_bundle)
    cfg = SafetyConfig.from_manifest(bundle.manifest)
    assert prepare(cfg, [HYPOTHERMIA], bundle=bundle).red_flags is None
    assert prepare(cfg, [HYPOTHERMIA, ""]).red_flags == [(("Hypothermia", load_red_flags().raised(HYPOTHERMIA)[0][1]),), ()]


def test_batch_prefilter_is_the_per_text_prefilter():
    """PhraseRules.passing_many (sparse products over a batch) gives, text by text, PhraseRules.passing's rules: for the
    red flags' signs and the expert's own phrase rules, on notes that hold some rules' words, all or only some."""
    from medviz.text.synth.phrase_rules import _TOKEN, PhraseRules, read_rules

    flags = load_red_flags()
    flags.raised("warm")  # builds the signs' rules
    expert_rules = read_rules()
    expert = PhraseRules({r.category.lower(): k for k, r in enumerate(expert_rules)})
    rng = np.random.default_rng(3)
    for rules in (flags._phrase_rules(), expert):
        words = sorted({w for r in rules.rules for tok in r.pattern for w in _TOKEN.findall(str(tok).lower())})
        texts = [HYPOTHERMIA, "sudden severe left testicular pain", "", "Denies testicular pain."]
        texts += [" ".join(rng.choice(words, size=int(rng.integers(1, 25)))) for _ in range(300)]
        toks = [_TOKEN.findall(t.lower()) for t in texts]
        assert rules.passing_many(toks) == [rules.passing(t) for t in toks]
        assert sum(bool(p) for p in rules.passing_many(toks)) > 50  # the corpus exercises the rules


def test_urgent_hits_are_red_flags_or_probable_ones_the_rest_rank_only():
    """The Case page's two boxes: red for a condition a red flag names or at the rule's probability or more, amber for
    one named only by its rank (low probability); together every hit, each once, in the line's order."""
    from medviz.text.cant_miss import by_urgency

    rule = load_rule()
    labels = ["Hypothermia", "Stroke", "Pneumothorax", "Common cold"] + [f"Other {k}" for k in range(20)]
    p = np.full(len(labels), 0.001)
    p[labels.index("Common cold")] = 0.5
    p[labels.index("Stroke")] = 0.3  # above the stated probability: urgent without a flag
    p[labels.index("Pneumothorax")] = 0.008  # rank 3 but under it: by rank only
    p[labels.index("Hypothermia")] = 0.002  # low, but a red flag names it
    p /= p.sum()
    hits = cant_miss(labels, p, rule, (("Hypothermia", "a core temperature below 35 °C"),))
    urgent, by_rank = by_urgency(hits, rule)
    assert [h.label for h in urgent] == ["Stroke", "Hypothermia"]  # most probable first (session 14)
    assert [h.label for h in by_rank] == ["Pneumothorax"]
    assert all(h.probability < rule.min_probability and not h.red_flag for h in by_rank)


AKI_KDIGO_3 = ("creatinine at KDIGO stage 3 level (≥ 354 µmol/L, 4.0 mg/dL): acute kidney injury unless a known baseline "
               "is as high")


@pytest.mark.parametrize("text", [
    "74M retention, confused. Creat 560 (6 mo ago 92), K 5.4.",  # holdout5 h5_028's bloods
    "Bloods: creatinine 560 umol/L",
    "creatinine 4.5 mg/dL, was 0.9 last year",  # under 25: mg/dL
    "Creatinine 1240 on admission",  # four digits
    "creatinine 354",  # KDIGO stage 3: >= 353.6 umol/L
    "creat: 4.0",
    "Creatinine 1,240 on admission",  # a thousands separator (read as 1 before session 14)
    "creatinine 4,5 mg/dL",  # a decimal comma (read as 4 before session 14)
])
def test_creatinine_at_kdigo_stage_3_level_raises_acute_kidney_injury(text):
    flags = load_red_flags()
    assert ("Acute kidney injury", AKI_KDIGO_3) in flags.raised(text)
    (flag,) = [f for f in flags.flags if f.reason == AKI_KDIGO_3]
    assert flag.source.startswith("KDIGO 2012 Clinical Practice Guideline for Acute Kidney Injury")


@pytest.mark.parametrize("text", [
    "creatinine 300",  # raised, below stage 3's level
    "Creatinine 353 umol/L",
    "creatinine 2.0 mg/dL",
    "creat 3.9",
    "Creatinine normal, eGFR > 90",
    "No AKI: creatinine 88, passing good volumes of urine",
    "Denies reduced urine output. Recheck creatinine; refer if it rises above 354 umol/L",  # negated sign, a threshold
    "Creatinine not checked yet, will repeat if over 354",
    "creatinine 12400",  # no value: five digits
    "Return to ED if creatinine 400 or more on the repeat",  # a condition, not the patient's value (session 14)
    "If creatinine 600, discuss with renal",
    "target creatinine 400 before dialysis is considered",
])
def test_creatinine_below_stage_3_or_not_a_result_does_not_raise_acute_kidney_injury(text):
    assert "Acute kidney injury" not in raised(text)


def test_creatinine_flag_leaves_the_experts_reading_unchanged():
    """The flag's value sign is a VITAL_RULES phrase that no expert table holds: the 801 expert reads a creatinine of
    560 as "raised creatinine" only, as before the rule."""
    from medviz.text.synth import bayes

    assert bayes.vital_findings("creat 560, k 5.4") == ["raised creatinine", bayes.CREATININE_KDIGO_3]
    doc = json.loads((RED_FLAGS_FILE.parents[2] / "models" / "differential-801" / "knowledge_base_expert.json").read_text())
    assert bayes.CREATININE_KDIGO_3 not in doc["phrases"] and "raised creatinine" in doc["phrases"]
