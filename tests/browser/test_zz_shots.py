"""Temporary: screenshots of the Case page with red flags (deleted after use)."""
from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import SLOW, case_box, go, idle, new_page, sign_in

OUT = Path(os.environ.get("SHOTS", "/tmp/s11/shots"))


def test_shots(browser, shared_server):
    OUT.mkdir(parents=True, exist_ok=True)
    shared_server.make_user("dr.shots", "clinician")
    cases = {
        "pneumonia": "72M, 2/7 productive cough, T 39.2, SpO2 88% RA, denies CP",
        "uri": "28F 3/7 sore throat, runny nose, mild dry cough, no fever, eating and drinking ok",
        "ache": "15M left testicular ache for 2 weeks, gradual. Denies sudden onset. No vomiting, no fever.",
    }
    with new_page(browser) as (ctx, page):
        go(page, shared_server.url)
        sign_in(page, "dr.shots")
        for name, text in cases.items():
            case_box(page).fill(text, timeout=SLOW)
            page.get_by_role("button", name="Suggest diagnoses").click()
            expect(page.get_by_text("Ranked differential")).to_be_visible(timeout=SLOW)
            idle(page)
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=False)
            page.screenshot(path=str(OUT / f"{name}_full.png"), full_page=True)
