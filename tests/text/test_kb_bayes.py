"""The knowledge-base naive-Bayes expert: reading findings, negation, age/sex, scores, serialisation."""
from __future__ import annotations

import numpy as np

from medviz.text.synth.bayes import KnowledgeBaseBayes, combine
from tests.text.test_synth import _kb

SYN = {"fever": {"lay": ["high temperature"], "clinical": ["pyrexia"]},
       "neck-stiffness-or-tightness": {"lay": ["stiff neck"], "clinical": ["neck stiffness", "meningism"]}}
CLIN = {"meningitis": {"photophobia": 55, "kernig sign": 20}}


def _expert():
    return KnowledgeBaseBayes(_kb(), SYN, CLIN)


def test_reads_findings_negation_age_and_sex():
    b = _expert()
    col = b.phrase_col
    r = b.read("67M c/o pyrexia, headache and photophobia. Denies cough or neck stiffness, but has vomiting.")
    assert set(r.present) == {col["pyrexia"], col["headache"], col["photophobia"], col["vomiting"]}
    assert set(r.absent) == {col["cough"], col["neck stiffness"]}
    assert (r.age, r.sex) == (67, "Male")
    assert (b.read("A 34-year-old woman with a cough").age, b.read("A 34-year-old woman with a cough").sex) == (34, "Female")
    assert b.read("a 6-month-old girl").age == 0


def test_scores_follow_the_table_and_round_trip():
    b = _expert()
    p = b.predict_proba(["fever, headache, photophobia, vomiting", "cough and fever, sharp chest pain",
                         "headache and vomiting in a man"])
    assert np.allclose(p.sum(axis=1), 1)
    lab = b.labels
    assert lab[p[0].argmax()] == "Meningitis" and lab[p[1].argmax()] == "Pneumonia"
    assert p[2, lab.index("Migraine")] < 0.05  # the table gives migraine zero odds in men
    again = KnowledgeBaseBayes.from_json(b.to_json())
    texts = ["pyrexia and meningism, no cough", "headache"]
    assert np.allclose(again.log_scores(texts), b.log_scores(texts))


def test_combine_weights():
    net = np.array([[0.7, 0.2, 0.1]])
    kb_log = np.log(np.array([[0.1, 0.1, 0.8]]))
    assert np.allclose(combine(net, kb_log, 0.0), net)
    mixed = combine(net, kb_log, 1.0)
    assert np.isclose(mixed.sum(), 1) and mixed[0, 2] > net[0, 2]
