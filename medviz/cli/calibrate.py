"""`python -m medviz calibrate BUNDLE --cases FILE`: recalibrate a network x knowledge-base expert bundle in place.

Fits the product's temperature on the calibration cases and recomputes the conformal and out-of-scope
thresholds there (medviz.text.recalibrate). With ``--training-file`` the cases are the bundle's whole
training file and the calibration split is drawn again exactly as ``train text`` drew it; with ``--test``
the test metrics and ``test_predictions.csv`` are recomputed as well. With ``--rebuild-expert KB_DIR`` the
bundle's knowledge-base expert is first rebuilt from that knowledge base and the current synonym and
clinician-findings tables (medviz.text.synth.expert, the code ``train text --kb`` uses), so better phrase tables
reach a shipped bundle without retraining its network; ``--version`` and ``--change`` record it in the manifest.
With ``--tune-expert-weight CASES`` (repeatable) the expert's weight in the product is chosen again on those
development cases before the temperature is fitted; ``--denied-not-evidence yes`` makes a denied finding no evidence
(the network reads each text without the findings the expert reads as denied, the expert gives them no likelihood:
medviz.text.synth.bayes.denied_not_evidence).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from medviz.errors import InputError


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from medviz.bundle import read_manifest
    from medviz.io import read_labelled
    from medviz.text.recalibrate import calibration_split, recalibrate_bundle
    from medviz.text.train import clean_labelled_text

    cols = [args.text_column, args.label_column]
    if args.rebuild_expert:
        from medviz.text.synth.expert import replace_expert

        import sys

        command = "python -m medviz " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("__main__.py") else None
        done = replace_expert(args.model_dir, args.rebuild_expert, args.version, args.change, command)
        print(f"knowledge-base expert rebuilt: {done['phrases_before']} -> {done['phrases_after']} phrases")
    elif args.version or args.change:
        raise InputError("--version and --change go with --rebuild-expert (what changed in the bundle)")
    if args.denied_not_evidence is not None:
        from medviz.text.recalibrate import set_denied_not_evidence

        set_denied_not_evidence(args.model_dir, args.denied_not_evidence == "yes")
    if args.tune_expert_weight:
        import pandas as pd

        from medviz.text.recalibrate import retune_expert_weight

        dev = pd.concat([clean_labelled_text(read_labelled(f, cols), args.text_column, args.label_column)
                         for f in args.tune_expert_weight], ignore_index=True)
        search = retune_expert_weight(args.model_dir, dev, ", ".join(Path(f).name for f in args.tune_expert_weight))
        grid = ", ".join(f"{r['weight']:g}: {r['top3']:.1%}" for r in search["grid"])
        print(f"knowledge-base expert weight {search['chosen']:g} on {search['n_cases']} development cases "
              f"(top-3 by weight: {grid})")
    manifest = read_manifest(args.model_dir)
    cal = calibration_split(read_labelled(args.cases, cols), manifest, args.text_column, args.label_column,
                            args.training_file)
    test = clean_labelled_text(read_labelled(args.test, cols), args.text_column, args.label_column) if args.test else None
    fitted_on = args.fitted_on or ("calibration split" if args.training_file else f"calibration cases ({Path(args.cases).name})")
    out = recalibrate_bundle(args.model_dir, cal, test, fitted_on=fitted_on)
    print(f"product temperature {out['temperature']:.4f} on {out['n']} cases: calibration ECE "
          f"{out['calibration_ece_before']:.3f} -> {out['calibration_ece_after']:.3f}")
    if "test_ece_after" in out:
        print(f"test ECE {out['test_ece_before']:.3f} -> {out['test_ece_after']:.3f}")
    return 0


def add_parser(sub) -> None:
    """Register this command on the top-level subparsers."""
    ca = sub.add_parser("calibrate", help="fit the temperature of a network x knowledge-base expert bundle in place")
    ca.add_argument("model_dir")
    ca.add_argument("--cases", required=True, help="calibration cases (.csv or .jsonl), never trained on")
    ca.add_argument("--training-file", action="store_true",
                    help="--cases is the bundle's training file: draw its calibration split again (manifest seed and size)")
    ca.add_argument("--test", help="test cases (.csv or .jsonl): recompute the test metrics and test_predictions.csv")
    ca.add_argument("--text-column", default="text")
    ca.add_argument("--label-column", default="label")
    ca.add_argument("--fitted-on", help="what the manifest says the temperature was fitted on")
    ca.add_argument("--rebuild-expert", metavar="KB_DIR",
                    help="first rebuild the bundle's knowledge-base expert from this knowledge base and the current "
                         "synonym / clinician-findings tables (the network is not retrained)")
    ca.add_argument("--denied-not-evidence", choices=("yes", "no"),
                    help="yes: a denied finding is not evidence: the network reads each text without the findings the "
                         "expert reads as denied and the expert gives them no likelihood (they are still shown as absent); "
                         "recorded in the manifest, before the weight and temperature are fitted")
    ca.add_argument("--tune-expert-weight", metavar="CASES", action="append",
                    help="development cases (.csv or .jsonl, repeatable; every row is used): choose the knowledge-base "
                         "expert's weight again on them (the rule of train text --kb-tune), before the temperature is fitted")
    ca.add_argument("--version", help="with --rebuild-expert: the bundle's new version")
    ca.add_argument("--change", help="with --rebuild-expert: a changelog line for the manifest")
    ca.set_defaults(func=_cmd_calibrate)
