"""Case history, outcome feedback, encryption at rest (with and without a key) and live monitoring."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from medviz.errors import InputError
from medviz.store import cases, monitoring
from medviz.store.crypto import EncryptionError
from medviz.store.models import Case as CaseRow
from medviz.store.models import Outcome as OutcomeRow

LABELS = ["flu", "migraine", "rash", "asthma"]
MODEL = ("tiny", "1.0.0", "cd" * 32, "text_classification")
SECRET_TEXT = "Patient Zanzibar Quill, 41, fever and dry cough for three days"


def _save(engine, text=SECRET_TEXT, probs=(0.7, 0.2, 0.05, 0.05), user="dr-a"):
    return cases.save_case(engine, username=user, content=text, model=MODEL,
                           prediction=cases.text_prediction(LABELS, probs))


def _raw(engine, table, col, **where):
    with engine.connect() as conn:
        return conn.execute(select(col)).scalars().all()


@pytest.mark.parametrize("mode", ["generated-key", "env-key", "off"])
def test_save_and_read_case_encrypted_by_default(db_engine, monkeypatch, medviz_db, mode):
    """Encryption is on by default with a key generated on first use (0600, outside the database);
    MEDVIZ_ENCRYPTION_KEY supplies one; only an explicit `encryption = off` stores text in clear."""
    key = Fernet.generate_key().decode()
    if mode == "env-key":
        monkeypatch.setenv("MEDVIZ_ENCRYPTION_KEY", key)
    if mode == "off":
        monkeypatch.setenv("MEDVIZ_ENCRYPTION", "off")
    saved = _save(db_engine)
    encrypted = mode != "off"
    assert saved.case_id.startswith("C-") and len(saved.case_id) == 12
    assert saved.encrypted is encrypted and saved.top_label == "flu" and saved.outcome is None
    cases.record_outcome(db_engine, saved.case_id, username="dr-a", confirmed="migraine", decision="override",
                         reason="Zanzibar Quill had photophobia")
    payloads = _raw(db_engine, CaseRow, CaseRow.payload)
    reasons = _raw(db_engine, OutcomeRow, OutcomeRow.reason)
    key_file = medviz_db.parent / "encryption.key"
    if mode == "generated-key":
        assert oct(key_file.stat().st_mode & 0o777) == "0o600"
        key = key_file.read_text().strip()
    else:
        assert not key_file.exists()
    if encrypted:
        assert b"Zanzibar" not in bytes(payloads[0]) and b"Zanzibar" not in bytes(reasons[0])
        assert Fernet(key.encode()).decrypt(bytes(payloads[0])).decode() == SECRET_TEXT
    else:
        assert bytes(payloads[0]).decode() == SECRET_TEXT
    detail = cases.get_case(db_engine, saved.case_id, decrypt=True)
    assert detail.content == SECRET_TEXT
    assert detail.outcomes[-1].reason == "Zanzibar Quill had photophobia"
    assert detail.summary.outcome.decision == "override"
    listed = cases.list_cases(db_engine, created_by="dr-a")
    assert [c.case_id for c in listed] == [saved.case_id] and listed[0].outcome.confirmed == "migraine"
    assert cases.list_cases(db_engine, created_by="dr-b") == []
    assert cases.get_case(db_engine, saved.case_id).content == ""  # not decrypted unless asked


def test_other_confirmed_diagnosis_is_encrypted(db_engine):
    saved = _save(db_engine)
    cases.record_outcome(db_engine, saved.case_id, username="dr-a", confirmed="Zanzibar fever (Quill family)",
                         decision="disagree", reason="seen before")
    cases.record_outcome(db_engine, saved.case_id, username="dr-a", confirmed="rash", decision="disagree",
                         reason="on review")
    with db_engine.connect() as conn:
        rows = conn.execute(select(OutcomeRow.confirmed, OutcomeRow.confirmed_text, OutcomeRow.confirmed_text_encrypted)
                            .order_by(OutcomeRow.id)).all()
    assert rows[0][0] == cases.OTHER_CONFIRMED and rows[0][2] and b"Zanzibar" not in bytes(rows[0][1])
    assert tuple(rows[1]) == ("rash", None, False)  # one of the model's labels: stored as is
    detail = cases.get_case(db_engine, saved.case_id, decrypt=True)
    assert [o.confirmed for o in detail.outcomes] == ["Zanzibar fever (Quill family)", "rash"]
    assert cases.get_case(db_engine, saved.case_id).outcomes[0].confirmed == cases.OTHER_CONFIRMED
    form = cases.save_case(db_engine, username="dr-a", content={"glu": 120}, model=("pima", "1", "ef" * 32, "tabular_binary"),
                           prediction=cases.risk_prediction(0.4, "moderate", labels=["No", "Yes"]))
    assert cases.record_outcome(db_engine, form.case_id, username="dr-a", confirmed="Yes", decision="agree").confirmed == "Yes"
    assert cases.list_cases(db_engine, created_by="dr-a")[0].outcome.confirmed == "Yes"


def test_encrypted_case_needs_the_right_key(monkeypatch, db_engine, medviz_db):
    monkeypatch.setenv("MEDVIZ_ENCRYPTION_KEY", Fernet.generate_key().decode())
    saved = _save(db_engine)
    monkeypatch.delenv("MEDVIZ_ENCRYPTION_KEY")  # falls back to the (new) key file: the wrong key
    with pytest.raises(EncryptionError, match="different key"):
        cases.get_case(db_engine, saved.case_id, decrypt=True)
    monkeypatch.setenv("MEDVIZ_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(EncryptionError, match="key 1 is not a Fernet key"):
        _save(db_engine)
    monkeypatch.delenv("MEDVIZ_ENCRYPTION_KEY")
    key_file = medviz_db.parent / "encryption.key"
    key_file.chmod(0o644)
    with pytest.raises(EncryptionError, match="readable by other users"):
        _save(db_engine)


def test_key_rotation_reads_old_cases(monkeypatch, db_engine):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("MEDVIZ_ENCRYPTION_KEY", old)
    saved = _save(db_engine)
    monkeypatch.setenv("MEDVIZ_ENCRYPTION_KEY", f"{new},{old}")
    assert cases.get_case(db_engine, saved.case_id, decrypt=True).content == SECRET_TEXT


def test_form_cases_and_validation(db_engine):
    form = {"age": 61, "glucose": 148.0, "bmi": 33.6}
    saved = cases.save_case(db_engine, username="dr-a", content=form, model=("pima", "1", "ef" * 32, "tabular_binary"),
                            prediction=cases.risk_prediction(0.72, "high"))
    detail = cases.get_case(db_engine, saved.case_id, decrypt=True)
    assert detail.content == form and detail.summary.kind == "form" and detail.summary.risk == 0.72
    with pytest.raises(InputError, match="case text is empty"):
        cases.save_case(db_engine, username="u", content="   ", model=MODEL, prediction=cases.text_prediction(LABELS, [1, 0, 0, 0]))
    with pytest.raises(InputError, match="a reason is required when you disagree"):
        cases.record_outcome(db_engine, saved.case_id, username="u", confirmed="1", decision="disagree")
    with pytest.raises(InputError, match="decision must be one of agree, disagree, override"):
        cases.record_outcome(db_engine, saved.case_id, username="u", confirmed="1", decision="maybe")
    with pytest.raises(InputError, match="no saved case with ID"):
        cases.record_outcome(db_engine, "C-NOPE", username="u", confirmed="1", decision="agree")


def _backdate(engine, case_id, when):
    with engine.begin() as conn:
        conn.execute(update(CaseRow).where(CaseRow.case_id == case_id).values(created_at=when))


TEXT_MANIFEST = {"task": "text_classification", "labels": LABELS,
                 "metrics": {"test": {"top1_accuracy": 0.9, "top3_accuracy": 0.97},
                             "test_deduplicated": {"top1_accuracy": 0.88, "top3_accuracy": 0.96}}}


def test_text_monitoring_counts_periods_and_alerts(db_engine):
    start = datetime(2026, 10, 5, 9, tzinfo=timezone.utc)  # a Monday
    truth = []
    for i in range(30):
        saved = _save(db_engine, text=f"case {i}")
        _backdate(db_engine, saved.case_id, start + timedelta(days=7 * (i // 10), hours=i))
        # Model says flu; confirmed flu for only 40% of cases -> live top-1 well below 0.88.
        confirmed = "flu" if i % 5 < 2 else ("migraine" if i % 5 < 4 else "pneumonia")
        truth.append(confirmed)
        cases.record_outcome(db_engine, saved.case_id, username="dr-a", confirmed=confirmed,
                             decision="agree" if confirmed == "flu" else "override", reason="" if confirmed == "flu" else "exam")
    _save(db_engine, text="no outcome yet")
    rep = monitoring.report(cases.list_cases(db_engine, with_outcome_only=True), TEXT_MANIFEST, freq="W")
    assert rep.n == 30 and rep.reference_split == "test_deduplicated" and rep.reference["top1_accuracy"] == 0.88
    assert rep.overall["top1_accuracy"] == pytest.approx(12 / 30)
    assert rep.overall["top3_accuracy"] == pytest.approx(24 / 30)  # pneumonia is outside the labels: a miss
    assert list(rep.periods["n"]) == [10, 10, 10]
    assert rep.overall["top1_accuracy_lo"] < 0.4 < rep.overall["top1_accuracy_hi"] < 0.88
    assert any("top-1 accuracy" in a and "clearly below" in a for a in rep.alerts)
    assert any("outside the model's label set" in n for n in rep.notes)


def test_text_monitoring_no_alert_when_good_or_too_few(db_engine):
    for i in range(25):
        s = _save(db_engine, text=f"ok {i}")
        cases.record_outcome(db_engine, s.case_id, username="dr-a", confirmed="flu", decision="agree")
    rep = monitoring.report(cases.list_cases(db_engine, with_outcome_only=True), TEXT_MANIFEST)
    assert rep.overall["top1_accuracy"] == 1.0 and rep.alerts == []
    few = monitoring.report(cases.list_cases(db_engine, with_outcome_only=True)[:5], TEXT_MANIFEST)
    assert few.alerts == [] and any("at least 20" in n for n in few.notes)


def test_tabular_monitoring_auc_calibration_alert(db_engine):
    manifest = {"task": "tabular_binary", "labels": ["no diabetes", "diabetes"], "metrics": {"test": {"auc": 0.83, "brier": 0.15}}}
    rng = np.random.default_rng(1)
    model = ("pima", "1", "ef" * 32, "tabular_binary")
    for i in range(60):
        risk = float(rng.uniform(0.05, 0.95))
        y = rng.uniform() < 0.15  # events far rarer than predicted and unrelated to risk
        s = cases.save_case(db_engine, username="dr-a", content={"i": i}, model=model, prediction=cases.risk_prediction(risk, labels=["no diabetes", "diabetes"]))
        cases.record_outcome(db_engine, s.case_id, username="dr-a", confirmed="diabetes" if y else "no diabetes", decision="agree")
    rep = monitoring.report(cases.list_cases(db_engine, with_outcome_only=True), manifest, freq="M")
    assert rep.n == 60 and rep.reference == {"auc": 0.83, "brier": 0.15}
    assert rep.overall["oe_hi"] < 1.0
    assert any("over-estimates" in a for a in rep.alerts)
    assert 0.0 <= rep.overall["auc_lo"] <= rep.overall["auc"] <= rep.overall["auc_hi"] <= 1.0
    assert int(rep.periods["n"].sum()) == 60


def test_rank_auc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.uniform(size=200), 1)  # many ties
    auc, lo, hi = monitoring._auc_ci(y, p)
    assert auc == pytest.approx(roc_auc_score(y, p))
    assert lo < auc < hi
