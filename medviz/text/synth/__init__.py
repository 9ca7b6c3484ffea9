"""Synthetic cases from a symptom/condition knowledge base (SymCat's format): :mod:`.kb` reads and
checks it, :mod:`.generate` draws and renders cases, :mod:`.command` is ``python -m medviz synth``."""
from medviz.text.synth.generate import REGISTERS, CaseGenerator, SynthCase, load_synonyms, write_cases_jsonl
from medviz.text.synth.kb import KnowledgeBase, KnowledgeBaseError, load_knowledge_base, parse_knowledge_base

__all__ = ["REGISTERS", "CaseGenerator", "KnowledgeBase", "KnowledgeBaseError", "SynthCase", "load_knowledge_base",
           "load_synonyms", "parse_knowledge_base", "write_cases_jsonl"]
