"""Chinese assertion status (medviz.text.clinical.chinese, issue 14): a table of Chinese notes with
the expected status of each finding, and the dispatch that sends a note with Han characters there."""
from __future__ import annotations

import pytest

P, A, U, H, F = "present", "absent", "uncertain", "historical", "family/other person"

CASES = [
    # negation: forward cues, lists joined by 、 和 及 或, a comma ends the scope
    ("男，67岁，主诉胸痛、气促3天。否认咯血、发热及咳嗽。", {"胸痛": P, "气促": P, "咯血": A, "发热": A, "咳嗽": A}),
    ("无发热，咳嗽2天。", {"发热": A, "咳嗽": P}),
    ("否认胸痛，头痛1周。", {"胸痛": A, "头痛": P}),
    ("没有发烧，拉肚子。", {"发烧": A, "拉肚子": P}),
    ("查体未见皮疹，腹痛3天。", {"皮疹": A, "腹痛": P}),
    ("腹痛，不伴呕吐和腹泻。", {"腹痛": P, "呕吐": A, "腹泻": A}),
    ("胸痛，已排除肺栓塞。", {"胸痛": P, "肺栓塞": A}),
    ("否认头痛、恶心、呕吐、畏光或颈项强直。", {"头痛": A, "恶心": A, "呕吐": A, "畏光": A, "颈项强直": A}),
    # backward negation
    ("咳嗽（-），发热（-），腹痛。", {"咳嗽": A, "发热": A, "腹痛": P}),
    ("尿痛，血尿阴性。", {"尿痛": P, "血尿": A}),
    ("肺栓塞已排除。", {"肺栓塞": A}),
    # pseudo-cues name no finding
    ("无明显诱因出现发热3天，伴咳嗽。", {"发热": P, "咳嗽": P}),
    ("患儿男，5岁，由母亲带来就诊，发热、咳嗽3天。", {"发热": P, "咳嗽": P}),
    # hedges
    ("疑似肺炎，考虑肺栓塞可能。", {"肺炎": U, "肺栓塞": U}),
    ("发热、咳嗽，可能是肺炎。", {"发热": P, "咳嗽": P, "肺炎": U}),
    ("头痛，脑膜炎待排。", {"头痛": P, "脑膜炎": U}),
    # history
    ("既往高血压病史10年，否认糖尿病病史。", {"高血压": H, "糖尿病": A}),
    ("既往哮喘，现喘息2天。", {"哮喘": H, "喘息": P}),
    # family and other persons
    ("母亲有糖尿病，父亲高血压。患者头痛2天。", {"糖尿病": F, "高血压": F, "头痛": P}),
    ("家族史：母亲乳腺癌。", {"乳腺癌": F}),
    ("有结直肠癌家族史，便血1月。", {"结直肠癌": F, "便血": P}),
    # a cue inside a finding is part of the finding
    ("上肢无力2天，无发热，但有咳嗽。", {"上肢无力": P, "发热": A, "咳嗽": P}),
]


@pytest.mark.parametrize("note,expected", CASES, ids=[f"zh{i:02d}" for i in range(len(CASES))])
def test_statuses(note, expected):
    from medviz.text.clinical.chinese import preprocess

    got = {f.phrase: f.status for f in preprocess(note).findings}
    assert got == expected


def test_only_present_findings_reach_the_model_and_offsets_point_into_the_note():
    from medviz.text.clinical.chinese import preprocess

    note = "女，45岁，头痛3天。否认发热、呕吐。疑似脑膜炎。"
    pre = preprocess(note)
    assert pre.model_text == "女，45岁，头痛3天。"
    assert all(note[f.start:f.end] == f.phrase for f in pre.findings)
    assert [(s.text, s.kind) for s in pre.negated] == [("发热", "negated"), ("呕吐", "negated"), ("脑膜炎", "hedged")]
    assert preprocess(note) == preprocess(note)


def test_dispatch_every_entry_point():
    """A note with Han characters is read by the Chinese reader wherever the English reader is called."""
    from medviz.text.clinical import preprocess_all, preprocess_many
    from medviz.text.preprocess import preprocess_batch

    notes = ["发热、咳嗽3天，否认胸痛。", "fever and cough, denies chest pain"]
    full = preprocess_all(notes)
    assert [(f.phrase, f.status) for f in full[0].findings] == [("发热", P), ("咳嗽", P), ("胸痛", A)]
    assert ("chest pain", A) in [(f.phrase, f.status) for f in full[1].findings]
    assert preprocess_many(notes)[0] == "发热、咳嗽3天。" == full[0].model_text
    none = preprocess_batch("none", notes)
    assert none[0].model_text == notes[0] and none[0].findings == full[0].findings
    assert none[1].findings == ()  # English under "none": as before, no reading


def test_no_note_text_in_logs(caplog, capsys):
    import logging

    from medviz.text.clinical.chinese import preprocess

    canary = "金丝雀病人张三发热"
    with caplog.at_level(logging.DEBUG):
        preprocess(canary)
    out = capsys.readouterr()
    assert canary not in caplog.text and canary not in out.out and canary not in out.err
