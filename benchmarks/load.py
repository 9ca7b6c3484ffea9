"""Load benchmark: N concurrent signed-in sessions (different users and cases) against one server.

Starts ``streamlit run server.py`` with a fresh database (or uses ``--url`` with users load-1…load-N
already made), creates users ``load-1``…``load-N``, and drives Debian's Chromium through Playwright
(one browser context per user, i.e. separate cookies and Streamlit sessions):

1. **one at a time**: each user signs in, types its own case and waits for the ranked differential and
   the explanation; the page's fingerprint is kept: the case text as the model read it (attention
   view), the SHAP word view and the deletion-check sentence (diagnosis and three SHAP/attention/random
   figures to 3 decimals).
2. **all at once**: every user presses "Suggest diagnoses" at the same moment (after all have signed in
   and typed), again waiting for the differential and the explanation.

Reported: failures (timeouts, exceptions on the page), p50/p95/max seconds from the click to the
ranked differential ("time to a text result") and to the finished explanation, and leaks — a session
whose concurrent fingerprint differs from its own one-at-a-time fingerprint, or that shows another
session's case text.

    python benchmarks/load.py --sessions 20 [--port 8616] [--models models] [--rounds 1]

Numbers depend on the machine's other load: the script prints the load average before and after.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("MEDVIZ_BROWSER", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"]
PASSWORD = "load-benchmark-passphrase-7"
TIMEOUT_MS = 240_000

# Twenty different cases in a patient's words (distinct first words, so a leak is visible).
CASES = [
    "I have had a high fever and a dry cough for three days and my whole body aches",
    "Itchy red rash spreading over both arms with small blisters since last week",
    "Burning pain when I pass urine and I need to go all the time, with lower belly pain",
    "Pounding headache on one side with nausea and bright light hurts my eyes",
    "Joint pain and swelling in my knees and fingers, stiff every morning for an hour",
    "Yellow skin and eyes, dark urine and pain under my right ribs after meals",
    "Sneezing, runny nose and itchy watery eyes every spring when the pollen is high",
    "Chest tightness and wheezing at night, worse after running in cold air",
    "Heartburn and a sour taste rising into my throat after big meals and lying down",
    "Constant thirst, passing lots of urine and losing weight without trying",
    "Painful swollen big toe that turned red and hot overnight",
    "Diarrhoea and vomiting since eating at a street stall yesterday, with cramps",
    "Dizziness when standing up quickly, tired all the time and pale skin",
    "Cough with green phlegm, fever and sharp chest pain when breathing in",
    "Pimples and blackheads on my face and back that leave scars",
    "Sore throat, swollen glands in my neck and white spots on my tonsils",
    "Numbness and tingling in my feet, blurred vision and slow healing cuts",
    "Itchy scalp with thick silver scales on my elbows and knees",
    "Back pain spreading down my leg after lifting a heavy box",
    "Fever with chills every other day after a trip abroad, sweating at night",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(port: int, models: Path, work: Path) -> subprocess.Popen:
    env = {**os.environ, "MEDVIZ_MODELS_DIR": str(models), "MEDVIZ_DB_PATH": str(work / "load.db"),
           "MEDVIZ_SESSION_KEY_FILE": str(work / "session.key")}
    env.pop("MEDVIZ_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "server.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=open(work / "server.log", "w"), stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 300  # server.py imports TensorFlow before it listens
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def _make_users(n: int, db: Path) -> None:
    from medviz import auth
    from medviz.store.db import create_store_engine

    eng = create_store_engine(f"sqlite:///{db}")
    for i in range(1, n + 1):
        if auth.get_user_by_name(eng, f"load-{i}") is None:
            auth.create_user(eng, f"load-{i}", PASSWORD, "clinician")
    eng.dispose()


async def _idle(page) -> None:
    await page.wait_for_timeout(300)
    await page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=TIMEOUT_MS)


async def _sign_in(page, url: str, user: str) -> None:
    await page.goto(url, timeout=TIMEOUT_MS)
    await page.get_by_label("User name").fill(user, timeout=TIMEOUT_MS)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_text("Signed in as").wait_for(timeout=TIMEOUT_MS)
    await _idle(page)


async def _fingerprint(page) -> str:
    """What this session shows for its case: model text (attention), SHAP words, deletion figures."""
    html_blocks = await page.locator("[data-testid='stHtml']").all_inner_texts()
    deletion = await page.get_by_text("Removing the top").first.inner_text()
    return " || ".join([*(b.strip() for b in html_blocks if b.strip()), deletion.strip()])


async def _ask(page, case: str, *, typed: bool = False) -> tuple[float, float]:
    """Type (unless typed) and submit; seconds to the differential and to the finished explanation."""
    if not typed:
        await page.get_by_role("textbox", name="Describe the case in plain words").fill(case, timeout=TIMEOUT_MS)
    t0 = time.perf_counter()
    await page.get_by_role("button", name="Suggest diagnoses").click()
    await page.get_by_text("Ranked differential").wait_for(timeout=TIMEOUT_MS)
    t1 = time.perf_counter()
    await page.get_by_text("How far to trust these explanations").wait_for(timeout=TIMEOUT_MS)
    await page.get_by_text("Removing the top").first.wait_for(timeout=TIMEOUT_MS)
    await _idle(page)
    return t1 - t0, time.perf_counter() - t0


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def run(url: str, n: int, rounds: int) -> int:
    from playwright.async_api import async_playwright

    cases = [CASES[i % len(CASES)] + (f" (case {i + 1})" if i >= len(CASES) else "") for i in range(n)]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        contexts = [await browser.new_context(viewport={"width": 1200, "height": 900}) for _ in range(n)]
        pages = [await c.new_page() for c in contexts]

        print(f"signing in {n} users…", flush=True)
        gate = asyncio.Semaphore(4)  # sign-in is not what is measured; spare the machine

        async def sign_in(pg, user):
            async with gate:
                await _sign_in(pg, url, user)

        await asyncio.gather(*(sign_in(pg, f"load-{i + 1}") for i, pg in enumerate(pages)))

        print("one at a time…", flush=True)
        alone, alone_t = [], []
        for pg, case in zip(pages, cases):
            alone_t.append(await _ask(pg, case))
            alone.append(await _fingerprint(pg))
        print(f"  one session: differential median {statistics.median(t for t, _ in alone_t):.2f} s, "
              f"explanation median {statistics.median(t for _, t in alone_t):.2f} s", flush=True)

        failures, leaks, t_result, t_explain = [], [], [], []
        for r in range(rounds):
            # reset every page's form to its case, then all press the button at the same moment
            for pg, case in zip(pages, cases):
                await pg.get_by_role("textbox", name="Describe the case in plain words").fill(case, timeout=TIMEOUT_MS)
            print(f"round {r + 1}: {n} sessions at once…", flush=True)
            results = await asyncio.gather(*(_ask(pg, case, typed=True) for pg, case in zip(pages, cases)),
                                           return_exceptions=True)
            for i, (pg, res) in enumerate(zip(pages, results)):
                if isinstance(res, BaseException):
                    failures.append(f"load-{i + 1}: {type(res).__name__}: {str(res).splitlines()[0][:160]}")
                    continue
                if await pg.locator("[data-testid='stException']").count():
                    failures.append(f"load-{i + 1}: exception shown on the page")
                t_result.append(res[0])
                t_explain.append(res[1])
                fp = await _fingerprint(pg)
                body = await pg.inner_text("body")
                others = [j for j, c in enumerate(cases) if j != i and c.split()[0:4] != cases[i].split()[0:4]
                          and " ".join(c.split()[1:5]) in body]
                if fp != alone[i] or others:
                    leaks.append(f"load-{i + 1}: " + ("differs from its one-at-a-time result" if fp != alone[i] else "")
                                 + (f" shows the case of load-{others[0] + 1}" if others else ""))
        await browser.close()

    print()
    print(f"sessions: {n}, rounds: {rounds}, submissions: {n * rounds}")
    print(f"failures: {len(failures)}")
    for f in failures[:10]:
        print("  ", f)
    print(f"leaks (result or explanation differs from one-at-a-time, or another case shown): {len(leaks)}")
    for leak in leaks[:10]:
        print("  ", leak)
    if t_result:
        print(f"time to the ranked differential: p50 {_pct(t_result, .5):.2f} s, p95 {_pct(t_result, .95):.2f} s, "
              f"max {max(t_result):.2f} s")
        print(f"time to the finished explanation: p50 {_pct(t_explain, .5):.2f} s, p95 {_pct(t_explain, .95):.2f} s, "
              f"max {max(t_explain):.2f} s")
    return 1 if failures or leaks else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--port", type=int, default=0, help="port for the server started here (default: a free one)")
    ap.add_argument("--models", type=Path, default=ROOT / "models", help="models folder (default: the bundled models)")
    ap.add_argument("--bundle", default="symptom-diagnosis", help="the text bundle to serve")
    ap.add_argument("--url", help="use a running server instead (users load-1… must exist there)")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(the machine may be shared: figures scale with other load)")
    work = Path(tempfile.mkdtemp(prefix="medviz-load-"))
    proc = None
    try:
        url = args.url
        if url is None:
            models = work / "models"
            models.mkdir()
            shutil.copytree(args.models / args.bundle, models / args.bundle)
            _make_users(args.sessions, work / "load.db")
            port = args.port or _free_port()
            proc = _start_server(port, models, work)
            url = f"http://127.0.0.1:{port}/"
        status = asyncio.run(run(url, args.sessions, args.rounds))
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
