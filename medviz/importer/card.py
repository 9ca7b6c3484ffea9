"""The model card's "Imported model" section: where the model came from and what medviz computed."""
from __future__ import annotations

from medviz.bundle import ModelBundle


def import_section(bundle: ModelBundle):
    """A card Section for an imported bundle (None for a model medviz trained)."""
    from medviz.modelcard.card import Block, Section

    imp = bundle.manifest.get("import")
    if not imp:
        return None
    rows = [
        ("Original file", f"{imp.get('source_file', '?')} ({imp.get('source_format', '?')})"),
        ("Original file SHA-256", str(imp.get("source_sha256", "?"))),
        ("Imported by", str(imp.get("imported_by", "?"))),
        ("Imported at (UTC)", str(imp.get("imported_at", "?"))),
        ("Labelled file", f"{imp.get('data_file') or '?'} (SHA-256 {str(imp.get('data_sha256') or '?')[:16]}…)"),
        ("Rows (calibration / test)", f"{(imp.get('rows') or {}).get('calibration', '?')} / {(imp.get('rows') or {}).get('test', '?')}"),
    ]
    tok = imp.get("tokenizer")
    if tok:
        rows.append(("Tokenizer", f"{tok.get('file')}: {tok.get('words_known')} words, OOV token {tok.get('oov_token')!r}, "
                                  f"pad_sequences(maxlen={tok.get('sequence_length')}, padding={tok.get('padding')!r}, "
                                  f"truncating={tok.get('truncating')!r}), reproduced inside the bundle's graph"))
    computed = list(imp.get("computed_at_import") or [])
    text = ("This model was trained outside medviz and imported unchanged: medviz added the tokenizer (if any), "
            "calibration and the thresholds below, fitted on the calibration part of the labelled file, and measured "
            "every figure on this card on the test part, which was not used for any fitting. How the model was trained, "
            "on which data, and whether the labelled file overlaps its training data is not known to medviz.")
    blocks = (Block("facts", rows), Block("text", text), Block("list", computed or ["nothing recorded"]))
    return Section("import", "Imported model: provenance", blocks, "M1, M3, M8")
