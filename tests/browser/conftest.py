"""Shared pieces of the real-browser suite: `streamlit run server.py` servers, one Debian Chromium.

Starting a server costs tens of seconds on 2 shared cores (server.py imports TensorFlow before it
listens) and the first use of each bundle loads its model, so the modules that only read their bundles
(pages, sessions, Chinese) share one server for the whole run (``shared_server``: differential-801 — the
default bundle, as in production — plus the tiny text and tabular bundles); each module signs in its own
accounts, and every test opens its own browser context, so no cookie, session or saved case crosses
tests. A module that needs its own settings, bundles or a fresh database (first start, idle logoff, edited
manifests, `streamlit run app.py`) starts its own ``Server``. Every server has its own SQLite file (never
the test process's per-test database: the server outlives single tests), models folder and settings.
Accounts are made with the library against that file. One Chromium serves the whole run (``browser``).
Screenshots go to $MEDVIZ_ARTIFACTS (default a temp folder) so a person can look at them.
"""
from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import ROOT, TEST_PASSWORD

CHROMIUM = os.environ.get("MEDVIZ_BROWSER", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SLOW = 120_000  # ms: Streamlit runs on 2 shared cores; the first model load takes seconds


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `streamlit run server.py` process with its own database, models and settings."""

    def __init__(self, root: Path, models: Path, env: dict[str, str] | None = None, entry: str = "server.py"):
        self.db_path = root / "server.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {**os.environ, "MEDVIZ_MODELS_DIR": str(models), "MEDVIZ_DB_PATH": str(self.db_path),
                    "MEDVIZ_SESSION_KEY_FILE": str(root / "session.key"), **(env or {})}
        for var in ("MEDVIZ_DATABASE_URL",):
            self.env.pop(var, None)
        self.log = open(root / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / entry), "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 240  # server.py imports TensorFlow before it listens
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.5)
        self.stop()
        pytest.fail(f"streamlit did not start within 240 s: {(root / 'server.log').read_text()[-2000:]}")

    def engine(self):
        from medviz.store.db import create_store_engine

        return create_store_engine(f"sqlite:///{self.db_path}")

    def make_user(self, name: str, role: str = "clinician", password: str = TEST_PASSWORD):
        from medviz import auth

        eng = self.engine()
        try:
            return auth.get_user_by_name(eng, name) or auth.create_user(eng, name, password, role)
        finally:
            eng.dispose()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the run: tests isolate themselves with a new context each (:func:`new_page`)."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory, tiny_text_bundle, tiny_tabular_bundle):
    """One `streamlit run server.py` for the modules that only read their bundles: differential-801 (the
    settings' default bundle, preselected), tiny-text and tiny-tabular. Users: each module makes its own."""
    need_chromium()  # no server without a browser to drive it
    root = tmp_path_factory.mktemp("browser-shared")
    srv = Server(root, models_folder(root, ROOT / "models" / "differential-801", tiny_text_bundle, tiny_tabular_bundle))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    d = Path(os.environ.get("MEDVIZ_ARTIFACTS") or tmp_path_factory.mktemp("browser-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def models_folder(root: Path, *bundles: Path) -> Path:
    models = root / "models"
    models.mkdir(exist_ok=True)
    for b in bundles:
        shutil.copytree(b, models / b.name)
    return models


def sign_in(page, username: str, password: str = TEST_PASSWORD, *, expect_ok: bool = True) -> None:
    """Sign in through the real form (the page must be showing it)."""
    from playwright.sync_api import expect

    page.get_by_label("User name").fill(username, timeout=SLOW)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    if expect_ok:
        expect(page.get_by_text("Signed in as").first).to_be_visible(timeout=SLOW)


def wait_for_session_cookie(context, timeout_s: float = 90) -> dict:
    """The HttpOnly cookie arrives once the page has handed its one-time code to /_medviz/session."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        for c in context.cookies():
            if c["name"] == "medviz_session":
                return c
        time.sleep(0.3)
    raise AssertionError("no medviz_session cookie after sign-in")


def idle(page) -> None:
    """Wait until Streamlit has finished the current run (its status widget goes away)."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=SLOW)


def go(page, url: str, path: str = "") -> None:
    page.goto(url + path, timeout=SLOW)
    idle(page)


def case_box(page):
    """The Case page's text box (its label also names the help button beside it)."""
    return page.get_by_role("textbox", name="Describe the case in plain words")


def sidebar_page(page, title: str) -> None:
    """Open a page from the sidebar navigation."""
    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible(timeout=SLOW)  # the page has arrived
    idle(page)


class Canary:
    """A local HTTP server that records every request: a payload that makes the browser fetch shows here."""

    def __init__(self):
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        self.httpd.shutdown()


@contextmanager
def new_page(browser, **kwargs):
    ctx = browser.new_context(viewport={"width": 1300, "height": 1000}, accept_downloads=True, **kwargs)
    try:
        yield ctx, ctx.new_page()
    finally:
        ctx.close()
