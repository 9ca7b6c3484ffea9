"""Real-browser smoke test: Debian's Chromium driven by Playwright against `streamlit run app.py`
(the plain entry point, without server.py's session cookie: its own server, the run's one browser)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW, Server, models_folder, new_page, sign_in


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_text_bundle):
    root = tmp_path_factory.mktemp("browser-smoke")
    srv = Server(root, models_folder(root, tiny_text_bundle), entry="app.py")
    srv.make_user("browser-tester", "clinician")
    yield srv
    srv.stop()


def test_type_a_case_and_see_the_top_diagnosis(browser, server, artifacts):
    shot = artifacts / "case_page.png"
    with new_page(browser) as (ctx, page):
        page.goto(server.url)
        sign_in(page, "browser-tester", expect_ok=False)
        box = page.locator("textarea").first
        box.wait_for(timeout=SLOW)
        box.fill("high fever and a cough with chills")
        page.get_by_role("button", name="Suggest diagnoses").click()
        expect(page.get_by_text("Ranked differential")).to_be_visible(timeout=SLOW)
        expect(page.get_by_text("Words the model attended to")).to_be_visible(timeout=SLOW)
        expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible(timeout=SLOW)
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
