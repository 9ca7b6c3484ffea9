"""CPU time of the knowledge-base expert's reader alone (``KnowledgeBaseBayes.read``, issue 15 / 2.4.0: it runs on
every CSV row), beside a baseline checkout timed in the same run.

    python benchmarks/expert_read_speed.py [--texts 2000] [--repeats 5] [--baseline DIR] [--expert FILE] [--generated-only]

Texts: the clinician vignettes of benchmarks/data (development / final, holdout, holdout2) and the robustness set, then
cases generated from the knowledge base (benchmarks/differential.py ``speed_texts``); ``--generated-only``: the
generated cases alone. Each side runs in its own
process (``--measure``), sides alternate ``--repeats`` times; one warm-up pass first (the medspaCy pipeline of the
phrase rules is built on first use, ~1 s, once per process). Prints CPU ms per 1,000 texts (``time.process_time``),
median and range, and the load average. ``--expert``: the expert JSON both sides read (default: the shipped bundle's),
so only the reading code differs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def texts_for(n: int, kb: str | None, generated_only: bool = False) -> list[str]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pandas as pd

    from differential import DATA, robustness_cases, speed_texts

    if generated_only:
        return speed_texts([], n, kb)
    vig = []
    for name in ("clinician_vignettes.csv", "clinician_vignettes_holdout.csv", "clinician_vignettes_holdout2.csv"):
        vig += pd.read_csv(DATA / name, dtype=str)["text"].tolist()
    vig += robustness_cases()[0]
    return speed_texts(vig, n, kb)


def measure(code: str, expert_file: str, texts_file: str) -> float:
    """CPU seconds of one pass of ``read`` over the texts, with the code of checkout ``code``."""
    sys.path.insert(0, code)
    from medviz.text.synth.bayes import KnowledgeBaseBayes

    expert = KnowledgeBaseBayes.from_json(Path(expert_file).read_bytes())
    texts = json.loads(Path(texts_file).read_text())
    for t in texts:  # warm-up
        expert.read(t)
    t0 = time.process_time()
    for t in texts:
        expert.read(t)
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--baseline", help="another checkout (git archive REV | tar -x -C DIR)")
    ap.add_argument("--expert", default=str(ROOT / "models" / "differential-801" / "knowledge_base_expert.json"))
    shared = next((d / "shared" for d in (ROOT.parent, ROOT.parent.parent) if (d / "shared" / "data").is_dir()), ROOT.parent / "shared")
    ap.add_argument("--kb", default=str(shared / "data" / "symcat"), help="knowledge base for the generated cases")
    ap.add_argument("--generated-only", action="store_true", help="generated cases only (no vignettes): CSV-like text")
    ap.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)  # internal: code dir, expert file, texts file
    args = ap.parse_args(argv)
    if args.measure:
        print(measure(*args.measure))
        return 0
    import tempfile

    texts = texts_for(args.texts, args.kb if Path(args.kb).is_dir() else None, args.generated_only)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(texts, f)
    sides = {"this checkout": str(ROOT)} | ({"baseline": str(Path(args.baseline).resolve())} if args.baseline else {})
    times: dict[str, list[float]] = {k: [] for k in sides}
    try:
        for _ in range(args.repeats):
            for name, code in sides.items():
                out = subprocess.run([sys.executable, __file__, "--measure", code, args.expert, f.name], check=True,
                                     capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=code))
                times[name].append(float(out.stdout.strip().splitlines()[-1]))
    finally:
        os.unlink(f.name)
    print(f"{len(texts)} texts; load average {os.getloadavg()[0]:.2f}")
    for name, ts in times.items():
        ms = sorted(1000 * t / len(texts) * 1000 for t in ts)
        print(f"  {name:14} read: {ms[len(ms) // 2]:7.1f} CPU ms per 1,000 texts (range {ms[0]:.1f}-{ms[-1]:.1f}, {len(ms)} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
