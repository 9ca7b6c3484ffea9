"""`python -m medviz import MODEL_FILE --task text|tabular ...` (the arguments and handler live in
:mod:`medviz.importer.cli`, beside the importer)."""
from __future__ import annotations


def add_parser(sub) -> None:
    from medviz.importer.cli import add_parser as add_import_parser

    add_import_parser(sub)
