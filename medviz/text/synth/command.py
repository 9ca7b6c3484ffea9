"""``python -m medviz synth --kb DIR --per-condition N --seed S --out cases.jsonl``."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    sy = sub.add_parser("synth", help="generate synthetic cases (JSONL) from a symptom/condition knowledge base")
    sy.add_argument("--kb", required=True, help="folder with conditions.json and symptoms.json (SymCat's format)")
    sy.add_argument("--per-condition", type=int, required=True, help="cases per condition")
    sy.add_argument("--seed", type=int, default=42)
    sy.add_argument("--out", required=True, help="JSONL file to write (text, label, condition, register, age, sex, ...)")
    sy.add_argument("--synonyms", help="synonym table (default: medviz/text/synth/synonyms.json)")
    sy.add_argument("--registers", default="patient,shorthand,vignette", help="comma-separated registers to render")
    sy.add_argument("--language", default="en",
                    help="language(s) of the cases: en, zh (Simplified Chinese, medviz/text/synth/zh.json) or en,zh "
                         "(each language's cases in turn, N per condition each)")
    sy.add_argument("--sparse-share", type=float, default=0.3, help="share of cases with only 1-2 findings")
    sy.add_argument("--screening-share", type=float, default=0.5,
                    help="share of cases that also deny some of the knowledge base's most prevalent symptoms")
    sy.add_argument("--long-share", type=float, default=0.7,
                    help="share of English cases with past, drug and family history (long notes)")
    sy.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from medviz.text.synth import CaseGenerator, load_knowledge_base, load_synonyms, write_cases_jsonl

    kb = load_knowledge_base(args.kb)
    cases = []
    for language in (x.strip() for x in args.language.split(",") if x.strip()):
        gen = CaseGenerator(kb, synonyms=load_synonyms(args.synonyms) if args.synonyms else None,
                            registers=tuple(r.strip() for r in args.registers.split(",") if r.strip()),
                            sparse_share=args.sparse_share, language=language,
                            screening_share=args.screening_share, long_share=args.long_share)
        cases += gen.generate(args.per_condition, args.seed)
    write_cases_jsonl(cases, args.out)
    print(f"wrote {len(cases)} cases for {len(kb.conditions)} conditions -> {args.out}")
    return 0
