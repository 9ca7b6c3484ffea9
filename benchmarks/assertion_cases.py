"""The clinical-text assertion cases (tests/data/assertion_cases.csv, copied from the shared case set) through
each shipped text bundle: does a denied finding stay out of the evidence?

    python benchmarks/assertion_cases.py [--model models/differential-801 ...]

For every bundle (default: every text bundle under models/) prints, per case with a control row, whether the
note gets the same top diagnosis as its control (the control leaves out the denied words), and a summary. For a
bundle with a knowledge-base expert it also prints the part that decided (network alone, expert alone) and
whether the expert read each ``must_read_absent`` word as absent and no ``must_not_read_absent`` word as absent.
tests/text/test_assertion_cases.py requires all of it of the 22-condition bundle; the 801-condition bundle
(session 8: 0 of 9 same top diagnoses) is measured here until its network reads denial.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

CASES = ROOT / "tests" / "data" / "assertion_cases.csv"


def _words(cell: str) -> list[str]:
    return [w.strip().lower() for w in (cell or "").split("|") if w.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", help="a text bundle folder (repeatable); default: every text bundle")
    args = ap.parse_args(argv)
    import numpy as np

    from differential import parts, probabilities
    from medviz.bundle import load_bundle
    from medviz.runtime import configure_tensorflow
    from medviz.text.predict import TextPredictor
    from medviz.text.synth.bayes import expert_for

    configure_tensorflow()
    rows = list(csv.DictReader(CASES.open(encoding="utf-8")))
    notes = [r["note"] for r in rows]
    index = {r["case_id"]: i for i, r in enumerate(rows)}
    folders = args.model or sorted(str(p.parent) for p in (ROOT / "models").glob("*/manifest.json"))
    for folder in folders:
        bundle = load_bundle(folder)
        if not bundle.is_text:
            continue
        predictor = TextPredictor.from_bundle(bundle)
        labels = bundle.labels
        shown = probabilities(predictor, notes)
        split = parts(predictor, notes)
        top = lambda p, i: labels[int(np.argmax(p[i]))]  # noqa: E731
        print(f"\n{bundle.name} {bundle.version} ({len(labels)} conditions), {len(rows)} cases from {CASES.name}")
        same = 0
        paired = [r for r in rows if r["same_top1_as"]]
        for r in paired:
            i, j = index[r["case_id"]], index[r["same_top1_as"]]
            ok = top(shown, i) == top(shown, j)
            same += ok
            by_part = "; ".join(f"{name.split(' (')[0]}: {top(p, i)}" for name, p in split.items())
            print(f"  {r['case_id']:4} {'same' if ok else 'DIFFERS':8} {top(shown, i)!s:34} control "
                  f"{r['same_top1_as']}: {top(shown, j)!s:30} {('(' + by_part + ')') if by_part else ''}")
        print(f"  same top diagnosis as the control: {same} of {len(paired)}")
        found = expert_for(bundle)
        if found is None:
            continue
        expert = found[0]
        read_ok = read_n = 0
        for r in rows:
            present, absent = expert.findings(r["note"])
            absent_text = " | ".join(absent).lower()
            for w in _words(r["must_read_absent"]):
                read_n += 1
                if w in absent_text:
                    read_ok += 1
                else:
                    print(f"  {r['case_id']:4} expert did not read '{w}' as absent (absent: {', '.join(absent) or '-'};"
                          f" present: {', '.join(present) or '-'})")
            for w in _words(r["must_not_read_absent"]):
                read_n += 1
                if w in absent_text:
                    print(f"  {r['case_id']:4} expert read '{w}' as absent")
                else:
                    read_ok += 1
        print(f"  expert's assertion reading as required: {read_ok} of {read_n} words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
