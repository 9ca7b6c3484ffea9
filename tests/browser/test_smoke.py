"""Real-browser smoke test: Debian's Chromium driven by Playwright against `streamlit run app.py`."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = os.environ.get("MEDVIZ_BROWSER", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, tiny_text_bundle):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(tiny_text_bundle, models / "tiny-text")
    port = _free_port()
    env = {**os.environ, "MEDVIZ_MODELS_DIR": str(models)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 60 s")
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_type_a_case_and_see_the_top_diagnosis(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shot = Path(os.environ.get("MEDVIZ_ARTIFACTS", tmp_path)) / "case_page.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(server)
            login_if_asked(page)
            box = page.locator("textarea").first
            box.wait_for(timeout=90_000)
            box.fill("high fever and a cough with chills")
            page.get_by_role("button", name="Suggest diagnoses").click()
            expect(page.get_by_text("Ranked differential")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Words the model attended to")).to_be_visible(timeout=60_000)
            expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000


def login_if_asked(page) -> None:
    """Sign in through the real form as a clinician created in the server's database (MEDVIZ_DB_PATH)."""
    from medviz import auth
    from medviz.store import get_engine

    from tests.conftest import TEST_PASSWORD

    if auth.get_user_by_name(get_engine(), "browser-tester") is None:
        auth.create_user(get_engine(), "browser-tester", TEST_PASSWORD, "clinician")
    page.get_by_label("User name").fill("browser-tester", timeout=90_000)
    page.get_by_label("Password", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
