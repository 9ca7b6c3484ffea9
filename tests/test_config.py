"""medviz.config: settings read in one place (default model) and the audit-key location warning."""
from __future__ import annotations

from medviz.config import settings


def test_default_model_is_a_setting_from_env_or_file(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDVIZ_DEFAULT_MODEL", raising=False)
    assert settings().default_model == "differential-801"
    cfg = tmp_path / "medviz.toml"
    cfg.write_text('default_model = "pima-diabetes"\n')
    monkeypatch.setenv("MEDVIZ_CONFIG", str(cfg))
    assert settings().default_model == "pima-diabetes"
    monkeypatch.setenv("MEDVIZ_DEFAULT_MODEL", "symptom-diagnosis")  # the environment wins over the file
    from medviz.ui.common import default_bundle

    assert default_bundle() == "symptom-diagnosis"


def test_audit_key_beside_the_data_is_warned_about(monkeypatch, tmp_path, capsys):
    from medviz import audit
    from medviz.cli import main

    # default: data_dir/audit.key, in the database's own folder
    warning = audit.key_location_warning()
    assert warning and "same folder as the data" in warning and "MEDVIZ_AUDIT_KEY" in warning
    assert main(["audit", "verify"]) == 0
    assert "warning: the audit key file" in capsys.readouterr().err
    # a key file in a folder of its own, or a key from the environment: no warning
    elsewhere = tmp_path / "secrets"
    elsewhere.mkdir(mode=0o700)
    monkeypatch.setenv("MEDVIZ_AUDIT_KEY_FILE", str(elsewhere / "audit.key"))
    assert audit.key_location_warning() is None
    monkeypatch.delenv("MEDVIZ_AUDIT_KEY_FILE")
    monkeypatch.setenv("MEDVIZ_AUDIT_KEY", "ab" * 32)
    assert audit.key_location_warning() is None
    assert main(["audit", "verify"]) == 0
    assert "warning" not in capsys.readouterr().err
