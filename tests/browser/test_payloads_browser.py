"""User text is text (issue 17, item 7): image, link and HTML payloads in every user- or file-supplied
field — manifest fields (title, data source, diagnosis and feature labels, units, descriptions, outcome,
band rationale), CSV file names and headers, case text, outcome text and reasons — are shown as typed:
the browser fetches nothing, runs nothing, and no payload becomes an image, a link or a tag.

User names cannot carry a payload: `medviz users add` allows only letters, digits and . _ - .
"""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SLOW, Canary, Server, case_box, go, idle, new_page, sidebar_page, sign_in
from tests.browser.test_pages_browser import no_exception, pick_model, upload
from tests.conftest import tiny_tabular_frame, tiny_text_frame

MARK = "canary"


def payload(canary: Canary, where: str) -> str:
    """Markdown image + link, raw HTML image with a script handler, bold tag, math and an emoji code."""
    return (f"{where} ![{MARK}]({canary.url(MARK + '-' + where + '.png')}) [{MARK} link]({canary.url(MARK + '-' + where)}) "
            f"<img src=\"{canary.url(MARK + '-' + where + '-img.png')}\" onerror=\"alert('{where}')\"> "
            f"<b>bold</b> $x^2$ :smile: www.{MARK}.example")


def _edit_manifest(folder, edit) -> None:
    path = folder / "manifest.json"
    m = json.loads(path.read_text())
    edit(m)
    path.write_text(json.dumps(m, indent=2))


@pytest.fixture(scope="module")
def canary():
    c = Canary()
    yield c
    c.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_text_bundle, tiny_tabular_bundle, canary):
    root = tmp_path_factory.mktemp("browser-payloads")
    models = root / "models"
    models.mkdir()
    text, tab = models / "tiny-text", models / "tiny-tabular"
    shutil.copytree(tiny_text_bundle, text)
    shutil.copytree(tiny_tabular_bundle, tab)

    def text_edit(m):
        m["title"] = payload(canary, "title")
        m["training"]["data_source"] = payload(canary, "source")
        m["training"]["data_dates"] = payload(canary, "dates")
        m["intended_use"] = payload(canary, "intended")

    def tab_edit(m):
        m["title"] = payload(canary, "tabtitle")
        m["outcome"]["description"] = payload(canary, "outcome")
        m["risk_bands"]["rationale"] = payload(canary, "rationale")
        m["inputs"]["missing_values"] = payload(canary, "missing")
        for f in m["inputs"]["features"]:
            f["label"] = payload(canary, "label-" + f["name"])
            f["description"] = payload(canary, "desc-" + f["name"])

    _edit_manifest(text, text_edit)
    _edit_manifest(tab, tab_edit)
    srv = Server(root, models)
    srv.make_user("dr.payload", "clinician")
    yield srv
    srv.stop()


class Watch:
    """Every request the page makes and every dialog it opens."""

    def __init__(self, page):
        self.requests, self.dialogs = [], []
        page.on("request", lambda r: self.requests.append(r.url) if MARK in r.url else None)
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def check(self, page, canary: Canary, where: str) -> None:
        idle(page)
        page.wait_for_timeout(500)
        assert self.requests == [], f"{where}: the browser fetched {self.requests}"
        assert canary.hits == [], f"{where}: the canary server was asked for {canary.hits}"
        assert self.dialogs == [], f"{where}: a payload ran a script: {self.dialogs}"
        assert page.locator(f"img[src*='{MARK}'], a[href*='{MARK}'], iframe[src*='{MARK}']").count() == 0, where
        # no payload became markup either (a bold tag from user text, a rendered emoji)
        assert page.locator("b:text-is('bold'), strong:text-is('bold')").count() == 0, where
        no_exception(page)


def test_payloads_in_every_field_are_shown_as_text(browser, server, canary, tmp_path, artifacts):
    case_text = ("fever and cough\n\n" + payload(canary, "case") + "\n\n" + payload(canary, "case2"))
    text_csv = tmp_path / "payload-cases.csv"
    frame = tiny_text_frame().head(6)
    pd.DataFrame({payload(canary, "header"): frame["text"], "other": frame["label"]}).to_csv(text_csv, index=False)
    tab_csv = tmp_path / "payload-rows.csv"
    rows = tiny_tabular_frame(8, 5).drop(columns=["type"])
    rows[payload(canary, "extracol")] = "x"
    rows.to_csv(tab_csv, index=False)
    # the name of a file cannot hold "/", so its payload points at a relative (same-server) address
    bad_name = tmp_path / f"![{MARK}]({MARK}-file.png) <img src={MARK}-file2.png onerror=alert(9)>.csv"
    bad_name.write_bytes(b"")

    with new_page(browser) as (ctx, page):
        watch = Watch(page)
        go(page, server.url)
        sign_in(page, "dr.payload")
        pick_model(page, "title")
        expect(page.get_by_text("<b>bold</b>").first).to_be_visible(timeout=SLOW)  # the manifest text, as typed
        case_box(page).fill(case_text, timeout=SLOW)
        page.get_by_role("button", name="Suggest diagnoses").click()
        expect(page.get_by_text("How far to trust these explanations")).to_be_visible(timeout=SLOW)
        watch.check(page, canary, "text case")
        page.screenshot(path=str(artifacts / "payload_text_case.png"), full_page=True)
        page.get_by_role("button", name="Save case for outcome feedback").click()
        expect(page.get_by_text("Saved as case")).to_be_visible(timeout=SLOW)

        sidebar_page(page, "Case history")
        page.get_by_role("tab", name="My saved cases").click()
        # the confirmed diagnosis holds at most 128 characters (medviz.store.cases): a short payload
        page.get_by_label("If other: what was confirmed").fill(f"![{MARK}]({canary.url(MARK + '-other.png')}) <b>bold</b>")
        page.get_by_label("Reason (required when you disagreed or overrode)").fill(payload(canary, "reason"))
        page.locator("[data-testid='stRadio']").get_by_text("Overrode it").click()
        page.locator("[data-testid='stSelectbox']").filter(has_text="Confirmed diagnosis").click()
        page.get_by_role("option", name="Other (not in the model's list)…").click()
        page.get_by_role("button", name="Record outcome").click()
        expect(page.get_by_text("Outcome recorded for case", exact=False).first).to_be_visible(timeout=SLOW)
        watch.check(page, canary, "case history")
        page.screenshot(path=str(artifacts / "payload_history.png"), full_page=True)

        sidebar_page(page, "Batch")
        upload(page, "CSV or Parquet file", bad_name)
        expect(page.locator("[data-testid='stAlertContentError']").first).to_be_visible(timeout=SLOW)
        expect(page.get_by_text("onerror=alert(9)", exact=False).first).to_be_visible()
        watch.check(page, canary, "batch, file name")
        upload(page, "CSV or Parquet file", text_csv)
        page.get_by_role("button", name="Score file").click()
        expect(page.get_by_role("button", name="Download the scored CSV (all rows)")).to_be_visible(timeout=SLOW)
        watch.check(page, canary, "batch, headers")

        for title in ("Evaluation", "Model card", "Explanations", "Monitoring"):
            sidebar_page(page, title)
            watch.check(page, canary, title)
        page.screenshot(path=str(artifacts / "payload_text_model_card.png"), full_page=True)

        pick_model(page, "tabtitle")
        sidebar_page(page, "Case")
        form = page.locator("[data-testid='stForm']")
        for i, value in enumerate(("150", "35", "50")):
            form.locator("input[type=number]").nth(i).fill(value, timeout=SLOW)
        page.get_by_role("button", name="Estimate risk").click()
        expect(page.get_by_text("Calibrated risk of")).to_be_visible(timeout=SLOW)
        page.get_by_text("Why these cut-points").click()
        watch.check(page, canary, "tabular case")
        page.screenshot(path=str(artifacts / "payload_tabular_case.png"), full_page=True)
        sidebar_page(page, "Batch")
        upload(page, "CSV or Parquet file", tab_csv)
        expect(page.get_by_text("Not used by the model")).to_be_visible(timeout=SLOW)
        watch.check(page, canary, "tabular batch")
        for title in ("Evaluation", "Model card", "Explanations"):
            sidebar_page(page, title)
            watch.check(page, canary, "tabular " + title)
        page.screenshot(path=str(artifacts / "payload_tabular_model_card.png"), full_page=True)
