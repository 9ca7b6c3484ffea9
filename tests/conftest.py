"""Shared fixtures: tiny models built in tmp_path, never the shared training data."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]

# --- Optional: 2 processes (pytest-xdist: `python -m pytest -q -n 2 --dist loadfile`) -------------------
# loadfile keeps each test file on one worker, so a module's trained model is built once. The browser
# tests share one streamlit server and one Chromium for the run (tests/browser/conftest.py): the whole
# tests/browser folder is one unit here, so only one worker starts them. Hand-written: xdist schedules by
# file or by explicit group, not by folder; its documented hook for a custom split is this one.
try:
    from xdist.scheduler import LoadFileScheduling
except ImportError:  # plain `pytest` without the plugin runs everything in one process
    LoadFileScheduling = None

if LoadFileScheduling is not None:

    class _FileOrBrowserScheduling(LoadFileScheduling):
        """xdist's loadfile, with every test under tests/browser/ in one unit."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "tests/browser" if path.startswith("tests/browser/") else path

    def pytest_xdist_make_scheduler(config, log):
        if config.getoption("dist") == "loadfile":
            return _FileOrBrowserScheduling(config, log)
        return None  # another --dist mode: xdist's own scheduler

TINY_TEXT = {
    "flu": [
        "fever and cough with chills",
        "high fever body aches and a cough",
        "I have a fever and a dry cough",
        "chills fever sore throat cough",
        "coughing with fever for three days",
        "fever cough tired and achy",
    ],
    "migraine": [
        "throbbing headache with nausea",
        "bad headache and light hurts my eyes",
        "pounding head pain on one side",
        "headache with flashing lights and nausea",
        "my head hurts and light bothers me",
        "severe headache and vomiting",
    ],
    "rash": [
        "itchy red rash on my arms",
        "red bumps on my skin that itch",
        "skin rash with blisters",
        "itchy patches of skin",
        "rash spreading on my legs",
        "red itchy skin and peeling",
    ],
}


def tiny_text_frame() -> pd.DataFrame:
    rows = [{"text": t, "label": lab} for lab, texts in TINY_TEXT.items() for t in texts]
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def tiny_text_bundle(tmp_path_factory) -> Path:
    """A 3-class text bundle trained for a few epochs on 18 sentences (seconds, deterministic)."""
    from medviz.text.model import TextModelConfig
    from medviz.text.train import TextTrainingSpec, train_text

    out = tmp_path_factory.mktemp("bundles") / "tiny-text"
    df = tiny_text_frame()
    spec = TextTrainingSpec(
        name="tiny-text",
        text_column="text",
        label_column="label",
        seed=1,
        epochs=15,
        patience=15,
        val_fraction=0.34,
        config=TextModelConfig(min_note_count=1, max_tokens=200, sequence_length=12, embed_dim=8, rnn_units=8, attention_units=8),
        provenance={"data_source": "synthetic sentences written for the tests"},
    )
    return train_text(spec, df, out, test_df=df)


# --- Accounts, audit and storage (medviz.store) -------------------------------------------------
# Every test gets its own SQLite file through MEDVIZ_DB_PATH (created lazily on first use), so no test
# touches data/medviz.db and tests never see each other's users, cases or audit records.

TEST_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def medviz_db(tmp_path_factory, monkeypatch):
    """Isolated data folder per test: MEDVIZ_DATA_DIR -> a fresh tmp folder (its keys, audit head file and
    settings file), MEDVIZ_DB_PATH -> a fresh tmp file in it; no URL, key, config or idle override leaks in."""
    from medviz.store import dispose_engines

    path = tmp_path_factory.mktemp("db") / "medviz.db"
    monkeypatch.setenv("MEDVIZ_DATA_DIR", str(path.parent))
    monkeypatch.setenv("MEDVIZ_DB_PATH", str(path))
    for var in ("MEDVIZ_DATABASE_URL", "MEDVIZ_ENCRYPTION_KEY", "MEDVIZ_ENCRYPTION_KEY_FILE", "MEDVIZ_ENCRYPTION",
                "MEDVIZ_IDLE_MINUTES", "MEDVIZ_CONFIG", "MEDVIZ_AUDIT_KEY", "MEDVIZ_AUDIT_KEY_FILE",
                "MEDVIZ_AUDIT_HEAD_FILE", "MEDVIZ_ALLOW_BOOTSTRAP"):
        monkeypatch.delenv(var, raising=False)
    dispose_engines()
    yield path
    dispose_engines()


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Streamlit's script runner (AppTest) installs app.py as ``sys.modules["__main__"]`` and leaves it there;
    a process started later with multiprocessing's spawn (Dask's LocalCluster workers) would then run app.py
    on start and fail. Put the real ``__main__`` back after each test, whatever ran before."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """argon2 at production cost takes ~1 s per hash on the CI machine; tests use the cheapest profile."""
    from argon2 import PasswordHasher, profiles

    import medviz.auth

    monkeypatch.setattr(medviz.auth, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
    monkeypatch.setattr(medviz.auth, "_dummy_hash", None)


@pytest.fixture
def make_user():
    """make_user(name="tester", role="clinician", password=TEST_PASSWORD) -> medviz.auth.User in the test DB."""
    from medviz import auth
    from medviz.store import get_engine

    def _make(name: str = "tester", role: str = "clinician", password: str = TEST_PASSWORD, must_change: bool = False):
        existing = auth.get_user_by_name(get_engine(), name)
        return existing or auth.create_user(get_engine(), name, password, role, must_change=must_change)

    return _make


def sign_in_session(at, user) -> None:
    """Put ``user`` into an AppTest's session exactly as a successful sign-in does (no form round-trip)."""
    import time

    from medviz.auth import new_session_id
    from medviz.ui.auth import AUTH_KEY

    now = time.time()
    at.session_state[AUTH_KEY] = {
        "user_id": user.id, "username": user.username, "role": user.role,
        "session_id": new_session_id(), "login_at": now, "last_seen": now,
    }


@pytest.fixture
def logged_in_app(make_user):
    """Factory for page tests now that every page needs a signed-in user::

        at = logged_in_app()                      # clinician "tester"
        at = logged_in_app(role="admin")          # admin "admin-tester"
        at.switch_page("pages/x.py").run()

    Returns an AppTest of app.py (default_timeout=60) whose session holds a real user of the per-test
    database, already run once (so app.py's sidebar has picked a bundle and st.navigation has registered
    the pages — AppTest asks for one run before switch_page). It replaces
    ``AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)`` followed by the first ``run()``.
    """
    from streamlit.testing.v1 import AppTest

    def _make(role: str = "clinician", username: str | None = None, timeout: float = 60):
        user = make_user(username or ("tester" if role == "clinician" else f"{role}-tester"), role)
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        sign_in_session(at, user)
        return at.run()

    return _make


def _pg_url() -> str | None:
    return os.environ.get("MEDVIZ_TEST_POSTGRES_URL") or None


def _pg_bin() -> Path | None:
    """The folder holding initdb/pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin (Debian)."""
    import shutil

    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for b in reversed(versions):
        if (b / "initdb").exists() and (b / "pg_ctl").exists():
            return b
    return None


@pytest.fixture(scope="session")
def postgres_server():
    """Base URL of a PostgreSQL server for the store tests: MEDVIZ_TEST_POSTGRES_URL if set, else a throwaway
    server started here (initdb + pg_ctl in a temporary folder, 127.0.0.1, fsync off) and stopped at the end.
    Skipped, with the reason in pytest's summary (-rs), only when neither is available."""
    url = _pg_url()
    if url:
        yield url
        return
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL tests skipped: MEDVIZ_TEST_POSTGRES_URL is not set and no PostgreSQL server binaries "
                    "(initdb, pg_ctl) are installed — apt-get install postgresql, or point the variable at a server")
    import shutil
    import socket
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="medviz-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres account
        try:
            shutil.chown(folder, "postgres", "postgres")
        except (LookupError, PermissionError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            pytest.skip(f"PostgreSQL tests skipped: running as root and cannot hand a folder to a 'postgres' user ({exc})")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = folder / "data"

    def run(*cmd: str) -> None:
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    try:
        run(str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        run(str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off", "start")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL tests skipped: could not start a throwaway server ({exc})")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL: an SQLite file, and a new PostgreSQL database on the ``postgres_server``
    (MEDVIZ_TEST_POSTGRES_URL, else a throwaway server when PostgreSQL is installed; else skipped, saying why)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = request.getfixturevalue("postgres_server")
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"medviz_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        from medviz.store import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_engine(db_url):
    from medviz.store.db import create_store_engine

    engine = create_store_engine(db_url)
    yield engine
    engine.dispose()
TINY_TABULAR_SPECS = {
    "glu": {"label": "Glucose", "unit": "mg/dL", "type": "float", "min": 10, "max": 1500},
    "bmi": {"label": "Body mass index", "unit": "kg/m²", "type": "float", "min": 10, "max": 100},
    "age": {"label": "Age", "unit": "years", "type": "integer", "min": 0, "max": 120},
}


def tiny_tabular_frame(n: int = 160, seed: int = 0):
    """Synthetic Pima-like rows: the outcome depends on glucose, BMI and age through a known logistic."""
    import numpy as np

    rng = np.random.default_rng(seed)
    glu = rng.normal(120, 30, n).round()
    bmi = rng.normal(32, 6, n).clip(15, 60).round(1)
    age = rng.integers(21, 70, n)
    logit = -1.0 + 0.04 * (glu - 120) + 0.08 * (bmi - 32) + 0.03 * (age - 35)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"glu": glu, "bmi": bmi, "age": age, "type": np.where(y, "Yes", "No")})


@pytest.fixture(scope="session")
def tiny_tabular_bundle(tmp_path_factory) -> Path:
    """A 3-feature tabular bundle (glu, bmi, age -> type Yes/No) trained on synthetic rows in seconds."""
    from medviz.tabular.train import TabularTrainingSpec, train_tabular

    out = tmp_path_factory.mktemp("bundles") / "tiny-tabular"
    spec = TabularTrainingSpec(
        name="tiny-tabular", target="type", positive_label="Yes", features=("glu", "bmi", "age"),
        feature_specs=TINY_TABULAR_SPECS, folds=3, epochs=300, seed=1,
        provenance={"data_source": "synthetic rows written for the tests"},
    )
    return train_tabular(spec, tiny_tabular_frame(160, 0), out, test_df=tiny_tabular_frame(120, 1))


CLINICAL_OUTLIERS = (
    "closed reduction of a fractured wrist under anaesthesia",
    "cataract extraction with lens implant in the left eye",
    "follow up of atrial fibrillation on warfarin",
    "knee replacement surgery for degenerative joint disease",
    "colonoscopy with polypectomy of sigmoid polyp",
    "cesarean section for breech presentation at term",
    "coronary angiography showing three vessel disease",
    "laceration repair of the scalp after a fall",
)


@pytest.fixture(scope="session")
def tiny_clinical_bundle(tmp_path_factory) -> Path:
    """The tiny 3-class data trained with every clinical-safety option (2-member ensemble, clinical
    preprocessing, calibration split, refit, telegraphic augmentation, outlier exposure)."""
    from medviz.text.model import TextModelConfig
    from medviz.text.train import TextTrainingSpec, train_text

    df = pd.concat([tiny_text_frame()] * 2, ignore_index=True)
    spec = TextTrainingSpec(
        name="tiny-clinical", text_column="text", label_column="label", seed=3, epochs=6, patience=6,
        val_fraction=0.25, calibration_fraction=0.25, refit=True, preprocessing="clinical", augment_telegraphic=1,
        outlier_texts=CLINICAL_OUTLIERS[:6], conformal_coverage=0.9, oos_quantile=0.9,
        config=TextModelConfig(min_note_count=1, max_tokens=300, sequence_length=16, embed_dim=8, rnn_units=6, attention_units=6,
                               members=2, residual=True, word_dropout=0.1),
        provenance={"data_source": "synthetic sentences written for the tests"},
    )
    robust = pd.DataFrame({
        "text": ["T 38.9, productive cough, chills", "pruritic erythematous rash on arms", "hip fracture after a fall",
                 "cataract surgery follow up"],
        "label": ["flu", "rash", None, None],
        "in_scope": [True, True, False, False],
    })
    out = tmp_path_factory.mktemp("bundles") / "tiny-clinical"
    return train_text(spec, df, out, test_df=tiny_text_frame(), evaluation_sets={"robustness": robust},
                      held_out_outliers=list(CLINICAL_OUTLIERS[6:]))


# A tiny bundle with a knowledge-base expert: used by tests/text (reading, recalibration, CSV speed paths)
# and tests/io (the preparing worker process), so it lives here rather than in tests/text/conftest.py.

def _train_tiny_kb_bundle(d, synonyms: dict, clinical: dict, epochs: int, with_test: bool = False):
    """A 3-condition bundle (tests.text.test_synth's knowledge base) trained in ``d`` with a knowledge-base expert
    over ``synonyms`` / ``clinical`` on 30 generated cases per condition (seconds); ``with_test``: 6 test cases per
    condition too. Returns (bundle path, ``d``); ``d`` holds train.jsonl (and test.jsonl)."""
    import pandas as pd

    from medviz.text.model import TextModelConfig
    from medviz.text.synth import CaseGenerator
    from medviz.text.synth.bayes import KnowledgeBaseBayes
    from medviz.text.train import TextTrainingSpec, train_text
    from tests.text.test_synth import _kb

    kb = _kb()
    train = pd.DataFrame([{"text": c.text, "label": c.label} for c in CaseGenerator(kb).generate(30, seed=5)])
    train.to_json(d / "train.jsonl", orient="records", lines=True)
    test = None
    if with_test:
        test = pd.DataFrame([{"text": c.text, "label": c.label} for c in CaseGenerator(kb).generate(6, seed=6)])
        test.to_json(d / "test.jsonl", orient="records", lines=True)
    spec = TextTrainingSpec(
        name="tiny-kb", text_column="text", label_column="label", seed=3, epochs=epochs, refit_epochs=epochs,
        calibration_fraction=0.3, expert=KnowledgeBaseBayes(kb, synonyms, clinical), expert_weight=1.0,
        config=TextModelConfig(min_note_count=1, max_tokens=300, sequence_length=64, embed_dim=8, rnn_units=8,
                               attention_units=8),
    )
    return train_text(spec, train, d / "bundle", test_df=test), d


@pytest.fixture(scope="session")
def train_tiny_kb_bundle():
    """:func:`_train_tiny_kb_bundle`: ``train_tiny_kb_bundle(d, synonyms, clinical, epochs, with_test=False)``."""
    return _train_tiny_kb_bundle
