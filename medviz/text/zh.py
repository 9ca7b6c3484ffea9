"""Chinese text helpers shared by the Chinese paths (issue 14): what counts as Chinese, and the crude
cue and age/sex rules the knowledge-base expert (:mod:`medviz.text.synth.bayes`) reads Chinese with.

The full Chinese reading of a note (assertion status with medspaCy ConText) is
:mod:`medviz.text.clinical.chinese`; this module is light (regular expressions only) so the expert and
the pipeline's input checks can import it without spaCy.
"""
from __future__ import annotations

import re

# Han (CJK unified ideograph) ranges the tokenizers treat as one-character tokens. Here, not in
# medviz.text.layers, so that reading a note (this module, the expert, CSV preparation in a worker
# process) never imports Keras; layers imports it from here.
HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

HAN = re.compile(f"[{HAN_RANGES}]")

# The knowledge-base expert's Chinese cues (its English rule is a crude NegEx; this is the same for
# Chinese): a negation cue makes the findings after it absent, a hedge, history or family cue makes
# them ignored (neither present nor absent), until the clause ends (，。；：！？ or 但).
NEGATION_CUES = ("否认", "没有", "未见", "未诉", "未闻及", "不伴", "排除", "无")
IGNORE_CUES = ("可能", "疑似", "考虑", "待排", "既往", "曾患", "家族史", "父亲", "母亲", "父母")
CLAUSE_ENDS = ("，", "。", "；", "：", "！", "？", "但")
# Cue words first so "否认" is one token, then the English tokens, then one token per Han character.
EXPERT_TOKEN_PATTERN = ("|".join(sorted(NEGATION_CUES + IGNORE_CUES, key=len, reverse=True))
                        + r"|[a-z0-9]+|[.;:!?]|[，。；：！？]|[" + HAN_RANGES + "]")
_AGE = re.compile(r"(\d{1,3})\s*(?:岁|周岁)")
_MONTHS = re.compile(r"(\d{1,2})\s*(?:个月|月龄)|婴|宝宝")
_SEX = re.compile(r"男|女|儿子")


def is_chinese(text: str) -> bool:
    """True when ``text`` has a Han character (the dispatch rule of every Chinese path)."""
    return HAN.search(text) is not None


def age_sex_zh(text: str) -> tuple[int | None, str | None]:
    """Age in years and sex ("Male"/"Female") from Chinese forms: ``67岁``, ``5月龄``, ``男``/``女``/``儿子``
    (first one written). (None, None) where not stated."""
    age = None
    m = _AGE.search(text)
    if m:
        age = int(m.group(1))
    elif _MONTHS.search(text):
        age = 0
    s = _SEX.search(text)
    sex = None if s is None else ("Female" if s.group() == "女" else "Male")
    return (age if age is None or age <= 110 else None), sex
