"""Local accounts: hashing, policy, lockout, bootstrap, idle logic and the users CLI."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from medviz import audit, auth
from medviz.cli import build_parser
from medviz.cli import main as cli_main
from medviz.config import ConfigError
from medviz.errors import InputError
from medviz.store import get_engine
from medviz.store.models import User as UserRow

from tests.conftest import TEST_PASSWORD


def test_create_and_authenticate_stores_only_an_argon2_hash(db_engine):
    user = auth.create_user(db_engine, "dr.jones", TEST_PASSWORD, "clinician")
    assert user.role == "clinician" and not user.is_admin and not user.must_change_password
    with db_engine.connect() as conn:
        stored = conn.execute(select(UserRow.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and TEST_PASSWORD not in stored
    assert auth.authenticate(db_engine, "dr.jones", TEST_PASSWORD).id == user.id
    with pytest.raises(auth.AuthError, match="unknown user name or wrong password"):
        auth.authenticate(db_engine, "dr.jones", TEST_PASSWORD + "x")
    with pytest.raises(auth.AuthError, match="unknown user name or wrong password"):
        auth.authenticate(db_engine, "nobody", TEST_PASSWORD)
    with pytest.raises(auth.AuthError, match="already exists"):
        auth.create_user(db_engine, "dr.jones", TEST_PASSWORD, "admin")


def test_lockout_after_repeated_failures_and_expiry(db_engine):
    auth.create_user(db_engine, "nurse1", TEST_PASSWORD, "clinician")
    for _ in range(auth.MAX_FAILED_LOGINS):
        with pytest.raises(auth.AuthError, match="wrong password"):
            auth.authenticate(db_engine, "nurse1", "wrong password here")
    with pytest.raises(auth.AuthError, match="locked"):
        auth.authenticate(db_engine, "nurse1", TEST_PASSWORD)  # even the right password
    later = auth.now_utc() + auth.LOCKOUT + timedelta(seconds=1)
    assert auth.authenticate(db_engine, "nurse1", TEST_PASSWORD, now=later).username == "nurse1"


@pytest.mark.parametrize(
    "password, problem",
    [
        ("short", "at least 12 characters"),
        ("aaaaaaaaaaaaaaaa", "5 different characters"),
        ("xx-alice-is-me-xx", "must not contain the user name"),
        ("password1234", "commonly used"),  # long enough and varied, but on the list and guessable
        ("password1234", "too easy to guess (strength 1 of 4, at least 3 needed: This is a very common password."),
        ("hospital1234", "too easy to guess"),
        ("administrator", "too easy to guess"),
        ("quiet-lantern-orbit-17", None),  # a phrase of uncommon words: accepted
        (" leading space pass", "spaces"),
    ],
)
def test_password_policy(password, problem):
    problems = auth.password_problems(password, "alice")
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems
    with pytest.raises(InputError, match="user name must be"):
        auth.validate_username("bad name!")
    with pytest.raises(InputError, match="role must be one of clinician, admin"):
        auth.validate_role("superuser")


def test_parallel_wrong_passwords_never_exceed_the_lock_limit(db_engine, monkeypatch):
    """Sign-in attempts arriving at once: the counter is taken before the password check, so at most
    MAX_FAILED_LOGINS wrong passwords are ever checked, and the account ends up locked."""
    import threading

    auth.create_user(db_engine, "target", TEST_PASSWORD, "clinician")
    checked = []
    real_verify = auth._hasher.verify

    class CountingHasher:
        def __getattr__(self, name):
            return getattr(real_hasher, name)

        def verify(self, stored, password):
            checked.append(password)
            barrier_wait()  # hold every check open so the attempts really overlap
            return real_verify(stored, password)

    real_hasher = auth._hasher
    gate = threading.Barrier(auth.MAX_FAILED_LOGINS, timeout=5)

    def barrier_wait():
        try:
            gate.wait()
        except threading.BrokenBarrierError:
            pass

    monkeypatch.setattr(auth, "_hasher", CountingHasher())
    outcomes = []

    def attempt(i):
        try:
            auth.authenticate(db_engine, "target", f"wrong guess number {i}")
            outcomes.append("signed in")
        except auth.AuthError as exc:
            outcomes.append("locked" if "locked" in str(exc) else "wrong")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checked) <= auth.MAX_FAILED_LOGINS
    assert outcomes.count("wrong") == len(checked) and outcomes.count("locked") == 30 - len(checked)
    with pytest.raises(auth.AuthError, match="locked"):
        auth.authenticate(db_engine, "target", TEST_PASSWORD)
    assert len(checked) <= auth.MAX_FAILED_LOGINS  # the right password was not even checked


def test_weak_new_password_is_refused_with_the_reason(monkeypatch, capsys):
    engine = get_engine()
    user = auth.create_user(engine, "dr.new", TEST_PASSWORD, "clinician", must_change=True)
    with pytest.raises(InputError, match="password rejected: .*too easy to guess"):
        auth.change_password(engine, user.id, TEST_PASSWORD, "password1234")
    monkeypatch.setattr("sys.stdin", io.StringIO("password1234\n"))
    assert cli_main(["users", "passwd", "dr.new"]) == 1
    assert "error: password rejected: is a commonly used password" in capsys.readouterr().err


def test_bootstrap_admin_once_with_forced_change():
    engine = get_engine()
    created = auth.bootstrap_admin(engine)
    assert created is not None
    user, one_time = created
    assert user.is_admin and user.must_change_password
    assert auth.bootstrap_admin(engine) is None  # only while no user exists
    logged = auth.authenticate(engine, "admin", one_time)
    assert logged.must_change_password
    with pytest.raises(InputError, match="differ"):
        auth.change_password(engine, user.id, one_time, one_time)
    changed = auth.change_password(engine, user.id, one_time, TEST_PASSWORD)
    assert not changed.must_change_password
    with pytest.raises(auth.AuthError):
        auth.authenticate(engine, "admin", one_time)


def test_idle_logic_and_setting(monkeypatch):
    assert auth.is_idle(0, 15 * 60 + 1, 15) and not auth.is_idle(0, 15 * 60, 15)
    assert auth.idle_minutes() == auth.DEFAULT_IDLE_MINUTES
    monkeypatch.setenv("MEDVIZ_IDLE_MINUTES", "2.5")
    assert auth.idle_minutes() == 2.5
    monkeypatch.setenv("MEDVIZ_IDLE_MINUTES", "soon")
    with pytest.raises(ConfigError, match=r"setting 'idle_minutes' \(MEDVIZ_IDLE_MINUTES .*valid number"):
        auth.idle_minutes()


def test_disabled_account_cannot_sign_in():
    engine = get_engine()
    auth.create_user(engine, "leaver", TEST_PASSWORD, "clinician")
    auth.set_active(engine, "leaver", False)
    with pytest.raises(auth.AuthError, match="unknown user name or wrong password"):
        auth.authenticate(engine, "leaver", TEST_PASSWORD)


def test_cli_users_add_reads_password_from_stdin_never_argv(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(TEST_PASSWORD + "\n"))
    assert cli_main(["users", "add", "dr.who", "--role", "clinician"]) == 0
    assert "created clinician 'dr.who'" in capsys.readouterr().out
    engine = get_engine()
    assert auth.authenticate(engine, "dr.who", TEST_PASSWORD).role == "clinician"
    assert audit.query(engine)["action"].tolist() == ["user_created"]
    # There is no way to pass a password on the command line.
    with pytest.raises(SystemExit):
        build_parser().parse_args(["users", "add", "x", "--role", "admin", "--password", "p"])
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli_main(["users", "add", "dr.two", "--role", "admin"]) == 1
    assert "password rejected: at least 12 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(TEST_PASSWORD + "\n"))
    assert cli_main(["users", "add", "dr.who", "--role", "admin"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli_main(["users", "list"]) == 0
    assert "dr.who" in capsys.readouterr().out


def test_cli_users_add_prompts_twice_in_a_terminal(monkeypatch, capsys):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    answers = iter([TEST_PASSWORD, TEST_PASSWORD])
    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli_main(["users", "add", "boss", "--role", "admin"]) == 0
    assert auth.authenticate(get_engine(), "boss", TEST_PASSWORD).is_admin
    answers2 = iter([TEST_PASSWORD, "something else entirely"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers2))
    assert cli_main(["users", "add", "boss2", "--role", "admin"]) == 1
    assert "the two passwords differ" in capsys.readouterr().err
