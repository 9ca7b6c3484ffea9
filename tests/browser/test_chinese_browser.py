"""The interface in Simplified Chinese in a real browser (issue 14, item 4).

A clinician signs in, switches the sidebar's language picker to 简体中文, sees the navigation, the Case
page and the sidebar in Chinese, and the choice follows the account into another browser. Then a Chinese
case typed on the Case page with the shipped ``differential-801`` bundle gets a ranked differential.
Screenshots: ``zh-sidebar.png``, ``zh-case-differential.png`` in $MEDVIZ_ARTIFACTS (needs a CJK font:
``fonts-noto-cjk``, installed by .ci/run).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW, go, idle, new_page, sign_in
from tests.conftest import TEST_PASSWORD

CHINESE_CASE = "发热三天，咳嗽，咳黄痰，胸痛，气短。"  # the example, in a clinician's shorthand


@pytest.fixture(scope="module")
def server(shared_server):
    """The run's shared server (tests/browser/conftest.py): differential-801 is its preselected bundle."""
    shared_server.make_user("dr.zh", "clinician")
    return shared_server


def to_chinese(page) -> None:
    idle(page)  # a run in progress can still show the previous page's picker beside the new one
    picker = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text=re.compile("Language|语言"))
    picker.last.click()
    page.get_by_role("option", name="简体中文").click()
    idle(page)


def sign_in_zh(page, username: str) -> None:
    page.get_by_label("用户名").fill(username, timeout=SLOW)
    page.get_by_label("密码", exact=True).fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("已登录为").first).to_be_visible(timeout=SLOW)


def test_interface_switches_to_chinese_and_follows_the_account(browser, server, artifacts):
    with new_page(browser) as (ctx, page):
        go(page, server.url)
        sign_in(page, "dr.zh")
        expect(page.get_by_role("heading", level=1, name="Case")).to_be_visible(timeout=SLOW)
        to_chinese(page)
        nav = page.locator("[data-testid='stSidebarNav']")
        for title in ("病例", "解释", "批量", "评估", "模型卡", "病例历史"):
            expect(nav.get_by_role("link", name=title, exact=True)).to_be_visible(timeout=SLOW)
        expect(page.get_by_role("heading", level=1, name="病例")).to_be_visible(timeout=SLOW)
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_text("模型包")).to_be_visible()
        expect(sidebar.get_by_role("button", name="退出登录")).to_be_visible()
        expect(page.get_by_text("供临床医生使用的决策支持").first).to_be_visible()
        idle(page)  # the run after the switch has finished: no stale English element left
        expect(page.get_by_text("Describe the case in plain words")).to_have_count(0)
        page.screenshot(path=str(artifacts / "zh-sidebar.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0

        sidebar.get_by_role("button", name="退出登录").click()
        expect(page.get_by_role("heading", level=1, name="🩺 medviz — 登录")).to_be_visible(timeout=SLOW)

    with new_page(browser) as (ctx, page):  # another browser: signed in, the account's language applies
        go(page, server.url)
        sign_in(page, "dr.zh", expect_ok=False)  # the sign-in page is English: nobody is known yet
        expect(page.get_by_text("已登录为").first).to_be_visible(timeout=SLOW)
        expect(page.get_by_role("heading", level=1, name="病例")).to_be_visible(timeout=SLOW)


def test_chinese_case_gets_a_differential(browser, server, artifacts):
    """Needs the differential-801 bundle that reads Chinese (issue 14, item 2); the English-only bundle
    refuses the text ("no words the model can read") and this test fails on it."""
    with new_page(browser) as (ctx, page):
        go(page, server.url)
        to_chinese(page)  # on the sign-in page, before anyone is known
        sign_in_zh(page, "dr.zh")
        expect(page.get_by_role("heading", level=1, name="病例")).to_be_visible(timeout=SLOW)
        box = page.get_by_role("textbox", name="用平实的语言描述病例")
        box.fill(CHINESE_CASE, timeout=SLOW)
        page.get_by_role("button", name="给出诊断建议").click()
        differential = page.get_by_role("heading", name="鉴别诊断排序")
        # a warning or error under the form (e.g. the English-only bundle's "reads English words" refusal)
        refusal = page.locator("[data-testid='stAlertContentWarning'], [data-testid='stAlertContentError']")
        expect(differential.or_(refusal).first).to_be_visible(timeout=SLOW)  # the outcome, either way
        idle(page)
        page.screenshot(path=str(artifacts / "zh-case-differential.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0
        alerts = " | ".join(page.locator("[data-testid='stAlert']").all_inner_texts())
        assert differential.is_visible(), f"no differential for a Chinese case; the page says: {alerts[-600:]}"
        expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()  # the ranked table (a canvas)
        expect(page.get_by_text("该模型只能读取英文单词")).to_have_count(0)  # not refused as unreadable


def test_english_case_on_the_chinese_interface(browser, server, artifacts):
    """The result view itself in Chinese (headings, banners, can't-miss box, findings), whatever the
    bundle reads: an English case on the English-reading bundle."""
    with new_page(browser) as (ctx, page):
        go(page, server.url)
        sign_in(page, "dr.zh", expect_ok=False)
        page.locator("[data-testid='stSidebarNav']").wait_for(timeout=SLOW)  # signed in
        to_chinese(page)  # already the account's language when the first test ran; set it when run alone
        expect(page.get_by_role("heading", level=1, name="病例")).to_be_visible(timeout=SLOW)
        page.get_by_role("textbox", name="用平实的语言描述病例").fill(
            "Fever for three days since returning from Ghana, cough with yellow sputum, chest pain when breathing in, "
            "short of breath.", timeout=SLOW)
        page.get_by_role("button", name="给出诊断建议").click()
        expect(page.get_by_role("heading", name="鉴别诊断排序")).to_be_visible(timeout=SLOW)
        idle(page)
        expect(page.get_by_text("模型已知的 801 个诊断上的校准概率").first).to_be_visible()
        # fever after travel: a red flag names malaria in the can't-miss box, with its reason (medviz.text.red_flags)
        expect(page.get_by_text("病历中的危险信号：fever after travel。").first).to_be_visible()
        page.screenshot(path=str(artifacts / "zh-case-english-text.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0
