"""The 801-condition differential (issue 15) on cases unlike the generator's; prints figures for the model card.

    python benchmarks/differential.py [--model models/differential-801] [--small models/symptom-diagnosis]
                                      [--csv-rows 20000] [--repeats 5] [--no-speed | --speed-only]
                                      [--baseline DIR] [--kb ../shared/data/symcat] [--final-holdout]

Prints top-1/3/5/10 on:
  * benchmarks/data/clinician_vignettes.csv: the development part (looked at while choosing settings),
    the final part (held out: scored only once the settings were fixed) and both;
  * benchmarks/data/clinician_vignettes_holdout.csv: 60 vignettes written on 2026-11-30 before the 2.1.0
    retrain was scored, looked at only once a release was chosen on the sets above;
  * benchmarks/data/clinician_vignettes_holdout2.csv: 134 vignettes (110 can't-miss, 24 controls) written and
    committed before 2.2.0's phrase-table work, scored once when it was done;
  * benchmarks/data/clinician_vignettes_holdout3.csv: 140 longer vignettes written before 2.4.0's reading work,
    held back until 2.4.0 was chosen and scored once (session 8); development data since;
  * benchmarks/data/clinician_vignettes_holdout4.csv: 150 long notes held back until 2.5.0 was chosen and scored
    once (session 9); development data since;
  * benchmarks/data/clinician_vignettes_holdout5.csv: 150 long notes held back until red flags were added to 2.5.0
    and scored once (session 10); development data since;
  * benchmarks/data/clinician_vignettes_holdout6.csv: 150 short, medium and long cases held back until 2.6.0 was
    chosen and scored once (session 11); development data since;
  * benchmarks/data/clinician_vignettes_holdout7.csv (when present): the next held-back set: only --final-holdout
    scores it, once a release has been chosen on the sets above;
  * the bundle's synthetic test split (test_predictions.csv: generated with another seed);
  * the shipped robustness set (tests/data/robustness.jsonl), its 22-label cases mapped to SymCat names
    and its other cases labelled by benchmarks/data/robustness_801_labels.csv;
  * the 22-condition bundle on the cases whose diagnosis it knows (its own labels), beside the 801 model
    on the same cases;
then can't-miss recall (vignettes whose diagnosis is on the can't-miss list: named by the can't-miss
line or in the top 5; --misses lists the missed ones) and speed: one case (probabilities + attention, median of --repeats x 20 calls)
and CSV scoring of --csv-rows distinct texts (cases/s and CPU ms per 1,000 cases, median of --repeats runs) beside
the raw model pass, then the stages of the CSV path one after another on one chunk (where the time goes),
each in a fresh process, alternating with --baseline DIR (another checkout, e.g. the previous release:
``mkdir /tmp/base && git archive ce3d10f | tar -x -C /tmp/base``) timed in the same run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
# the code measured: this checkout, or (in a --measure subprocess for --baseline) the baseline's checkout
sys.path.insert(0, os.environ.get("MEDVIZ_BENCH_CODE", str(ROOT)))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

KS = (1, 3, 5, 10)
DATA = ROOT / "benchmarks" / "data"


def hits_at(probs: np.ndarray, labels: list[str], truth: list[set[str]], k: int) -> np.ndarray:
    """True where any acceptable label of a case is among its k most probable labels."""
    index = {lab: j for j, lab in enumerate(labels)}
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return np.array([any(index[t] in row for t in ts if t in index) for row, ts in zip(top, truth)])


def topk_row(name: str, probs: np.ndarray, labels: list[str], truth: list[set[str]]) -> str:
    cells = "".join(f"{hits_at(probs, labels, truth, k).mean():8.1%}" for k in KS)
    return f"{name:66}{len(truth):>5}{cells}"


def header() -> str:
    return f"{'':66}{'n':>5}" + "".join(f"{'top-' + str(k):>8}" for k in KS)


def robustness_cases() -> tuple[list[str], list[set[str]], list[str]]:
    """(texts, acceptable SymCat labels, 22-label or '') for the robustness cases with a SymCat diagnosis."""
    df = pd.read_json(ROOT / "tests" / "data" / "robustness.jsonl", lines=True, dtype=False)
    m = pd.read_csv(DATA / "robustness_801_labels.csv", dtype=str)
    by_label = {r.key: set(r.labels_801.split(";")) for r in m[m.kind == "label"].itertuples()}
    by_row = {int(r.key): {r.labels_801} for r in m[m.kind == "row"].itertuples()}
    texts, truth, small = [], [], []
    for i, r in df.iterrows():
        ts = by_label.get(r["label"]) if r["in_scope"] else by_row.get(i)
        if ts:
            texts.append(str(r["text"]))
            truth.append(ts)
            small.append(r["label"] if r["in_scope"] else "")
    return texts, truth, small


def probabilities(predictor, texts: list[str]) -> np.ndarray:
    """What the product shows: network x knowledge-base expert when the bundle has one."""
    from medviz.text.analyse import analyse_batch

    return analyse_batch(predictor, texts)[0]


def parts(predictor, texts: list[str]) -> dict[str, np.ndarray]:
    """Each part on its own: the network alone and the knowledge-base expert alone (when the bundle has one)."""
    from scipy.special import softmax

    from medviz.text.analyse import SafetyConfig
    from medviz.text.preprocess import apply_preprocessing
    from medviz.text.synth.bayes import expert_for, expert_log_scores, network_inputs

    kind = SafetyConfig.from_manifest(predictor.bundle.manifest).preprocessing
    # the network as the product runs it (without the denied findings when the bundle says so)
    out = {"network only": predictor.predict(apply_preprocessing(kind, network_inputs(predictor.bundle, texts))).probabilities}
    found = expert_for(predictor.bundle)
    if found is not None:
        out[f"knowledge-base expert only (weight {found[1]:g} in the product)"] = softmax(expert_log_scores(predictor.bundle, texts), axis=1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "differential-801"))
    ap.add_argument("--small", default=str(ROOT / "models" / "symptom-diagnosis"), help="the 22-condition bundle")
    ap.add_argument("--csv-rows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--misses", action="store_true", help="list the can't-miss cases missed (id, diagnosis, rank)")
    ap.add_argument("--speed-only", action="store_true")
    ap.add_argument("--final-holdout", action="store_true",
                    help="also score clinician_vignettes_holdout7.csv (when present), held back until a release is chosen on the "
                         "other sets (off by default, so that nobody tuning a release sees it)")
    shared = next((d / "shared" for d in (ROOT.parent, ROOT.parent.parent) if (d / "shared" / "data").is_dir()), ROOT.parent / "shared")
    ap.add_argument("--kb", default=str(shared / "data" / "symcat"),
                    help="knowledge base for the generated speed cases (default: ../shared/data/symcat)")
    ap.add_argument("--baseline", help="another checkout (e.g. git archive ce3d10f | tar -x -C DIR) timed in the same run")
    ap.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one speed run on this CSV, JSON on stdout
    args = ap.parse_args(argv)
    if args.measure:
        import json

        print(json.dumps(measure_speed(args.model, args.measure, args.repeats)))
        return 0
    if args.speed_only:
        vig = pd.read_csv(DATA / "clinician_vignettes.csv", dtype=str)
        speed(args.model, vig["text"].tolist(), args.csv_rows, args.repeats, args.kb, args.baseline)
        return 0

    from medviz.bundle import load_bundle
    from medviz.runtime import configure_tensorflow
    from medviz.text.cant_miss import cant_miss, load_rule
    from medviz.text.predict import TextPredictor

    configure_tensorflow()
    bundle = load_bundle(args.model)
    labels = bundle.labels
    predictor = TextPredictor.from_bundle(bundle)
    print(f"bundle {bundle.name} {bundle.version}: {len(labels)} conditions; preprocessing "
          f"{(bundle.manifest.get('preprocessing') or {}).get('kind')}")
    print()
    print(header())

    vig = pd.read_csv(DATA / "clinician_vignettes.csv", dtype=str)
    missing = sorted(set(vig["label"]) - set(labels))
    if missing:
        print(f"vignette labels not in the bundle (counted as misses): {', '.join(missing)}")
    vp = probabilities(predictor, vig["text"].tolist())
    vparts = parts(predictor, vig["text"].tolist())
    for part in ("development", "final"):
        sel = (vig["split"] == part).to_numpy()
        truth = [{t} for t in vig.loc[sel, "label"]]
        print(topk_row(f"clinician vignettes, {part}", vp[sel], labels, truth))
        for name, pp in vparts.items():
            print(topk_row(f"  {name}", pp[sel], labels, truth))
    print(topk_row("clinician vignettes, all", vp, labels, [{t} for t in vig["label"]]))
    hold = pd.read_csv(DATA / "clinician_vignettes_holdout.csv", dtype=str)  # untouched until a release is fixed
    hp = probabilities(predictor, hold["text"].tolist())
    print(topk_row("clinician vignettes, holdout (written 2026-11-30)", hp, labels, [{t} for t in hold["label"]]))
    for name, pp in parts(predictor, hold["text"].tolist()).items():
        print(topk_row(f"  {name}", pp, labels, [{t} for t in hold["label"]]))
    # written and committed before 2.2.0's table work, never looked at while it was done: scored once per release
    hold2 = pd.read_csv(DATA / "clinician_vignettes_holdout2.csv", dtype=str)
    h2p = probabilities(predictor, hold2["text"].tolist())
    h2truth = [{t} for t in hold2["label"]]
    print(topk_row("clinician vignettes, holdout2 (written before 2.2.0's tables)", h2p, labels, h2truth))
    for name, pp in parts(predictor, hold2["text"].tolist()).items():
        print(topk_row(f"  {name}", pp, labels, h2truth))

    # holdout3: written before 2.4.0's reading work and held back until 2.4.0 was chosen; scored once (session 8),
    # development data since (long notes: its figures are the ones to improve)
    held: dict[str, tuple] = {}  # name -> (frame, probabilities, truth)
    sets = [("holdout3", "clinician vignettes, holdout3 (long notes; development since 2.4.0)", True),
            ("holdout4", "clinician vignettes, holdout4 (long notes; development since 2.5.0)", True),
            ("holdout5", "clinician vignettes, holdout5 (long notes; development since red flags)", True),
            ("holdout6", "clinician vignettes, holdout6 (mixed lengths; development since 2.6.0)", True)]
    # holdout7 (when one is written): cases for the next release, held back: scored only with --final-holdout, once a
    # release has been chosen on the sets above (benchmarks/data/README.md)
    sets.append(("holdout7", "clinician vignettes, holdout7 (held back until a release is chosen)", args.final_holdout))
    for key, title, scored in sets:
        path = DATA / f"clinician_vignettes_{key}.csv"
        if not path.exists():
            continue
        if not scored:
            print(f"{'clinician vignettes, ' + key + ': held back (--final-holdout scores it)':66}{'':>5}")
            continue
        frame = pd.read_csv(path, dtype=str)
        hp_, truth_ = probabilities(predictor, frame["text"].tolist()), [{t} for t in frame["label"]]
        held[key] = (frame, hp_, truth_)
        print(topk_row(title, hp_, labels, truth_))
        for name, pp in parts(predictor, frame["text"].tolist()).items():
            print(topk_row(f"  {name}", pp, labels, truth_))

    tp = bundle.test_predictions
    if tp is not None:
        cols = [f"prob_{lab}" for lab in labels]
        print(topk_row("synthetic test split (generator, other seed)", tp[cols].to_numpy(float), labels,
                       [{t} for t in tp["y_true"].astype(str)]))
        test = (bundle.manifest.get("metrics") or {}).get("test") or {}
        for part in ("network_only", "knowledge_base_only"):
            if part in test:
                print(f"  {part.replace('_', ' '):64}{test['n']:>5}{test[part]['top1_accuracy']:8.1%}"
                      f"{test[part]['top3_accuracy']:8.1%}   (top-1/3 from the manifest)")

    rtexts, rtruth, rsmall = robustness_cases()
    rp = probabilities(predictor, rtexts)
    ins = np.array([bool(s) for s in rsmall])
    print(topk_row("robustness set, all cases with a SymCat diagnosis", rp, labels, rtruth))
    for name, pp in parts(predictor, rtexts).items():
        print(topk_row(f"  {name}", pp, labels, rtruth))
    print(topk_row("robustness set, its 22-condition cases", rp[ins], labels, [t for t, i in zip(rtruth, ins) if i]))
    print(topk_row("robustness set, its other cases", rp[~ins], labels, [t for t, i in zip(rtruth, ins) if not i]))

    small = None
    if args.small and Path(args.small).exists():
        from medviz.errors import MedvizError

        try:
            small = load_bundle(args.small)
        except MedvizError as exc:
            print(f"  (22-condition bundle not compared: {exc})")
    if small is not None:
        sp = TextPredictor.from_bundle(small)
        s_texts = [t for t, s in zip(rtexts, rsmall) if s]
        s_truth = [{s} for s in rsmall if s]
        print(topk_row(f"  {small.name} (22 conditions) on those 22-condition cases", probabilities(sp, s_texts),
                       small.labels, s_truth))
        m = pd.read_csv(DATA / "robustness_801_labels.csv", dtype=str)
        back = {name: r.key for r in m[m.kind == "label"].itertuples() for name in r.labels_801.split(";")}
        known = vig["label"].isin(back).to_numpy()
        for part in ("development", "final", None):  # the in-scope vignettes of each split, then all
            vsel = known & ((vig["split"] == part).to_numpy() if part else True)
            if not vsel.any():
                continue
            name = f"clinician vignettes{', ' + part if part else ''} whose diagnosis {small.name} knows"
            print(topk_row(name, vp[vsel], labels, [{t} for t in vig.loc[vsel, "label"]]))
            print(topk_row(f"  {small.name} (22 conditions) on them", probabilities(sp, vig.loc[vsel, "text"].tolist()),
                           small.labels, [{back[t]} for t in vig.loc[vsel, "label"]]))

    rule = load_rule()
    listed = {c.casefold() for c, _, _ in rule.conditions}
    print()
    print(f"can't-miss recall ({rule.wording()}): named by the can't-miss line or in the top 5")
    ids = {"clinician vignettes": vig["id"].tolist(), "clinician vignettes, holdout": hold["id"].tolist(),
           "clinician vignettes, holdout2": hold2["id"].tolist()}  # the robustness set: 0-based case numbers
    recall_sets = [("clinician vignettes", vig["text"].tolist(), [{t} for t in vig["label"]], vp),
                   ("clinician vignettes, holdout", hold["text"].tolist(), [{t} for t in hold["label"]], hp),
                   ("clinician vignettes, holdout2", hold2["text"].tolist(), h2truth, h2p),
                   ("robustness set", rtexts, rtruth, rp)]
    for key, (frame, hp_, truth_) in held.items():
        ids[f"clinician vignettes, {key}"] = frame["id"].tolist()
        recall_sets.append((f"clinician vignettes, {key}", frame["text"].tolist(), truth_, hp_))
    from medviz.text.red_flags import load_red_flags

    red = load_red_flags()
    print("  (the line as the product shows it: the rule, or a red flag in the note, medviz/text/red_flags.json; "
          "'by the rule alone' is the line without red flags)")
    for name, texts, truth, probs in recall_sets:
        sel = [i for i, ts in enumerate(truth) if any(t.casefold() in listed for t in ts)]
        top5 = hits_at(probs[sel], labels, [truth[i] for i in sel], 5)
        flags = red.raised_all(texts)
        named = np.array([any(h.label in truth[i] for h in cant_miss(labels, probs[i], rule, flags[i])) for i in sel])
        by_rule = np.array([any(h.label in truth[i] for h in cant_miss(labels, probs[i], rule)) for i in sel])
        print(f"  {name}: {len(sel)} can't-miss cases; named by the line {named.mean():.1%}, in the top 5 "
              f"{top5.mean():.1%}, either {(named | top5).mean():.1%} ({int((named | top5).sum())}/{len(sel)}); "
              f"by the rule alone or in the top 5 {int((by_rule | top5).sum())}/{len(sel)}")
        flagged = np.array([bool(cant_miss(labels, probs[i], rule, flags[i])) for i in range(len(truth))])
        raised = np.array([bool(f) for f in flags])
        other = np.array([i not in set(sel) for i in range(len(truth))])
        print(f"  {name}: a can't-miss line is shown for {flagged.mean():.1%} of all {len(truth)} cases"
              + (f", {flagged[other].mean():.1%} of the {int(other.sum())} whose diagnosis is not on the list" if other.any() else "")
              + f"; a red flag is raised on {raised.mean():.1%}"
              + (f" ({raised[other].mean():.1%} of those not on the list)" if other.any() else ""))
        if args.misses:  # which can't-miss cases were missed, and where their diagnosis ranked
            for k, i in enumerate(sel):
                if not (named[k] or top5[k]):
                    rank = min(int((probs[i] > probs[i][labels.index(t)]).sum()) + 1 for t in truth[i] if t in labels)
                    print(f"    missed {ids.get(name, list(range(len(truth))))[i]}: {sorted(truth[i])[0]} at rank {rank}")

    if not args.no_speed:
        speed(args.model, vig["text"].tolist(), args.csv_rows, args.repeats, args.kb, args.baseline)
    return 0


def speed_texts(vignettes: list[str], rows: int, kb: str | None) -> list[str]:
    """``rows`` distinct case texts: the vignettes, then cases generated from the knowledge base (seed 7;
    their registers are the generator's), so deduplication inside the pipeline does not flatter the figure."""
    texts = list(dict.fromkeys(vignettes))
    if kb and Path(kb).is_dir() and len(texts) < rows:
        from medviz.text.synth import CaseGenerator, load_knowledge_base

        knowledge = load_knowledge_base(kb)
        per = -(-(rows - len(texts)) // len(knowledge.conditions))
        texts += list(dict.fromkeys(c.text for c in CaseGenerator(knowledge).generate(per, seed=7)))
    return texts[:rows]


def _cpu_with_children() -> float:
    """CPU seconds of this process (all threads), of its ended child processes and of the live ones (psutil): the
    preparing worker, which score_csv stops before it returns when it built the scorer and keeps running between
    calls with a scorer passed in (as here)."""
    import resource

    import psutil

    live = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            t = child.cpu_times()
            live += t.user + t.system
        except psutil.Error:  # ended (then counted by RUSAGE_CHILDREN once reaped)
            pass
    return (time.process_time() + live
            + sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), f) for f in ("ru_utime", "ru_stime")))


def measure_speed(model: str, csv_path: str, repeats: int) -> dict:
    """One case (TextPredictor.predict with attention; whole analyse_case), score_csv on ``csv_path`` (column
    ``note``; the scorer built once), the whole ``score`` command once, and the stages of one chunk
    (:func:`stage_times`), with the code importable as ``medviz`` (this checkout or --baseline's)."""
    import medviz
    from medviz.bundle import load_bundle
    from medviz.runtime import configure_tensorflow
    from medviz.scoring import score_csv
    from medviz.text.analyse import analyse_case
    from medviz.text.predict import TextPredictor

    configure_tensorflow()
    bundle = load_bundle(model)
    predictor = TextPredictor.from_bundle(bundle)
    frame = pd.read_csv(csv_path, dtype={"note": str})
    texts = frame["note"].tolist()
    for t in texts[:3]:
        analyse_case(predictor, t)
    one, full = [], []
    for _ in range(repeats):
        for t in texts[:20]:
            t0 = time.perf_counter()
            predictor.predict([t])
            one.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            analyse_case(predictor, t)
            full.append(time.perf_counter() - t0)
    from medviz.scoring import make_scorer

    raw, piped, cpu, cli = [], [], [], []
    # built once, as the CLI does per run (building it traces the model's graphs: ~1-3 s, a fixed cost per file
    # that the end-to-end CLI figure below includes)
    scorer = make_scorer(bundle, text_column="note", predictor=predictor)
    import inspect

    # as the CLI runs it (`python -m medviz score`): the preparing worker process where this checkout has one (a
    # script run by path, like this one, only gets it when it asks); since session 9 the scorer keeps its worker
    # between calls, as it keeps its traced graphs (the CLI figure pays both once per file)
    kw = {"prepare_processes": 1} if "prepare_processes" in inspect.signature(score_csv).parameters else {}
    with tempfile.TemporaryDirectory() as d:
        score_csv(bundle, csv_path, Path(d) / "out.csv", scorer=scorer, **kw)  # first call: one-time tables (writer)
        for _ in range(repeats):
            t0 = time.perf_counter()
            predictor.predict(texts, attention=False)
            raw.append(time.perf_counter() - t0)
            t0, c0 = time.perf_counter(), _cpu_with_children()
            score_csv(bundle, csv_path, Path(d) / "out.csv", scorer=scorer, **kw)
            piped.append(time.perf_counter() - t0)
            cpu.append(_cpu_with_children() - c0)
        import subprocess

        t0 = time.perf_counter()  # the whole command: Python and TensorFlow start, bundle load, graph tracing, scoring
        subprocess.run([sys.executable, "-m", "medviz", "score", model, csv_path, "-o", str(Path(d) / "cli.csv"),
                        "--text-column", "note"], check=True, capture_output=True)
        cli.append(time.perf_counter() - t0)
    n = len(texts)
    return {"one_case_ms": float(np.median(one) * 1e3), "one_case_p95_ms": float(np.percentile(one, 95) * 1e3),
            "analyse_case_ms": float(np.median(full) * 1e3), "csv_cases_per_s": float(n / np.median(piped)),
            "csv_cpu_ms_per_1000": float(np.median(cpu) / n * 1e6), "cli_s": float(np.median(cli)),
            "raw_cases_per_s": float(n / np.median(raw)), "rows": n, "code": str(Path(medviz.__file__).resolve().parents[1]),
            "stages": stage_times(bundle, predictor, csv_path, repeats)}


# The stages of score_csv on one chunk, run one after another (score_csv overlaps them in three threads):
# (name, what it covers). Every function named exists in this checkout and in the baselines compared.
STAGES = (
    ("read", "medviz.io.iter_csv_chunks: the CSV into a string chunk"),
    ("prepare", "TextScorer.prepare: input checks, preprocessing (and, where prepare does it, the expert's reading)"),
    ("score", "score_frame: TextScorer.score on the prepared chunk (model, expert, safety and text columns)"),
    ("  model", "  of which TextPredictor.predict over the texts, no attention"),
    ("  expert reading", "  of which KnowledgeBaseBayes.log_scores (where prepare did not do it already)"),
    ("  network x expert", "  of which bayes.combine (product of experts)"),
    ("  conformal sets", "  of which conformal.prediction_sets"),
    ("  out-of-scope", "  of which the detector's score"),
    ("  prediction_set text", "  of which TextBatch.prediction_set_texts"),
    ("  cant_miss", "  of which cant_miss.cant_miss_column"),
    ("for_csv + neutralise", "TextScorer.for_csv (6 decimals) and medviz.io.neutralize_formulas"),
    ("render + write", "medviz.scoring.render.write_csv_chunk into memory"),
)


def stage_times(bundle, predictor, csv_path: str, repeats: int) -> dict[str, float]:
    """Median seconds of each stage in :data:`STAGES` on the first chunk of ``csv_path`` (run one after another)."""
    import io

    from medviz.io import iter_csv_chunks, neutralize_formulas
    from medviz.scoring import make_scorer
    from medviz.scoring.csv_pipeline import score_frame
    from medviz.scoring.render import write_csv_chunk
    from medviz.text.analyse import analyse_prepared
    from medviz.text.cant_miss import cant_miss_column
    from medviz.text.conformal import prediction_sets
    from medviz.text.synth.bayes import combine, expert_for, product_temperature

    scorer = make_scorer(bundle, text_column="note", predictor=predictor)
    found = expert_for(bundle)
    times: dict[str, list[float]] = {name: [] for name, _ in STAGES}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name].append(time.perf_counter() - t0)
        return out

    for _ in range(repeats):
        chunk = timed("read", lambda: next(iter(iter_csv_chunks(csv_path, chunksize=scorer.chunksize, bad_lines="report"))))
        prepared = timed("prepare", lambda: scorer.prepare(chunk))
        scored = timed("score", lambda: score_frame(scorer, chunk, prepared))
        ok = prepared.ok
        rows = np.flatnonzero(ok)
        read = [prepared.preprocessed[i].model_text for i in rows]
        pred = timed("  model", lambda: predictor.predict(read, attention=False))
        if found is not None and getattr(prepared, "expert_log", None) is None:
            log = timed("  expert reading", lambda: found[0].log_scores([prepared.texts[i] for i in rows]))
        else:
            times["  expert reading"].append(0.0)
            log = getattr(prepared, "expert_log", None)
        shown = pred.probabilities
        if found is not None:
            shown = timed("  network x expert", lambda: combine(pred.probabilities, log, found[1], product_temperature(bundle)))
        if scorer.safety.conformal is not None:
            timed("  conformal sets", lambda: prediction_sets(shown, scorer.safety.conformal))
        if scorer.safety.detector is not None:
            timed("  out-of-scope", lambda: scorer.safety.detector.score(pred.logits, pred.unknown if pred.unknown is not None else np.zeros(len(read))))
        batch = analyse_prepared(predictor, prepared, cfg=scorer.safety)
        timed("  prediction_set text", batch.prediction_set_texts)
        timed("  cant_miss", lambda: cant_miss_column(scorer.labels, batch.probabilities))
        view = timed("for_csv + neutralise", lambda: neutralize_formulas(scorer.for_csv(scored)))
        timed("render + write", lambda: write_csv_chunk(view, io.BytesIO(), header=True))
    return {name: float(np.median(ts)) if ts else 0.0 for name, ts in times.items()} | {"chunk_rows": len(chunk)}


def speed(model: str, texts: list[str], rows: int, repeats: int, kb: str | None, baseline: str | None) -> None:
    """Speed of this checkout beside ``baseline`` (another checkout, e.g. ``git archive ce3d10f``), measured in
    the same run on the same file, alternating: baseline, this, baseline, this (medians of each)."""
    import json
    import subprocess

    def load() -> str:
        return os.popen("uptime").read().strip().split("load average:")[-1].strip()

    print()
    cases = speed_texts(texts, rows, kb)
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.csv"
        pd.DataFrame({"note": cases, "id": np.arange(len(cases))}).to_csv(src, index=False)
        runs: dict[str, list[dict]] = {"this checkout": []}
        sides = [("this checkout", ROOT, model)]
        if baseline:
            runs = {"baseline " + Path(baseline).name: [], **runs}
            sides.insert(0, ("baseline " + Path(baseline).name, Path(baseline).resolve(),
                             str(Path(baseline).resolve() / "models" / Path(model).name)))
        print(f"speed on {len(cases):,} distinct texts ({min(len(cases), len(dict.fromkeys(texts)))} vignettes, the rest "
              f"generated), load average before: {load()}")
        for _ in range(2):
            for name, code, bundle in sides:
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", str(src), "--model", bundle, "--repeats", str(repeats)],
                    cwd=code, env={**os.environ, "PYTHONPATH": str(code), "MEDVIZ_BENCH_CODE": str(code)},
                    capture_output=True, text=True, check=True)
                runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
                if not runs[name][-1].pop("code", "").startswith(str(code)):  # the baseline's medviz, not this one
                    raise RuntimeError(f"{name}: measured code outside {code}")
        print(f"load average after: {load()}")
    print(f"{'':28}{'one case ms':>12}{'(p95)':>8}{'analyse_case ms':>17}{'CSV cases/s':>13}{'CPU ms/1000':>13}"
          f"{'raw model/s':>13}{'CLI s':>8}")
    meds = {}
    for name, rs in runs.items():
        med = {k: float(np.median([r[k] for r in rs])) for k in rs[0] if k != "stages"}
        meds[name] = {k: float(np.median([r["stages"][k] for r in rs])) for k in rs[0]["stages"]}
        print(f"{name:28}{med['one_case_ms']:12.1f}{med['one_case_p95_ms']:8.1f}{med['analyse_case_ms']:17.1f}"
              f"{med['csv_cases_per_s']:13,.0f}{med['csv_cpu_ms_per_1000']:13,.0f}{med['raw_cases_per_s']:13,.0f}"
              f"{med['cli_s']:8.1f}")
    print("(CSV: the default contract, one prob_ column per class; `score_csv` with the scorer built once: wall clock "
          "and CPU time (all threads, and the preparing worker process where there is one); CLI s: the whole `python -m medviz score` command on the same file "
          "(process start, bundle load, graph tracing, scoring); each figure the median of 2 alternating runs, each "
          f"run the median of {repeats})")
    print()
    print("stages of score_csv on its first chunk (each side's own chunk size), run one after another, in ms per "
          "1,000 rows (score_csv overlaps read+prepare, score and write in three threads):")
    print(f"{'':24}" + "".join(f"{name[:22]:>24}" for name in meds))
    print(f"{'(chunk rows)':24}" + "".join(f"{m['chunk_rows']:24,.0f}" for m in meds.values()))
    for stage, what in STAGES:
        print(f"{stage:24}" + "".join(f"{m[stage] / m['chunk_rows'] * 1e6:24.1f}" for m in meds.values()) + f"   {what}")
    print(f"{'sum of the stages':24}" + "".join(
        f"{sum(m[s] for s, _ in STAGES if not s.startswith(' ')) / m['chunk_rows'] * 1e6:24.1f}" for m in meds.values()))


if __name__ == "__main__":
    raise SystemExit(main())
